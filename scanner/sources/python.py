"""One Python pass: every module and notebook read, parsed and its imports resolved once, for every probe.

Probes do not parse Python themselves. Each declares :class:`PythonVisitor` objects (a function from a
:class:`PyModule` to a small, picklable fact, and the *needles*: words a module must contain for the visitor to have
anything to say). The pass reads each file once, parses it only when some visitor's needle occurs in it, hands the
:class:`PyModule` to those visitors, keeps their facts and drops the tree. On a large tree the files are split
between forked worker processes (``jobs``); the facts come back in path order, so the result does not depend on
the number of workers.

A notebook is one module: its code cells are parsed one by one (IPython magics and shell lines blanked, so line
numbers stay), their trees joined with the lines shifted, and :meth:`PyModule.cell_of` maps a line of the joined
module back to ``(cell number, line in cell)``. A cell that is not valid Python is left out with a note.

Nothing is imported or executed: ``ast`` only. A visitor that raises is stopped for the rest of the scan and its
results raise :class:`VisitorFailed` to every reader, so the probe that depends on it fails closed.
"""

from __future__ import annotations

import ast
import bisect
import gc
import json
import multiprocessing
import warnings
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from functools import cached_property
from typing import TYPE_CHECKING, Any, Generic, TypeVar

import ahocorasick

from mlposture.scanner.sources.python_text import as_python_reads, read_python

if TYPE_CHECKING:
    from mlposture.scanner.repo import RepoFile, RepoView

__all__ = ["ParseError", "PyModule", "PythonFacts", "PythonVisitor", "VisitorFailed", "module_of_text", "parse_python",
           "run_python_pass"]

T = TypeVar("T")

PYTHON_SUFFIXES = (".py", ".pyw")
NOTEBOOK_SUFFIX = ".ipynb"
MAX_NOTEBOOK_BYTES = 4 * 1024 * 1024
MAX_NOTEBOOK_CELLS = 500
#: Below this many candidate files the pass stays in this process whatever ``jobs`` is (forking costs more).
PARALLEL_MIN_FILES = 200
#: Files per task handed to a worker: large enough to amortise the round trip, small enough to balance.
CHUNK_FILES = 64
_MAGIC_PREFIXES = ("%", "!", "?")


class VisitorFailed(RuntimeError):
    """A visitor raised on some module; its facts are incomplete and must not be judged."""


@dataclass(frozen=True)
class PythonVisitor(Generic[T]):
    """A probe's reader of Python modules.

    ``visit`` returns the fact of one module (``None`` when it has nothing); facts cross process boundaries, so
    they must be picklable and should be small (no trees unless the probe really needs them). ``needles``: the
    module's text must contain one of these words for ``visit`` to be called (empty: every module);
    ``ignore_case`` compares them with the lower-cased text. ``screen``: a closer look at the text of a plain
    module (not a notebook) in which a needle occurs, before it is parsed, given the needles that occur; False
    only when ``visit`` would return ``None`` whatever the tree holds. Parsing is most of a scan's cost, and a
    word that is also common in prose (``hub`` in every ``github.com`` link) must not make every module parsed.
    """

    name: str
    visit: Callable[[PyModule], T | None]
    needles: tuple[str, ...] = ()
    ignore_case: bool = False
    notebooks: bool = True
    screen: Callable[[str, frozenset[str]], bool] | None = None


@dataclass(frozen=True)
class _Cell:
    first_line: int  # line of the joined module where the cell starts (1-based)
    number: int  # cell number among all cells of the notebook (1-based)


