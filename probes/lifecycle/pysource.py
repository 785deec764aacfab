"""Raw facts from Python sources and notebook code cells: imports, calls with literal arguments, digest checks.

Why a facts layer: a dozen controls ask the same questions of the same code ("is opacus imported here, and with
which ``target_epsilon``?"). Reading once and judging later keeps every reader testable alone and every judgement
small. The modules come from the scan's one Python pass (:mod:`mlposture.scanner.sources.python`): each file is
parsed there once, never imported or executed, and a notebook is one module whose lines map back to a cell.

Two readers run in that pass:

* :data:`VISITOR` gives the :class:`SourceFacts` of a module, but only of a module that can hold something a
  lifecycle judgement reads: its text must contain one of :data:`NEEDLES` (the names of the tools, calls,
  keywords and strings the judgements look for). Every other module is skipped without a parse of its own.
* :class:`ModuleImports` gives the imported module names of a ``.py`` file, which is all the wiring index
  (:mod:`.wiring`) needs to follow a pipeline's imports through files that hold no fact themselves; a file the
  pass did not read is parsed when the wiring reaches it.

Names are resolved through the module's imports (:attr:`PyModule.aliases`), so ``from opacus import PrivacyEngine``
followed by ``PrivacyEngine()`` gives the call name ``opacus.PrivacyEngine``; a method called on a variable keeps
its local head (``engine.make_private``), and :attr:`Call.attr` holds its last component for matching.
"""

from __future__ import annotations

import ast
import bisect
import re
import sys
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any, TypeVar

from mlposture.scanner.repo import RepoView
from mlposture.scanner.sources.python import (
    PYTHON_SUFFIXES,
    ParseError,
    PyModule,
    PythonVisitor,
    module_of_text,
    statements,
)
from mlposture.scanner.sources.python_text import read_python

MAX_LITERAL_CHARS = 4096


class Unknown:
    """A value that is not a literal (a variable, a call): the judgement must say "not determinable"."""

    _instance: Unknown | None = None

    def __new__(cls) -> Unknown:
        if cls._instance is None:
            cls._instance = super().__new__(cls)
        return cls._instance

    def __repr__(self) -> str:
        return "<unknown>"


UNKNOWN = Unknown()


@dataclass(frozen=True, slots=True)
class Site:
    """Where something was seen: a file line, or a notebook cell and the line inside it."""

    path: str
    line: int | None
    cell: int | None = None
    cell_line: int | None = None

    @property
    def notebook(self) -> bool:
        """True for a notebook cell (weaker evidence than pipeline code)."""
        return self.cell is not None

    def where(self) -> str:
        """Human form: ``src/train.py:12`` or ``nb.ipynb cell 3, line 2``."""
        if self.cell is not None:
            return f"{self.path} cell {self.cell}, line {self.cell_line}"
        return f"{self.path}:{self.line}" if self.line else self.path

    def suffix(self) -> str:
        """Text to append to a message so a notebook location is visible (the evidence line is then empty)."""
        return f" (cell {self.cell}, line {self.cell_line})" if self.cell is not None else ""


@dataclass(frozen=True, slots=True)
class FString:
    """An f-string whose literal beginning is known (``f"https://host/{name}.csv"`` -> ``https://host/``)."""

    head: str


@dataclass(frozen=True, slots=True)
class Call:
    """One call with the literal values of its arguments (``UNKNOWN`` when not a literal)."""

    name: str
    site: Site
    args: tuple[object, ...] = ()
    kwargs: tuple[tuple[str, object], ...] = ()
    function: str = ""  # enclosing function name, "" at module level
    swallowed: bool = False  # inside a ``try`` whose handler neither re-raises nor exits

    @property
    def attr(self) -> str:
        """Last component of the dotted name."""
        return self.name.rsplit(".", 1)[-1]

    def kw(self, key: str) -> object | None:
        """Keyword value: ``None`` when absent, ``UNKNOWN`` when not a literal."""
        for k, v in self.kwargs:
            if k == key:
                return v
        return None

    def has_kw(self, key: str) -> bool:
        """True when the keyword is given (whatever its value)."""
        return any(k == key for k, _ in self.kwargs)

    def arg(self, index: int, key: str | None = None) -> object | None:
        """Positional argument ``index``, or keyword ``key`` when given; ``None`` when absent."""
        if key is not None and self.has_kw(key):
            return self.kw(key)
        return self.args[index] if index < len(self.args) else None


