"""Small, framework-neutral helpers over a parsed Python module (never imported, never executed).

They resolve names through the module's imports (resolved once by the Python pass), so ``from
fastapi.security import APIKeyHeader as K`` and ``fastapi.security.APIKeyHeader`` read the same, and keep the
module-level assignments, functions and classes that the route reader needs to follow a dependency one or two
steps.
"""

from __future__ import annotations

import ast
from dataclasses import dataclass, field

from mlposture.scanner.sources.python import ParseError, PyModule, module_of_text

MAX_UNPARSE = 4000
MAX_NODES = 200_000


@dataclass
class ModuleIndex:
    """Names of one module: its imports (the pass's :attr:`PyModule.aliases`), module-level calls assigned to
    names, functions and classes."""

    py: PyModule
    imports: dict[str, str] = field(default_factory=dict)
    calls: dict[str, ast.Call] = field(default_factory=dict)
    assigns: dict[str, ast.expr] = field(default_factory=dict)
    functions: dict[str, ast.FunctionDef | ast.AsyncFunctionDef] = field(default_factory=dict)
    classes: dict[str, ast.ClassDef] = field(default_factory=dict)

    _nodes: list[ast.AST] | None = None

    @property
    def path(self) -> str:
        """Path of the module in the repository."""
        return self.py.path

    @property
    def tree(self) -> ast.Module:
        """The module's tree."""
        return self.py.tree

    @property
    def source(self) -> str:
        """The module's text as Python reads its names (for regex searches that report lines)."""
        return self.py.code

    @property
    def nodes(self) -> list[ast.AST]:
        """Every node of the module, breadth-first (capped), computed once.

        Breadth-first on purpose: several readers keep the *first* match (the first agent call, the first
        guard string, the first URL pattern naming a view), and that choice is the outer-most one.
        """
        if self._nodes is None:
            self._nodes = walk_bounded(self.tree, MAX_NODES)
        return self._nodes

    def line_at(self, offset: int) -> int:
        """1-based line of a character offset in ``source``."""
        return self.source.count("\n", 0, offset) + 1

    @property
    def module_name(self) -> str:
        """Dotted module name guessed from the path (``app/api/routes.py`` -> ``app.api.routes``)."""
        return self.py.module_name

    def qualify(self, node: ast.AST) -> str:
        """Dotted name of a Name/Attribute chain with its first part resolved through the imports (``""`` when
        the chain does not start with a name or a call); a chain on a call result reads ``f().attr``."""
        return self.py.qualname(node) or ""

    def call_name(self, call: ast.Call) -> str:
        """Qualified name of what a call calls."""
        return self.qualify(call.func)

    def __getstate__(self) -> dict[str, str]:
        # Only the path and the text cross a process boundary (facts of forked workers): unpickling a tree costs
        # several times parsing its text again, so the reading process re-parses and re-indexes the module.
        return {"path": self.py.path, "text": self.py.text}

    def __setstate__(self, state: dict[str, str]) -> None:
        mod = module_of_text(state["path"], state["text"])
        if isinstance(mod, ParseError):  # the worker parsed this very text: not expected, never ignored
            raise ValueError(f"{state['path']}: parsed in a worker, not here ({mod.message})")
        self.__dict__.update(index_module(mod).__dict__)


def index_module(mod: PyModule) -> ModuleIndex:
    """Build the index of one module of the Python pass."""
    idx = ModuleIndex(mod, dict(mod.aliases))
    for node in mod.imports:  # ``from m import *``: the module still counts as imported (serving path, LLM use)
        if isinstance(node, ast.ImportFrom) and any(a.name == "*" for a in node.names):
            idx.imports["*"] = ("." * node.level) + (node.module or "") + ".*"
    for stmt in mod.tree.body:
        _index_statement(idx, stmt)
    return idx


def _index_statement(idx: ModuleIndex, node: ast.stmt) -> None:
    if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
        idx.functions[node.name] = node
    elif isinstance(node, ast.ClassDef):
        idx.classes[node.name] = node
    elif isinstance(node, (ast.Assign, ast.AnnAssign)):
        targets = node.targets if isinstance(node, ast.Assign) else [node.target]
        value = node.value
        if value is None:
            return
        for t in targets:
            if isinstance(t, ast.Name):
                idx.assigns[t.id] = value
                if isinstance(value, ast.Call):
                    idx.calls[t.id] = value
    elif isinstance(node, (ast.If, ast.Try)):
        for child in [*node.body, *node.orelse]:
            _index_statement(idx, child)


def kwarg(call: ast.Call, name: str) -> ast.expr | None:
    """The value of keyword ``name`` in a call, if given."""
    for kw in call.keywords:
        if kw.arg == name:
            return kw.value
    return None


def const_str(node: ast.AST | None) -> str | None:
    """A string constant's value (also the literal parts of an f-string are not accepted)."""
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        return node.value
    return None


def const_num(node: ast.AST | None) -> float | None:
    """A numeric constant's value, following unary minus and simple products."""
    if isinstance(node, ast.Constant) and isinstance(node.value, (int, float)) and not isinstance(node.value, bool):
        return float(node.value)
    if isinstance(node, ast.BinOp) and isinstance(node.op, ast.Mult):
        a, b = const_num(node.left), const_num(node.right)
        if a is not None and b is not None:
            return a * b
    return None


def unparse(node: ast.AST) -> str:
    """Bounded source text of a node, for messages and keyword matching."""
    try:
        text = ast.unparse(node)
    except (ValueError, RecursionError):  # pragma: no cover - malformed synthetic trees only
        return ""
    return text[:MAX_UNPARSE]


def short(node: ast.AST, limit: int = 80) -> str:
    """One-line source text of a node, cut for messages."""
    text = " ".join(unparse(node).split())
    return text if len(text) <= limit else text[: limit - 3] + "..."


def str_list(node: ast.AST | None) -> list[tuple[str, int]]:
    """Strings (or dotted names) in a list/tuple literal, each with its line."""
    out: list[tuple[str, int]] = []
    if isinstance(node, (ast.List, ast.Tuple, ast.Set)):
        for elt in node.elts:
            s = const_str(elt)
            if s is None and isinstance(elt, (ast.Name, ast.Attribute)):
                s = unparse(elt)
            if s is not None:
                out.append((s, elt.lineno))
    return out


def walk_bounded(node: ast.AST, limit: int = 20000) -> list[ast.AST]:
    """``ast.walk`` with a cap on the number of nodes visited."""
    out: list[ast.AST] = []
    for child in ast.walk(node):
        out.append(child)
        if len(out) >= limit:
            break
    return out