@dataclass
class PyModule:
    """One parsed module: its path, text, tree, and its imports resolved (``qualname``)."""

    path: str
    text: str
    tree: ast.Module
    notebook: bool = False
    cells: tuple[_Cell, ...] = ()
    #: The needles of the pass's visitors that occur in the text (those of visitors that ignore case in lower
    #: case), so a visitor need not search for them again; empty outside the pass.
    matched: frozenset[str] = frozenset()
    _lowered: str | None = field(default=None, repr=False)
    _code: str | None = field(default=None, repr=False)

    @property
    def code(self) -> str:
        """The text as Python reads its names: NFKC-normalised (see :func:`as_python_reads`). Text checks that
        stand for a name in the tree (needles, a visitor's own prefilter) look here, never at :attr:`text`."""
        if self._code is None:
            self._code = as_python_reads(self.text)
        return self._code

    @property
    def lowered(self) -> str:
        """:attr:`code` in lower case (computed once)."""
        if self._lowered is None:
            self._lowered = self.code.lower()
        return self._lowered

    @cached_property
    def aliases(self) -> dict[str, str]:
        """Local name -> fully qualified name, from every import statement of the module (nested ones too).

        ``import a.b`` binds ``a``; ``import a.b as c`` binds ``c`` to ``a.b``; ``from a.b import c as d`` binds
        ``d`` to ``a.b.c``; a relative ``from .m import f`` binds ``f`` to ``.m.f`` (leading dots kept, so it
        never reads as a library name). A later import of the same name wins, as it does at run time.
        """
        names: dict[str, str] = {}
        for node in self.imports:
            if isinstance(node, ast.Import):
                for alias in node.names:
                    if alias.asname:
                        names[alias.asname] = alias.name
                    else:
                        top = alias.name.split(".", 1)[0]
                        names[top] = top
            else:
                base = "." * node.level + (node.module or "")
                for alias in node.names:
                    if alias.name == "*":
                        continue
                    names[alias.asname or alias.name] = f"{base}.{alias.name}" if node.module else base + alias.name
        return names

    @cached_property
    def imports(self) -> tuple[ast.Import | ast.ImportFrom, ...]:
        """Every import statement, in source order."""
        return tuple(n for n in statements(self.tree) if isinstance(n, (ast.Import, ast.ImportFrom)))

    @cached_property
    def imported(self) -> frozenset[str]:
        """Fully qualified names of every imported module (``from a.b import c`` gives ``a.b``; absolute only)."""
        out: set[str] = set()
        for node in self.imports:
            if isinstance(node, ast.Import):
                out.update(a.name for a in node.names)
            elif node.level == 0 and node.module:
                out.add(node.module)
        return frozenset(out)

    def imports_any(self, *prefixes: str) -> bool:
        """True when the module imports one of ``prefixes`` or a submodule of one."""
        return any(m == p or m.startswith(p + ".") for m in self.imported for p in prefixes)

    def qualname(self, node: ast.AST, unknown: str | None = None) -> str | None:
        """Dotted name of a ``Name``/``Attribute`` chain with its first part resolved through the imports.

        ``np.load`` after ``import numpy as np`` is ``numpy.load``; a chain on a call result names the call:
        ``torch.hub.load(...).eval`` is ``torch.hub.load().eval`` (``?()`` when the call itself has no name).
        ``None`` for anything else (a subscript, a literal), unless ``unknown`` is given: then that stands for the
        part without a name (``a[0].load`` is ``?.load`` with ``unknown="?"``) and a call itself is named too.
        """
        parts: list[str] = []
        cur = node
        while isinstance(cur, ast.Attribute):
            parts.append(cur.attr)
            cur = cur.value
        if isinstance(cur, ast.Name):
            parts.append(self.aliases.get(cur.id, cur.id))
        elif isinstance(cur, ast.Call) and (parts or unknown is not None):
            parts.append(f"{self.qualname(cur.func, unknown) or '?'}()")
        elif unknown is not None:
            parts.append(unknown)
        else:
            return None
        return ".".join(reversed(parts))

    @cached_property
    def _by_type(self) -> dict[type, list[ast.AST]]:
        return walk_by_type(self.tree)

    def nodes(self, *kinds: type[ast.AST]) -> list[Any]:
        """Every node of the given types (one walk of the tree, shared by every visitor), in walk order per type."""
        if len(kinds) == 1:
            return list(self._by_type.get(kinds[0], ()))
        out: list[ast.AST] = []
        for kind in kinds:
            out.extend(self._by_type.get(kind, ()))
        return out

    def cell_of(self, line: int) -> tuple[int, int] | None:
        """``(cell number, line in cell)`` of a line of a notebook module; ``None`` for a plain module."""
        if not self.cells:
            return None
        i = bisect.bisect_right([c.first_line for c in self.cells], line) - 1
        cell = self.cells[max(i, 0)]
        return cell.number, line - cell.first_line + 1

    @property
    def module_name(self) -> str:
        """Dotted module name guessed from the path (``app/api/routes.py`` -> ``app.api.routes``)."""
        stem = self.path
        for suffix in (*PYTHON_SUFFIXES, NOTEBOOK_SUFFIX):
            stem = stem.removesuffix(suffix)
        return stem.replace("/", ".").removesuffix(".__init__")