@dataclass(frozen=True, slots=True)
class Symbol:
    """A dotted name the code refers to: an import (``sklearn.ensemble.IsolationForest``) or a resolved call."""

    name: str
    site: Site


@dataclass(frozen=True, slots=True)
class DigestCheck:
    """A function (or module body) that computes a hashlib digest and compares it (``==``, ``compare_digest``).

    ``keyed`` says the check is a keyed signature (an HMAC, or a public-key ``verify``), not a bare digest.
    """

    site: Site
    function: str
    keyed: bool = False


@dataclass
class SourceFacts:
    """Everything gathered from one Python file or notebook (plain values: it crosses process boundaries)."""

    path: str
    notebook: bool
    symbols: list[Symbol] = field(default_factory=list)
    calls: list[Call] = field(default_factory=list)
    digest_checks: list[DigestCheck] = field(default_factory=list)
    strings: list[tuple[str, Site]] = field(default_factory=list)
    imported_modules: set[str] = field(default_factory=set)
    _tops: frozenset[str] = field(default=frozenset(), repr=False, compare=False)
    _tops_count: int = field(default=-1, repr=False, compare=False)

    def imports(self, *prefixes: str) -> list[Symbol]:
        """Symbols whose dotted name is one of ``prefixes`` or below it."""
        if self._tops_count != len(self.symbols):  # first components, recomputed if symbols were added since
            self._tops = frozenset(s.name.split(".", 1)[0] for s in self.symbols)
            self._tops_count = len(self.symbols)
        if not any(p.split(".", 1)[0] in self._tops for p in prefixes):
            return []  # the common case: none of these libraries is imported here
        return [s for s in self.symbols if _under(s.name, prefixes)]

    def calls_named(self, *names: str) -> list[Call]:
        """Calls whose resolved dotted name or last component is in ``names``."""
        wanted = set(names)
        return [c for c in self.calls if c.name in wanted or c.attr in wanted]

    def uses_module(self, *prefixes: str) -> bool:
        """True when the file imports a module at or below one of ``prefixes``."""
        return any(_under(m, prefixes) for m in self.imported_modules)


def _under(name: str, prefixes: tuple[str, ...]) -> bool:
    return any(name == p or name.startswith(p + ".") for p in prefixes)


