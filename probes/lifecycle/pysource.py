"""Raw facts from Python sources and notebook code cells: imports, calls with literal arguments, digest checks.

Why a facts layer: a dozen controls ask the same questions of the same code ("is opacus imported here, and with
which ``target_epsilon``?"). Parsing once and judging later keeps every parser testable alone and every judgement
small. Nothing is imported or executed: sources are read with ``ast`` through the shared :class:`RepoView`, and
notebooks are read as JSON with a bound on size and cells.

Names are resolved through the file's imports, so ``from opacus import PrivacyEngine`` followed by
``PrivacyEngine()`` gives the call name ``opacus.PrivacyEngine``; a method called on a variable keeps its local
head (``engine.make_private``), and :attr:`Call.attr` holds its last component for matching.
"""

from __future__ import annotations

import ast
import re
import warnings
from collections.abc import Iterator
from dataclasses import dataclass, field

from mlposture.scanner.notebooks import code_cells
from mlposture.scanner.pyast import statements
from mlposture.scanner.repo import RepoFile, RepoView

MAX_NOTEBOOK_BYTES = 2 * 1024 * 1024
MAX_NOTEBOOK_CELLS = 500
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


@dataclass(frozen=True)
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


@dataclass(frozen=True)
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


@dataclass(frozen=True)
class Symbol:
    """A dotted name the code refers to: an import (``sklearn.ensemble.IsolationForest``) or a resolved call."""

    name: str
    site: Site


@dataclass(frozen=True)
class DigestCheck:
    """A function (or module body) that computes a hashlib digest and compares it (``==``, ``compare_digest``).

    ``keyed`` says the check is a keyed signature (an HMAC, or a public-key ``verify``), not a bare digest.
    """

    site: Site
    function: str
    keyed: bool = False


@dataclass
class SourceFacts:
    """Everything gathered from one Python file or notebook."""

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


# ---------------------------------------------------------------------------------------------- extraction
_DIGEST_FUNCS = {"hexdigest", "digest", "file_digest"}
# a public-key signature check: nacl VerifyKey(...).verify, cryptography's public_key.verify(signature, data)
_SIGNATURE_VERIFY = re.compile(r"(?i)(nacl\.signing|verify_?key|public_?key|ed25519|ecdsa|rsa)")
_HASH_CTORS = {"sha256", "sha384", "sha512", "sha3_256", "sha3_512", "blake2b", "blake2s", "md5", "sha1", "new"}


class _Visitor(ast.NodeVisitor):
    def __init__(self, facts: SourceFacts, site_of: _SiteMaker, constants: dict[str, object]) -> None:
        self.facts = facts
        self.site_of = site_of
        self.aliases: dict[str, str] = {}
        self.constants = constants
        self.function: list[str] = []
        self.swallow_depth = 0
        self.digests_possible = True  # False when the source never says "digest": no scope can hold a check

    # imports -------------------------------------------------------------------------------
    def visit_Import(self, node: ast.Import) -> None:
        for alias in node.names:
            if alias.asname:
                self.aliases[alias.asname] = alias.name
            else:
                head = alias.name.split(".")[0]
                self.aliases[head] = head
            self.facts.imported_modules.add(alias.name)
            self.facts.symbols.append(Symbol(alias.name, self.site_of(node.lineno)))

    def visit_ImportFrom(self, node: ast.ImportFrom) -> None:
        if node.level or not node.module:
            return
        self.facts.imported_modules.add(node.module)
        for alias in node.names:
            full = f"{node.module}.{alias.name}"
            self.aliases[alias.asname or alias.name] = full
            self.facts.symbols.append(Symbol(full, self.site_of(node.lineno)))

    # scopes --------------------------------------------------------------------------------
    def _scoped(self, node: ast.FunctionDef | ast.AsyncFunctionDef) -> None:
        self.function.append(node.name)
        self.generic_visit(node)
        self._digest_scope(node, node.name)
        self.function.pop()

    def visit_FunctionDef(self, node: ast.FunctionDef) -> None:
        self._scoped(node)

    def visit_AsyncFunctionDef(self, node: ast.AsyncFunctionDef) -> None:
        self._scoped(node)

    def _digest_scope(self, node: ast.AST, name: str) -> None:
        """Record a digest check when the scope both computes a digest and compares something."""
        if not self.digests_possible:
            return
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
            self.facts.digest_checks.append(DigestCheck(self.site_of(digest_line), name, keyed))

    # try/except that swallows errors ---------------------------------------------------------
    def visit_Try(self, node: ast.Try) -> None:
        swallows = any(_swallows(h) for h in node.handlers)
        self.swallow_depth += swallows
        for stmt in node.body:
            self.visit(stmt)
        self.swallow_depth -= swallows
        for part in (*node.handlers, *node.orelse, *node.finalbody):
            self.visit(part)

    # calls and strings ---------------------------------------------------------------------
    def dotted(self, node: ast.AST) -> str:
        parts: list[str] = []
        cur = node
        while isinstance(cur, ast.Attribute):
            parts.append(cur.attr)
            cur = cur.value
        if isinstance(cur, ast.Name):
            parts.append(self.aliases.get(cur.id, cur.id))
        elif isinstance(cur, ast.Call):
            parts.append(self.dotted(cur.func) + "()")
        else:
            parts.append("?")
        return ".".join(reversed(parts))

    def visit_Call(self, node: ast.Call) -> None:
        name = self.dotted(node.func)
        args = tuple(self.value(a) for a in node.args if not isinstance(a, ast.Starred))
        kwargs = tuple((k.arg, self.value(k.value)) for k in node.keywords if k.arg is not None)
        site = self.site_of(node.lineno)
        self.facts.calls.append(Call(name, site, args, kwargs, self.function[-1] if self.function else "",
                                     self.swallow_depth > 0))
        if "." in name and not name.startswith("?"):
            head = name.split(".", 1)[0]
            if head in self.aliases.values() or any(v.startswith(head + ".") for v in self.aliases.values()):
                self.facts.symbols.append(Symbol(name, site))
        self.generic_visit(node)

    def visit_Constant(self, node: ast.Constant) -> None:
        if isinstance(node.value, str) and 3 <= len(node.value) <= MAX_LITERAL_CHARS:
            self.facts.strings.append((node.value, self.site_of(node.lineno)))

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