def statements(tree: ast.AST) -> Iterable[ast.stmt]:
    """Every statement below ``tree``, nested ones included, without visiting expressions (cheap)."""
    stack: list[ast.stmt] = list(reversed(getattr(tree, "body", [])))
    table = _BLOCK_FIELDS
    while stack:
        node = stack.pop()
        yield node
        fields = table.get(type(node))
        if fields is None:
            continue  # a simple statement holds no statement
        for name in fields:
            children = getattr(node, name, None) or ()
            if name in ("handlers", "cases"):
                for part in children:
                    stack.extend(reversed(part.body))
            else:
                stack.extend(reversed([c for c in children if isinstance(c, ast.stmt)]))


#: Fields that never hold a child node worth visiting: names, numbers, flags, and the expression context
#: (``Load``/``Store``/``Del``, one shared object per kind, which no reader asks for).
_LEAF_FIELDS = frozenset({"id", "attr", "name", "module", "level", "arg", "asname", "kind", "conversion", "is_async",
                          "simple", "type_comment", "tag", "ctx"})
_CHILD_FIELDS: dict[type, tuple[str, ...]] = {
    kind: tuple(f for f in kind._fields if f not in _LEAF_FIELDS)
    for kind in (getattr(ast, name) for name in dir(ast))
    if isinstance(kind, type) and issubclass(kind, ast.AST)
}
#: Statement types that hold statements, and the fields that hold them (in the order :func:`statements` reads).
_BLOCK_FIELDS: dict[type, tuple[str, ...]] = {
    kind: fields
    for kind in (getattr(ast, name) for name in dir(ast))
    if isinstance(kind, type) and issubclass(kind, ast.stmt)
    for fields in [tuple(f for f in ("body", "orelse", "finalbody", "handlers", "cases") if f in kind._fields)]
    if fields
}


def walk_by_type(tree: ast.AST) -> dict[type, list[ast.AST]]:
    """Every node below and including ``tree`` except expression contexts, bucketed by node type, each bucket in
    depth-first source order (iterative: no recursion limit on deep input; fields that cannot hold a node are
    skipped by type, which makes this about a third cheaper than :func:`ast.walk`)."""
    out: dict[type, list[ast.AST]] = {}
    stack: list[ast.AST] = [tree]
    pop, push, AST = stack.pop, stack.append, ast.AST
    table = _CHILD_FIELDS
    while stack:
        node = pop()
        kind = type(node)
        bucket = out.get(kind)
        if bucket is None:
            out[kind] = [node]
        else:
            bucket.append(node)
        for name in table[kind]:
            value = getattr(node, name, None)
            if value is None:
                continue
            if type(value) is list:
                for item in value:
                    if isinstance(item, AST):
                        push(item)
            elif isinstance(value, AST):
                push(value)
    return out


@dataclass(frozen=True)
class ParseError:
    """Why a source could not be parsed, and where."""

    message: str
    line: int | None = None