# ------------------------------------------------------------------------------------------------- needles
#: Lower-case words one of which a module must contain to hold anything a lifecycle judgement reads. Each judgement
#: matches a dotted name, a call's last component, a keyword, or a string, and every part of a resolved dotted name
#: is written in the module (in an import or an attribute), so one word of each suffices. Grouped by judgement.
STRONG_NEEDLES = (
    # digest checks (hexdigest/digest/file_digest, compare_digest, public-key verify) and helper digests
    "digest", "verify", "check_hash", "file_hash", "known_hash", "hash_prefix",
    # model loads (MODEL-01, MODEL-11), pre-trained provenance (MODEL-07), signing
    "load_file", "safe_open", "load_model", "inferencesession", "from_pretrained", "hf_hub_download",
    "load_state_dict", "snapshot_download", "joblib", "pickle", "dill", "hub", "transformers", "model_signing",
    "sigstore",
    # registry, deploy references, classification tags (MODEL-02, MODEL-06, MODEL-09)
    "register_model", "registered_model", "create_model_version", "transition_model_version_stage", "link_model",
    "link_artifact", "create_model_package_group", "aiplatform", "set_registry_uri", "models:/",
    "auto_rollback_configuration", "autorollbackconfiguration", "set_model_version_tag", "set_tag",
    # differential privacy (MODEL-05)
    "opacus", "tensorflow_privacy", "jax_privacy", "diffprivlib", "pydp", "differentialprivacy", "optimizer_class",
    "dpsequential", "dp_sgd", "noise_multiplier",
    # compression, attacks and hardening (MODEL-10, MODEL-12), watermarks (MODEL-04)
    "quantization", "prune", "bitsandbytes", "optimum", "auto_gptq", "awq", "neural_compressor",
    "tensorflow_model_optimization", "load_in_8bit", "load_in_4bit", "attacks", "textattack", "foolbox",
    "robustbench", "defences", "certification", "cleverhans", "advertorch", "watermark", "trigger_set", "key_inputs",
    # data tools (DATA-05, 06, 07, 10, 11, 12, 14)
    "alibi_detect", "pyod", "isolationforest", "localoutlierfactor", "ellipticenvelope", "oneclasssvm", "cleanlab",
    "ks_2samp", "whylogs", "deepchecks", "great_expectations", "pandera", "tensorflow_data_validation", "evidently",
    "soda", "pydantic", "jsonschema", "presidio", "scrubadub", "dlp", "llm_guard", "detect_pii_entities", "sdv",
    "synthcity", "ydata_synthetic", "gretel_client", "ctgan", "faker", "sdmetrics", "flwr", "fedml",
    "tensorflow_federated", "syft", "nvflare", "captum", "pydvl", "torch_influence", "kronfluence", "trak",
    "influenciae", "fairlearn", "aif360", "witwidget", "giskard", "fairness_indicators", "tensorflow_model_analysis",
    # retention code (DATA-09)
    "delete_user_data", "purge", "erase", "expire", "retention", "delete_expired",
    # provenance: lineage, verification commands run from code, downloads, hub datasets (DATA-04, DATA-08)
    "mlflow", "log_input", "openlineage", "lakefs", "dvc", "sha256sum", "sha512sum", "shasum", "lfs",
    "load_dataset",
    # a download URL is a string literal that starts with it (a URL in a docstring or comment is not)
    '"http', "'http",
)
#: Words too common in ML code to make a module worth reading alone; :func:`_worth_reading` looks closer.
WEAK_NEEDLES = ("torch", "optimizer")
NEEDLES = STRONG_NEEDLES + WEAK_NEEDLES
_STRONG = frozenset(n.lower() for n in STRONG_NEEDLES)
_DP_OPTIMIZER_TEXT = re.compile(r"DP\w*Optimizer")


_ALL = _STRONG | frozenset(WEAK_NEEDLES)
#: ``hub`` is a needle for ``torch.hub`` however it is imported, and a part of every ``github.com`` link: it counts
#: as a word only (``torch.hub``, ``from torch import hub``, ``hub.load``), never inside one.
_HUB_WORD = re.compile(r"\bhub\b", re.IGNORECASE)


def _strong(text: str, found: Iterable[str]) -> bool:
    """True when one of the strong needles ``found`` in ``text`` counts (``hub`` as a word only)."""
    return any(n != "hub" or _HUB_WORD.search(text) is not None for n in found if n in _STRONG)


def may_hold(text: str, matched: frozenset[str]) -> bool:
    """The pass's screen: False for a module whose only lifecycle needle is ``hub`` inside a longer word, which
    :func:`_worth_reading` would turn down after the parse."""
    mine = matched & _ALL
    return bool(mine - {"hub"}) or _strong(text, mine)


def _worth_reading(mod: PyModule) -> bool:
    """True when the module may hold a fact: a strong needle, a DP optimizer class, or ``torch.load`` however it
    is imported (``torch.load``, ``from torch import load``, ``import torch as t`` then ``t.load``)."""
    low = mod.lowered
    found = mod.matched if mod.matched else (n for n in STRONG_NEEDLES if n in low)  # the pass knows them already
    if _strong(mod.code, found):
        return True
    if "optimizer" in low and _DP_OPTIMIZER_TEXT.search(mod.code):
        return True
    if "torch" not in low:
        return False
    if "torch.load" in mod.code:
        return True
    aliases = mod.aliases
    return any(v == "torch.load" or (v == "torch" and k != "torch" and ".load" in mod.code)
               for k, v in aliases.items())


# ---------------------------------------------------------------------------------------------- extraction
_DIGEST_FUNCS = {"hexdigest", "digest", "file_digest"}
# a public-key signature check: nacl VerifyKey(...).verify, cryptography's public_key.verify(signature, data)
_SIGNATURE_VERIFY = re.compile(r"(?i)(nacl\.signing|verify_?key|public_?key|ed25519|ecdsa|rsa)")
_SCOPES = (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef, ast.Lambda)