@dataclass(frozen=True)
class FString:
    """An f-string whose literal beginning is known (``f"https://host/{name}.csv"`` -> ``https://host/``)."""

    head: str


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
        if isinstance(cur, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef, ast.Lambda)):
            continue
        stack.extend(ast.iter_child_nodes(cur))


def _module_constants(tree: ast.Module) -> dict[str, object]:
    """``NAME = <literal>`` assignments anywhere in the file (last one wins), for values passed by name."""
    out: dict[str, object] = {}
    for node in statements(tree):
        if isinstance(node, ast.Assign) and len(node.targets) == 1 and isinstance(node.targets[0], ast.Name):
            target, value = node.targets[0].id, node.value
        elif isinstance(node, ast.AnnAssign) and isinstance(node.target, ast.Name) and node.value is not None:
            target, value = node.target.id, node.value
        else:
            continue
        if isinstance(value, ast.Constant) and isinstance(value.value, (str, int, float, bool)):
            out[target] = value.value
    return out


class _SiteMaker:
    def __init__(self, path: str, cell: int | None = None) -> None:
        self.path = path
        self.cell = cell

    def __call__(self, line: int) -> Site:
        if self.cell is None:
            return Site(self.path, line)
        return Site(self.path, None, self.cell, line)


def facts_from_tree(path: str, tree: ast.Module, facts: SourceFacts, cell: int | None = None,
                    source: str | None = None) -> None:
    """Add the facts of one parsed module (or notebook cell) to ``facts``.

    ``source`` (the text the tree came from) lets the visitor skip the digest-check walk of every scope when the
    words "digest" and "verify" never occur: every digest call it recognises (hexdigest, digest, file_digest)
    contains the first, a public-key signature check the second.
    """
    site_of = _SiteMaker(path, cell)
    visitor = _Visitor(facts, site_of, _module_constants(tree))
    visitor.digests_possible = source is None or "digest" in source or "verify" in source
    try:
        visitor.visit(tree)
        visitor._digest_scope(tree, "")
    except RecursionError:
        facts.symbols.append(Symbol("?recursion", site_of(1)))


def python_facts(repo: RepoView, f: RepoFile) -> SourceFacts | None:
    """Facts of a ``.py`` file, or ``None`` when it cannot be parsed (the view records the note)."""
    tree = repo.python_ast(f)
    if tree is None:
        return None
    facts = SourceFacts(f.path, notebook=False)
    facts_from_tree(f.path, tree, facts, source=repo.read_text(f))
    return facts


_MAGIC = re.compile(r"^\s*[%!?]")


def notebook_cells(repo: RepoView, f: RepoFile) -> list[tuple[int, str]] | None:
    """``(cell number, source)`` of the code cells (1-based among all cells), or ``None`` with a note."""
    return code_cells(repo, f, MAX_NOTEBOOK_BYTES, MAX_NOTEBOOK_CELLS)


def notebook_facts(repo: RepoView, f: RepoFile) -> SourceFacts | None:
    """Facts of a notebook's code cells; IPython magics and shell lines are blanked (line numbers kept)."""
    cells = notebook_cells(repo, f)
    if cells is None:
        return None
    facts = SourceFacts(f.path, notebook=True)
    for number, source in cells:
        code = "\n".join("" if _MAGIC.match(line) else line for line in source.splitlines())
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                tree = ast.parse(code)
        except (SyntaxError, ValueError, RecursionError, MemoryError):
            repo.note(f"notebook cell {number} is not valid Python; skipped", f.path)
            continue
        facts_from_tree(f.path, tree, facts, cell=number, source=code)
    return facts


def all_facts(repo: RepoView) -> list[SourceFacts]:
    """Facts of every Python file and notebook in the view, in path order."""
    out: list[SourceFacts] = []
    for f in repo.files:
        facts: SourceFacts | None = None
        if f.suffix in (".py", ".pyw"):
            facts = python_facts(repo, f)
        elif f.suffix == ".ipynb":
            facts = notebook_facts(repo, f)
        if facts is not None:
            out.append(facts)
    return out
