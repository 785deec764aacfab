"""Chat templates (GGUF ``tokenizer.chat_template*``) judged on the syntax tree jinja2 itself builds.

Loaders render these templates with Jinja2 (Hugging Face and llama-cpp-python use jinja2's sandboxed
environment; llama.cpp's own engine follows the same grammar). A byte or regex search is defeated by splitting a
name with ``~`` concatenation or string filters; the parsed tree is not: every attribute access, subscript and
attribute-taking filter is checked on the name it resolves to after constant folding, and a name that can only be
computed at render time is itself the finding. Parsing never renders anything.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any, ClassVar

# Attributes through which a template reaches Python internals, modules or the file system. Names starting with
# an underscore (dunders, private members) are always in this set.
RISKY_ATTRIBUTES = frozenset(
    {"mro", "func_globals", "f_globals", "f_locals", "f_back", "f_builtins", "gi_frame", "gi_code", "cr_frame",
     "ag_frame", "tb_frame", "co_code", "func_code", "im_func", "system", "popen", "popen2", "spawn", "eval", "exec",
     "execfile", "import_module", "subprocess", "os", "builtins", "modules", "getattr", "setattr", "environ",
     "load", "loads", "open", "check_output", "Popen", "run_path"}
)
# Filters whose argument names an attribute to read.
ATTRIBUTE_FILTERS = frozenset({"attr", "map", "selectattr", "rejectattr", "groupby", "sort", "sum", "unique", "min",
                               "max", "dictsort"})
MAX_TEMPLATE = 1 << 20


class TemplateError(ValueError):
    """The template could not be parsed (so it was not judged)."""


@dataclass(frozen=True)
class TemplateIssue:
    """One risky construct: where (template line) and what."""

    line: int
    message: str


def _risky(name: str) -> bool:
    return name.startswith("_") or name in RISKY_ATTRIBUTES


def judge_template(text: str) -> list[TemplateIssue]:
    """Parse ``text`` with jinja2 and return every risky construct; raises :class:`TemplateError`."""
    import jinja2
    from jinja2 import nodes
    from jinja2.ext import Extension, loopcontrols
    from jinja2.sandbox import ImmutableSandboxedEnvironment

    class _Generation(Extension):
        """``{% generation %}...{% endgeneration %}``: Hugging Face's assistant-mask tag, parsed as its body."""

        tags: ClassVar[set[str]] = {"generation"}  # type: ignore[misc]

        def parse(self, parser: jinja2.parser.Parser) -> list[nodes.Node]:
            next(parser.stream)
            return parser.parse_statements(("name:endgeneration",), drop_needle=True)

    if len(text) > MAX_TEMPLATE:
        raise TemplateError(f"template longer than {MAX_TEMPLATE} characters")
    env = ImmutableSandboxedEnvironment(extensions=[loopcontrols, _Generation])
    try:
        tree = env.parse(text)
    except (jinja2.TemplateSyntaxError, RecursionError, MemoryError) as exc:
        raise TemplateError(f"jinja2 cannot parse it: {exc}") from None
    assigned: dict[str, list[object]] = {}
    for node in tree.find_all(nodes.Assign):
        for target in node.target.find_all(nodes.Name) if not isinstance(node.target, nodes.Name) else [node.target]:
            assigned.setdefault(target.name, []).append(node.node)
    return list(_issues(tree, assigned))


_UNKNOWN = object()


def _fold(node: object, assigned: dict[str, list[object]], depth: int = 0) -> object:
    """The string an expression always evaluates to, ``None`` when it is not a string, ``_UNKNOWN`` when it is a
    string (or may be one) computed at render time."""
    from jinja2 import nodes

    if depth > 50:
        return _UNKNOWN
    if isinstance(node, nodes.Const):
        return node.value if isinstance(node.value, str) else None
    if isinstance(node, nodes.Concat):
        parts = [_fold(n, assigned, depth + 1) for n in node.nodes]
        if all(isinstance(p, str) for p in parts):
            return "".join(p for p in parts if isinstance(p, str))
        return _UNKNOWN
    if isinstance(node, nodes.Add):
        left, right = _fold(node.left, assigned, depth + 1), _fold(node.right, assigned, depth + 1)
        if isinstance(left, str) and isinstance(right, str):
            return left + right
        return _UNKNOWN if _UNKNOWN in (left, right) or isinstance(left, str) or isinstance(right, str) else None
    if isinstance(node, nodes.Name):
        values = assigned.get(node.name)
        if not values:
            return None  # a loop variable or a value from the caller (messages, tools...): data, not a name
        folded = [_fold(v, assigned, depth + 1) for v in values]
        if len(folded) == 1 and isinstance(folded[0], str):
            return folded[0]
        return _UNKNOWN if any(f is _UNKNOWN or isinstance(f, str) for f in folded) else None
    if isinstance(node, (nodes.Filter, nodes.Mod, nodes.Call, nodes.CondExpr, nodes.Getattr, nodes.Getitem)):
        return _UNKNOWN  # string operations, formatting, calls: a name built at render time
    return None


def _as_filter(node: object) -> Any:
    """A ``Filter`` node (jinja2's stubs type ``find_all`` results loosely)."""
    return node


def _issues(tree: object, assigned: dict[str, list[object]]) -> Iterator[TemplateIssue]:
    from jinja2 import nodes

    assert isinstance(tree, nodes.Node)
    for node in tree.find_all((nodes.Getattr, nodes.Getitem, nodes.Filter)):
        line = node.lineno
        if isinstance(node, nodes.Getattr):
            if _risky(node.attr):
                yield TemplateIssue(line, f"attribute {node.attr!r} reaches Python internals")
        elif isinstance(node, nodes.Getitem):
            if isinstance(node.arg, nodes.Slice):
                continue
            name = _fold(node.arg, assigned)
            if name is _UNKNOWN and not isinstance(node.arg, (nodes.Getattr, nodes.Getitem)):
                yield TemplateIssue(line, "subscript with a name built at render time (concatenation or filters)")
            elif isinstance(name, str) and _risky(name):
                yield TemplateIssue(line, f"subscript {name!r} reaches Python internals")
        else:
            node = _as_filter(node)
            if node.name not in ATTRIBUTE_FILTERS:
                continue
            candidates = list(node.args[:1]) if node.name in ("attr", "selectattr", "rejectattr") else []
            candidates += [kw.value for kw in node.kwargs if kw.key == "attribute"]
            if node.name == "map" and node.args and not node.kwargs:
                candidates.append(node.args[0])  # map('filtername') names a filter, checked like an attribute
            for arg in candidates:
                name = _fold(arg, assigned)
                if name is _UNKNOWN:
                    yield TemplateIssue(line, f"filter {node.name} takes an attribute name built at render time")
                elif isinstance(name, str) and any(_risky(part) for part in name.split(".")):
                    yield TemplateIssue(line, f"filter {node.name} reads attribute {name!r}")