def parse_python(text: str, path: str) -> ast.Module | ParseError:
    """The tree of ``text``, or why not (never raises on bad input)."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            return ast.parse(text, filename=path)
    except SyntaxError as exc:
        return ParseError(f"Python syntax error: {exc.msg}", exc.lineno)
    except (ValueError, RecursionError, MemoryError) as exc:
        return ParseError(f"Python source not parsed: {type(exc).__name__}")


def module_of_text(path: str, text: str) -> PyModule | ParseError:
    """A :class:`PyModule` of a Python source (tests and single-file readers use it too)."""
    tree = parse_python(text, path)
    return tree if isinstance(tree, ParseError) else PyModule(path, text, tree)


def notebook_cells(text: str, max_cells: int = MAX_NOTEBOOK_CELLS) -> tuple[list[tuple[int, str]], list[str]]:
    """``(cell number, source)`` of a notebook's code cells (1-based among all cells) and notes on what was odd.

    Raises ``ValueError`` when the file is not a notebook at all (not JSON, no ``cells`` list).
    """
    try:
        doc = json.loads(text)
    except RecursionError as exc:
        raise ValueError(f"notebook is not valid JSON ({type(exc).__name__}); code cells not read") from exc
    except ValueError as exc:
        raise ValueError(f"notebook is not valid JSON ({type(exc).__name__}: {str(exc)[:120]}); "
                         "code cells not read") from exc
    cells = doc.get("cells") if isinstance(doc, dict) else None
    if not isinstance(cells, list):
        raise ValueError("notebook has no 'cells' list; code cells not read")
    out: list[tuple[int, str]] = []
    for number, cell in enumerate(cells[:max_cells], start=1):
        if not isinstance(cell, dict) or cell.get("cell_type") != "code":
            continue
        source = cell.get("source", "")
        if isinstance(source, list):
            source = "".join(s for s in source if isinstance(s, str))
        if isinstance(source, str):
            out.append((number, source))
    notes = [f"notebook has {len(cells)} cells; only the first {max_cells} were read"] if len(cells) > max_cells \
        else []
    return out, notes


def notebook_module(path: str, text: str) -> tuple[PyModule | None, list[str]]:
    """One module of a notebook's code cells (see the module docstring), and the notes of cells left out."""
    try:
        cells, notes = notebook_cells(text)
    except ValueError as exc:
        return None, [str(exc)]
    body: list[ast.stmt] = []
    lines: list[str] = []
    marks: list[_Cell] = []
    for number, source in cells:
        code_lines = ["" if line.lstrip().startswith(_MAGIC_PREFIXES) else line for line in source.splitlines()]
        code = "\n".join(code_lines)
        tree = parse_python(code, path)
        if isinstance(tree, ParseError):
            notes.append(f"notebook cell {number} is not valid Python; skipped")
            continue
        offset = len(lines)
        if offset:
            ast.increment_lineno(tree, offset)
        marks.append(_Cell(offset + 1, number))
        body.extend(tree.body)
        lines.extend(code_lines or [""])
    module = ast.Module(body=body, type_ignores=[])
    return PyModule(path, "\n".join(lines), module, notebook=True, cells=tuple(marks)), notes


# ------------------------------------------------------------------------------------------------ the pass


@dataclass
class PythonFacts:
    """What the visitors found: per visitor, ``(path, fact)`` in path order; plus the visitors that failed."""

    results: dict[str, list[tuple[str, Any]]] = field(default_factory=dict)
    failures: dict[str, str] = field(default_factory=dict)
    files: int = 0  # candidate files seen
    parsed: int = 0  # modules parsed (some visitor's needle occurred)

    def of(self, visitor: PythonVisitor[T]) -> list[tuple[str, T]]:
        """The facts of ``visitor``, in path order; raises :class:`VisitorFailed` when it failed on some module."""
        if visitor.name in self.failures:
            raise VisitorFailed(self.failures[visitor.name])
        return list(self.results.get(visitor.name, ()))

    def merge(self, other: PythonFacts) -> None:
        """Add another pass's facts (a pass run later for visitors the first did not have)."""
        for name, rows in other.results.items():
            self.results.setdefault(name, []).extend(rows)
        for name, why in other.failures.items():
            self.failures.setdefault(name, why)
        self.files = max(self.files, other.files)
        self.parsed += other.parsed