Pos = tuple[int, int]


def _start(node: ast.stmt | ast.expr) -> Pos:
    """Where a node begins; a decorated definition begins at its first decorator (evaluated as part of it)."""
    pos = (node.lineno, node.col_offset)
    for dec in getattr(node, "decorator_list", ()):
        pos = min(pos, (dec.lineno, dec.col_offset))
    return pos


def _end(node: ast.stmt | ast.expr) -> Pos:
    return node.end_lineno or node.lineno, node.end_col_offset or 0


Span = TypeVar("Span", bound=tuple[Any, ...])


def _sweep(spans: list[Span], index: int, opened: list[Span], pos: Pos) -> int:
    """Move a sweep over nested ``(start, end, ...)`` spans sorted by start up to ``pos``: open the spans that start
    at or before it (closing the ones that ended before each opens), close the ones that ended; the next index."""
    while index < len(spans) and spans[index][0] <= pos:
        while opened and opened[-1][1] <= spans[index][0]:
            opened.pop()
        opened.append(spans[index])
        index += 1
    while opened and opened[-1][1] <= pos:
        opened.pop()
    return index


class _Reader:
    """The facts of one module: one pass over its calls and constants (from the module's shared node lists)."""

    def __init__(self, mod: PyModule) -> None:
        self.mod = mod
        self.aliases = mod.aliases
        self.alias_heads = {v.split(".", 1)[0] for v in self.aliases.values() if not v.startswith(".")}
        self.constants = _module_constants(mod)
        self.facts = SourceFacts(mod.path, notebook=mod.notebook, imported_modules=set(mod.imported))
        self._sites: dict[int, Site] = {}

    def site(self, line: int) -> Site:
        found = self._sites.get(line)
        if found is None:
            where = self.mod.cell_of(line)
            found = Site(self.mod.path, line) if where is None else Site(self.mod.path, None, where[0], where[1])
            self._sites[line] = found
        return found

    def dotted(self, node: ast.AST) -> str:
        """The dotted name of a call's target, its first part resolved through the imports (``?`` when unnamed)."""
        return self.mod.qualname(node, unknown="?") or "?"

    def value(self, node: ast.AST) -> object:
        """A literal value, a module constant it names, or ``UNKNOWN``; f-strings keep their literal head."""
        if isinstance(node, ast.Constant):
            return node.value
        if isinstance(node, ast.Name) and node.id in self.constants:
            return self.constants[node.id]
        if isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.USub) and isinstance(node.operand, ast.Constant):
            val = node.operand.value
            if isinstance(val, (int, float)) and not isinstance(val, bool):
                return -val
        if isinstance(node, ast.JoinedStr) and node.values and isinstance(node.values[0], ast.Constant):
            head = node.values[0].value
            return FString(head) if isinstance(head, str) else UNKNOWN
        if isinstance(node, (ast.List, ast.Tuple)) and len(node.elts) <= 64:
            return tuple(self.value(e) for e in node.elts)
        return UNKNOWN

    def read(self) -> SourceFacts:
        mod, facts = self.mod, self.facts
        symbols: list[tuple[Pos, Symbol]] = []
        for imp in mod.imports:
            where = self.site(imp.lineno)
            if isinstance(imp, ast.Import):
                symbols.extend(((imp.lineno, imp.col_offset), Symbol(a.name, where)) for a in imp.names)
            elif not imp.level and imp.module:
                symbols.extend(((imp.lineno, imp.col_offset), Symbol(sys.intern(f"{imp.module}.{a.name}"), where))
                               for a in imp.names)
        calls: list[ast.Call] = mod.nodes(ast.Call)
        calls.sort(key=lambda n: (n.lineno, n.col_offset, -(n.end_lineno or 0), -(n.end_col_offset or 0)))
        for node, function, swallowed in self._scoped(calls):
            name = sys.intern(self.dotted(node.func))  # a few names recur in thousands of calls: keep one copy
            site = self.site(node.lineno)
            args = tuple(self.value(a) for a in node.args if not isinstance(a, ast.Starred))
            kwargs = tuple((k.arg, self.value(k.value)) for k in node.keywords if k.arg is not None)
            facts.calls.append(Call(name, site, args, kwargs, function, swallowed))
            if "." in name and not name.startswith(("?", ".")) and name.split(".", 1)[0] in self.alias_heads:
                symbols.append(((node.lineno, node.col_offset), Symbol(name, site)))
        symbols.sort(key=lambda pair: pair[0])
        facts.symbols.extend(s for _, s in symbols)
        strings = [n for n in mod.nodes(ast.Constant)
                   if isinstance(n.value, str) and 3 <= len(n.value) <= MAX_LITERAL_CHARS]
        strings.sort(key=lambda n: (n.lineno, n.col_offset))
        facts.strings.extend((n.value, self.site(n.lineno)) for n in strings)
        if "digest" in mod.code or "verify" in mod.code:  # every digest or signature call contains one of them
            self._digest_checks()
        return facts

    def _scoped(self, calls: list[ast.Call]) -> Iterator[tuple[ast.Call, str, bool]]:
        """Each call (in source order) with its enclosing function's name and whether a ``try`` whose handlers
        swallow errors encloses it: one sweep over the calls, the functions and the ``try`` bodies by position
        (their spans nest, so a stack of the open ones is enough)."""
        functions = sorted((_start(f), _end(f), f.name) for f in self.mod.nodes(ast.FunctionDef, ast.AsyncFunctionDef))
        tries = sorted((_start(t.body[0]), _end(t.body[-1])) for t in self.mod.nodes(ast.Try)
                       if t.body and any(_swallows(h) for h in t.handlers))
        open_functions: list[tuple[Pos, Pos, str]] = []
        open_tries: list[tuple[Pos, Pos]] = []
        fi = ti = 0
        for node in calls:
            pos = (node.lineno, node.col_offset)
            fi = _sweep(functions, fi, open_functions, pos)
            ti = _sweep(tries, ti, open_tries, pos)
            yield node, open_functions[-1][2] if open_functions else "", bool(open_tries)

    def _digest_checks(self) -> None:
        """Digest checks of the scopes (module body, each function) that call a digest or ``verify``: only those
        can hold one, so the other scopes are never walked. Functions come before the scopes around them."""
        # by start, the outer of two spans that start together first: walking back, the first span that holds
        # a position is the innermost
        bounds = sorted(((_start(s), _end(s), s) for s in self.mod.nodes(*_SCOPES)),
                        key=lambda b: (b[0], -b[1][0], -b[1][1]))
        starts = [b[0] for b in bounds]
        functions: dict[int, ast.FunctionDef | ast.AsyncFunctionDef] = {}
        module_scope = False
        for node in self.mod.nodes(ast.Call):
            func = node.func
            tail = func.attr if isinstance(func, ast.Attribute) else \
                self.aliases.get(func.id, func.id).rsplit(".", 1)[-1] if isinstance(func, ast.Name) else ""
            if tail not in _DIGEST_FUNCS and tail != "verify":
                continue
            pos = (node.lineno, node.col_offset)
            scope: ast.AST | None = None
            for i in range(bisect.bisect_right(starts, pos) - 1, -1, -1):  # innermost span holding the call
                if bounds[i][1] > pos:
                    scope = bounds[i][2]
                    break
            if scope is None:
                module_scope = True
            elif isinstance(scope, (ast.FunctionDef, ast.AsyncFunctionDef)):  # class bodies, lambdas: no scope
                functions[id(scope)] = scope
        for fn in sorted(functions.values(), key=lambda s: (_end(s), tuple(-x for x in _start(s)))):
            self._digest_scope(fn, fn.name)
        if module_scope:
            self._digest_scope(self.mod.tree, "")

    def _digest_scope(self, node: ast.AST, name: str) -> None:
        """Record a digest check when the scope both computes a digest and compares something."""
        digest_line = 0
        compares = keyed = False
        for sub in _walk_scope(node):
            if isinstance(sub, ast.Call):
                callee = self.dotted(sub.func)
                tail = callee.rsplit(".", 1)[-1]
                if tail in _DIGEST_FUNCS and not digest_line:
                    digest_line = sub.lineno
                if tail == "compare_digest":
                    compares = True
                if callee.startswith("hmac."):
                    keyed = True
                elif tail == "verify" and _SIGNATURE_VERIFY.search(callee + " " + ast.unparse(sub.func)):
                    digest_line, compares, keyed = digest_line or sub.lineno, True, True
            elif isinstance(sub, ast.Compare) and any(isinstance(op, (ast.Eq, ast.NotEq)) for op in sub.ops):
                compares = True
        if digest_line and compares:
            self.facts.digest_checks.append(DigestCheck(self.site(digest_line), name, keyed))


