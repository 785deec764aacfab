"""The raw-facts layer: readers shared by every probe (CI model, shell lines, secrets, manifests, documents).

Probes judge; the readers here only parse, never execute, and never decide a control. A probe reuses another
probe's facts only through this package, never by importing the other probe.

:class:`Sources` holds the facts of one scan, each built at most once, on first use, and timed apart from the
probes (the times are in the report). A probe names the facts it needs in ``uses``; the engine builds them before
the probe runs, so a probe's time budget never pays for another probe's parsing and a fact is never left half
built by a probe that was stopped. Facts owned by a plugin and shared by several of its probes register a builder
with :func:`register_source`.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, TypeVar, cast

from mlposture.scanner.sources.python import PythonFacts, PythonVisitor, run_python_pass

if TYPE_CHECKING:
    from mlposture.scanner.repo import RepoView
    from mlposture.scanner.settings import Settings
    from mlposture.scanner.sources.ci.model import CiModel
    from mlposture.scanner.sources.manifests.model import Manifests

__all__ = ["ScanContext", "Sources", "register_source"]

T = TypeVar("T")

_BUILDERS: dict[str, Callable[[RepoView], Any]] = {}


def register_source(name: str, build: Callable[[RepoView], Any]) -> None:
    """Make ``name`` a fact :class:`Sources` can build (``build(repo)``, called at most once per scan)."""
    _BUILDERS[name] = build


def _core_builders() -> None:
    from mlposture.scanner.sources.ci import build_ci
    from mlposture.scanner.sources.manifests.read import build_manifests

    _BUILDERS.setdefault("ci", build_ci)
    _BUILDERS.setdefault("manifests", build_manifests)


class Sources:
    """Raw facts of one scan, each built at most once, on first use, timed separately from the probes."""

    def __init__(self, repo: RepoView) -> None:
        self.repo = repo
        self.timings: dict[str, float] = {}
        self._facts: dict[str, Any] = {}
        self._errors: dict[str, BaseException] = {}
        self._python = PythonFacts()
        self.jobs = 1  # processes of a later Python pass (a reader that asks for more modules once it knows why)

    @staticmethod
    def of(repo: RepoView) -> Sources:
        """The sources attached to ``repo`` (one per view, so one per scan), created on first use."""
        found = getattr(repo, "_sources", None)
        if found is None:
            found = Sources(repo)
            repo._sources = found  # type: ignore[attr-defined]
        return cast(Sources, found)

    def get(self, name: str) -> Any:
        """The fact ``name``, built now if it was not yet; a builder's error is raised again to every user."""
        if name in self._facts:
            return self._facts[name]
        if name in self._errors:
            raise self._errors[name]
        if name not in _BUILDERS:
            _core_builders()
        build = _BUILDERS.get(name)
        if build is None:
            raise KeyError(f"no source named {name!r}")
        start = time.perf_counter()
        try:
            value = build(self.repo)
        except Exception as exc:
            self._errors[name] = exc
            raise
        finally:
            self.timings[name] = self.timings.get(name, 0.0) + time.perf_counter() - start
        self._facts[name] = value
        return value

    def built(self, name: str) -> bool:
        """True once ``name`` was built (or failed)."""
        return name in self._facts or name in self._errors

    def run_python(self, visitors: Sequence[PythonVisitor[Any]], jobs: int | None = None) -> None:
        """Run the one Python pass for the visitors that have not run yet (timed as ``python``); ``jobs`` given
        once is kept for the passes that follow."""
        if jobs is not None:
            self.jobs = jobs
        missing = [v for v in visitors if v.name not in self._python.results and v.name not in self._python.failures]
        if not missing:
            return
        start = time.perf_counter()
        try:
            self._python.merge(run_python_pass(self.repo, missing, self.jobs))
        except BaseException as exc:  # a time limit, a dead worker: every visitor of this run failed (fail closed)
            why = str(exc) or type(exc).__name__
            self._python.merge(PythonFacts(failures={v.name: f"Python pass did not finish: {why}" for v in missing}))
            raise
        finally:
            self.timings["python"] = self.timings.get("python", 0.0) + time.perf_counter() - start

    def python(self, visitor: PythonVisitor[T]) -> list[tuple[str, T]]:
        """The facts ``visitor`` found, ``(path, fact)`` in path order; the pass runs now if it has not yet.

        Raises :class:`~mlposture.scanner.sources.python.VisitorFailed` when the visitor failed on some module.
        """
        self.run_python([visitor])
        return self._python.of(visitor)

    @property
    def python_pass(self) -> PythonFacts:
        """Everything the Python pass found so far (counts for the report)."""
        return self._python

    @property
    def ci(self) -> CiModel:
        """The CI model (GitHub Actions, GitLab CI, pre-commit, update bots)."""
        return cast("CiModel", self.get("ci"))

    @property
    def manifests(self) -> Manifests:
        """Every declared and locked dependency, with index settings and notes."""
        return cast("Manifests", self.get("manifests"))


@dataclass(frozen=True)
class ScanContext:
    """What a probe's ``scan`` gets: the view, the settings and the shared facts of this scan."""

    repo: RepoView
    settings: Settings
    sources: Sources