def candidates(repo: RepoView, visitors: Sequence[PythonVisitor[Any]]) -> list[RepoFile]:
    """Files the pass reads: Python sources (scripts without an extension that run Python included), and notebooks
    when some visitor reads them; in path order."""
    if not any(v.notebooks for v in visitors):
        return repo.python_files()
    python = {f.path for f in repo.python_files()}
    return [f for f in repo.files if f.path in python or f.suffix == NOTEBOOK_SUFFIX]


class NeedleIndex:
    """Which visitors a text is for, from every visitor's needles at once (one Aho-Corasick scan of the text, and
    one of its lower-cased form for visitors that ignore case), instead of one substring search per needle."""

    def __init__(self, visitors: Sequence[PythonVisitor[Any]]) -> None:
        self.visitors = list(visitors)
        self.always = frozenset(i for i, v in enumerate(self.visitors) if not v.needles)
        owners: tuple[dict[str, set[int]], dict[str, set[int]]] = ({}, {})
        for i, v in enumerate(self.visitors):
            for needle in v.needles:
                key = needle.lower() if v.ignore_case else needle
                owners[v.ignore_case].setdefault(key, set()).add(i)
        self._exact = self._automaton(owners[False])
        self._folded = self._automaton(owners[True])

    @staticmethod
    def _automaton(owners: dict[str, set[int]]) -> ahocorasick.Automaton | None:
        if not owners:
            return None
        automaton = ahocorasick.Automaton()
        for needle, ids in owners.items():
            automaton.add_word(needle, (needle, frozenset(ids)))
        automaton.make_automaton()
        return automaton

    def wanted(self, text: str, lowered: str | None = None) -> tuple[set[int], frozenset[str]]:
        """Indices of the visitors one of whose needles occurs in ``text``, and the needles that occur (those of
        visitors that ignore case in lower case)."""
        found = set(self.always)
        needles: set[str] = set()
        for automaton, hay in ((self._exact, text), (self._folded, lowered)):
            if automaton is None:
                continue
            if hay is None:
                hay = text.lower()
            seen: set[str] = set()  # per automaton: a word can be a needle of both kinds of visitor
            for _, (needle, ids) in automaton.iter(hay):
                if needle not in seen:
                    seen.add(needle)
                    found |= ids
            needles |= seen
        return found, frozenset(needles)


def _read_module(repo: RepoView, f: RepoFile, index: NeedleIndex, failed: dict[str, str], cache: bool
                 ) -> tuple[PyModule | None, list[PythonVisitor[Any]]]:
    """The module of ``f`` when some live visitor wants it, and those visitors; notes go to the view."""
    notebook = f.suffix == NOTEBOOK_SUFFIX
    text = (repo.read_text(f, limit=MAX_NOTEBOOK_BYTES, cache=cache) if notebook
            else read_python(repo, f, cache=cache))
    if text is None:
        return None, []
    code = as_python_reads(text)
    if notebook and "\\u" in text:
        # JSON may spell any character of the code as \uXXXX: the raw text proves nothing; the joined code decides
        chosen, matched = set(range(len(index.visitors))), frozenset[str]()
    else:
        chosen, matched = index.wanted(code)
    wanted = [v for i, v in enumerate(index.visitors)
              if i in chosen and v.name not in failed and (v.notebooks or not notebook)
              and (notebook or v.screen is None or v.screen(code, matched))]
    if not wanted:
        return None, []
    if notebook:
        module, notes = notebook_module(f.path, text)
        for n in notes:
            repo.note(n, f.path)
        if module is not None:
            chosen, matched = index.wanted(module.code, module.lowered)
            wanted = [v for v in wanted if index.visitors.index(v) in chosen]
            if not wanted:
                return None, []
            module.matched = matched
    else:
        parsed = module_of_text(f.path, text)
        if isinstance(parsed, ParseError):
            repo.note(parsed.message, f.path, parsed.line)
            return None, []
        module = parsed
        module.matched = matched
        module._code = code
    return module, wanted