def _swallows(handler: ast.ExceptHandler) -> bool:
    """A handler that only passes, logs, prints or continues: the error is lost."""
    for stmt in ast.walk(handler):
        if isinstance(stmt, (ast.Raise, ast.Return)):
            return False
        if isinstance(stmt, ast.Call):
            func = stmt.func
            tail = func.attr if isinstance(func, ast.Attribute) else func.id if isinstance(func, ast.Name) else ""
            if tail in ("exit", "_exit", "abort", "fail"):
                return False
    return True


def _walk_scope(node: ast.AST) -> Iterator[ast.AST]:
    """Nodes of a function body without descending into nested functions or classes."""
    stack = list(ast.iter_child_nodes(node))
    while stack:
        cur = stack.pop()
        yield cur
        if isinstance(cur, _SCOPES):
            continue
        stack.extend(ast.iter_child_nodes(cur))


def _module_constants(mod: PyModule) -> dict[str, object]:
    """``NAME = <literal>`` assignments anywhere in the module (the last one met wins), for values passed by name.

    Statements are met in :func:`statements` order (the ``else`` and ``except`` branches before the body), as
    they always were here: a name bound to two literals is no constant either way, and the verdicts stay put.
    """
    out: dict[str, object] = {}
    for node in statements(mod.tree):
        if isinstance(node, ast.Assign) and len(node.targets) == 1 and isinstance(node.targets[0], ast.Name):
            target, value = node.targets[0].id, node.value
        elif isinstance(node, ast.AnnAssign) and isinstance(node.target, ast.Name) and node.value is not None:
            target, value = node.target.id, node.value
        else:
            continue
        if isinstance(value, ast.Constant) and isinstance(value.value, (str, int, float, bool)):
            out[target] = value.value
    return out


def source_facts(mod: PyModule) -> SourceFacts | None:
    """The facts of one module, or ``None`` when it holds nothing a lifecycle judgement reads."""
    if not _worth_reading(mod):
        return None
    reader = _Reader(mod)
    try:
        return reader.read()
    except RecursionError:  # a pathologically deep expression: say so rather than stop the pass
        reader.facts.symbols.append(Symbol("?recursion", reader.site(1)))
        return reader.facts


class ModuleImports:
    """The absolute module names a ``.py`` file imports, for the wiring index: taken from the module's facts when
    the pass read it, else parsed on first ask. The wiring asks only for the files a pipeline reaches (and the
    files evidence sits in), so the modules nobody reaches are never parsed for their imports."""

    def __init__(self, repo: RepoView, facts: Iterable[SourceFacts]) -> None:
        self._repo = repo
        self._known = {f.path: tuple(sorted(f.imported_modules)) for f in facts if not f.notebook}

    def __call__(self, path: str) -> tuple[str, ...]:
        found = self._known.get(path)
        if found is None:
            found = self._known[path] = self._read(path)
        return found

    def _read(self, path: str) -> tuple[str, ...]:
        if not path.endswith(PYTHON_SUFFIXES):
            return ()  # notebooks and scripts are never wired through imports
        f = self._repo.get(path)
        text = read_python(self._repo, f) if f is not None else None
        if text is None:
            return ()
        parsed = module_of_text(path, text)
        if isinstance(parsed, ParseError):
            self._repo.note(parsed.message, path, parsed.line)
            return ()
        return tuple(sorted(parsed.imported))


#: The lifecycle probes' reader of modules and notebooks in the scan's one Python pass.
VISITOR: PythonVisitor[SourceFacts] = PythonVisitor("lifecycle.source", source_facts, NEEDLES, ignore_case=True,
                                                    screen=may_hold)
VISITORS: tuple[PythonVisitor[Any], ...] = (VISITOR,)