def _visit_files(repo: RepoView, files: Sequence[RepoFile], index: NeedleIndex, failed: dict[str, str],
                 cache: bool = True) -> tuple[list[tuple[str, str, Any]], int]:
    """Run the visitors over ``files``: ``(visitor, path, fact)`` rows in file order, and the modules parsed."""
    rows: list[tuple[str, str, Any]] = []
    parsed = 0
    for f in files:
        if len(failed) == len(index.visitors):
            break
        module, wanted = _read_module(repo, f, index, failed, cache)
        if module is None:
            continue
        parsed += 1
        for v in wanted:
            try:
                fact = v.visit(module)
            except Exception as exc:
                failed[v.name] = (f"Python reader {v.name} failed on {f.path}: {type(exc).__name__}: "
                                  f"{str(exc)[:200]}")
                continue
            if fact is not None:
                rows.append((v.name, f.path, fact))
    return rows, parsed


# What a forked worker inherits (set just before the pool forks; never pickled).
_FORKED: tuple[RepoView, Sequence[RepoFile], NeedleIndex] | None = None


def _worker_init() -> None:
    gc.freeze()  # the inherited heap is never garbage: keep collections from re-walking it


def _worker_chunk(bounds: tuple[int, int]) -> tuple[list[tuple[str, str, Any]], int, dict[str, str],
                                                     list[tuple[str, str | None, int | None]]]:
    assert _FORKED is not None
    repo, files, index = _FORKED
    before = len(repo.notes)
    failed: dict[str, str] = {}
    # a worker's text cache dies with it: keeping the texts would only cost its memory
    rows, parsed = _visit_files(repo, files[bounds[0]:bounds[1]], index, failed, cache=False)
    notes = [(n.message, n.path, n.line) for n in repo.notes[before:]]
    return rows, parsed, failed, notes


def run_python_pass(repo: RepoView, visitors: Sequence[PythonVisitor[Any]], jobs: int = 1) -> PythonFacts:
    """Read, parse and visit every Python module and notebook once; ``jobs`` > 1 splits the files between forked
    workers on a large tree. Facts come back in path order whatever ``jobs`` is."""
    unique = list({v.name: v for v in visitors}.values())
    facts = PythonFacts({v.name: [] for v in unique})
    if not unique:
        return facts
    files = candidates(repo, unique)
    facts.files = len(files)
    failed: dict[str, str] = {}
    index = NeedleIndex(unique)
    if jobs > 1 and len(files) >= PARALLEL_MIN_FILES and "fork" in multiprocessing.get_all_start_methods():
        rows, parsed = _parallel(repo, files, index, jobs, failed)
    else:
        rows, parsed = _visit_files(repo, files, index, failed)
    for name, path, fact in rows:
        facts.results[name].append((path, fact))
    facts.parsed = parsed
    facts.failures = failed
    return facts


def _parallel(repo: RepoView, files: Sequence[RepoFile], index: NeedleIndex, jobs: int,
              failed: dict[str, str]) -> tuple[list[tuple[str, str, Any]], int]:
    global _FORKED
    chunks = [(i, min(i + CHUNK_FILES, len(files))) for i in range(0, len(files), CHUNK_FILES)]
    rows: list[tuple[str, str, Any]] = []
    parsed = 0
    notes: list[tuple[str, str | None, int | None]] = []
    _FORKED = (repo, files, index)
    pool = multiprocessing.get_context("fork").Pool(min(jobs, len(chunks)), initializer=_worker_init)
    try:
        # imap keeps chunk order, so rows, notes and the first failure per visitor are those of a serial pass
        for chunk_rows, chunk_parsed, chunk_failed, chunk_notes in pool.imap(_worker_chunk, chunks):
            rows.extend(r for r in chunk_rows if r[0] not in failed)
            parsed += chunk_parsed
            for name, why in chunk_failed.items():
                failed.setdefault(name, why)
            notes.extend(chunk_notes)
        pool.close()
    finally:
        pool.terminate()
        pool.join()
        _FORKED = None
    for message, path, line in notes:
        repo.note(message, path, line)
    return rows, parsed
