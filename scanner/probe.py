"""The probe interface and the values probes produce.

A probe reads the shared :class:`~mlposture.scanner.repo.RepoView` and yields facts: evidence for controls, findings at
places, notes about files it could not read, and applicability verdicts. It never decides a control's final
status; the engine does, so that every probe is judged by the same rules (fail evidence wins, and so on).
"""

from __future__ import annotations

import enum
import hashlib
from abc import ABC
from collections.abc import Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, ClassVar

if TYPE_CHECKING:
    from mlposture.scanner.repo import RepoView
    from mlposture.scanner.settings import Settings
    from mlposture.scanner.sources import ScanContext
    from mlposture.scanner.sources.python import PythonVisitor


class Effect(str, enum.Enum):
    """What a piece of evidence says about its control."""

    PASS = "pass"
    PARTIAL = "partial"
    FAIL = "fail"


class Severity(str, enum.Enum):
    """Severity of a control or a finding. ``info`` findings never gate."""

    CRITICAL = "critical"
    HIGH = "high"
    MEDIUM = "medium"
    LOW = "low"
    INFO = "info"

    @property
    def rank(self) -> int:
        """Higher is worse; used by the gate and for sorting."""
        return {"critical": 4, "high": 3, "medium": 2, "low": 1, "info": 0}[self.value]


@dataclass(frozen=True)
class Evidence:
    """One observation that speaks for (or against) one control.

    ``path`` is relative to the scanned root with ``/`` separators; ``None`` means the repository as a whole.
    ``message`` is one line a reviewer can check against the file ("retention_in_days = 14, below 90").
    """

    control: str
    effect: Effect
    message: str
    path: str | None = None
    line: int | None = None
    rule: str = ""


@dataclass(frozen=True)
class Location:
    """One place of a finding that groups several facts of one kind in one file (the line and what is there)."""

    line: int | None
    message: str = ""
    content: str = ""


@dataclass(frozen=True)
class Finding:
    """A concrete problem at a place, with a stable fingerprint.

    ``controls`` lists the controls it counts against: the engine turns each finding into evidence with
    ``effect`` (``fail`` by default) for each of them, unless an accepted exception covers the finding.
    ``content`` is what identifies the problem independently of its line (the requirement text, the
    dangerous global, the masked secret): it feeds the fingerprint so that moving a line keeps the id.
    """

    rule: str
    severity: Severity
    message: str
    path: str | None = None
    line: int | None = None
    controls: tuple[str, ...] = ()
    content: str = ""
    effect: Effect = Effect.FAIL
    locations: tuple[Location, ...] = ()  # set by the engine when it groups repeated facts (docs/context.md)

    @property
    def lines(self) -> tuple[int, ...]:
        """Every line this finding points at, in order (one for an ungrouped finding)."""
        if self.locations:
            return tuple(loc.line for loc in self.locations if loc.line is not None)
        return (self.line,) if self.line is not None else ()

    @property
    def fingerprint(self) -> str:
        """Stable id: path + rule + content hash (not the line number). The engine keeps it unique per problem."""
        basis = "\x00".join((self.path or "", self.rule, self.content or self.message))
        return hashlib.sha256(basis.encode("utf-8", "surrogateescape")).hexdigest()[:32]


@dataclass(frozen=True)
class Note:
    """Something the report should mention that is neither evidence nor a finding.

    Typically a file that could not be parsed: the scan goes on, and the reviewer learns that this file
    contributed nothing.
    """

    message: str
    path: str | None = None
    line: int | None = None


@dataclass(frozen=True)
class NotApplicable:
    """The probe found that a control does not apply to this repository, and why (``rule``: the declared rule whose
    absence check decided it, when the probe declares one)."""

    control: str
    reason: str
    rule: str = ""


@dataclass(frozen=True)
class Searched:
    """What a probe looked for on behalf of a control, so an unverified control can say what was searched."""

    control: str
    what: str


ProbeItem = Evidence | Finding | Note | NotApplicable | Searched


@dataclass(frozen=True)
class ProbeInfo:
    """Static description of a probe, for ``mlposture probes`` and the report."""

    name: str
    version: str
    description: str
    controls: tuple[str, ...]
    distribution: str = ""
    rules: tuple[Rule, ...] = ()


@dataclass(frozen=True)
class Rule:
    """One rule a probe applies: the id its items carry, the controls it speaks for, one line saying what it
    looks for (SARIF rule text, ``mlposture probes``), and the severity of its findings when it has any."""

    id: str  # "<probe name>.<slug>"
    controls: tuple[str, ...]
    summary: str
    severity: Severity | None = None


class Probe(ABC):
    """Base class of every probe, built-in or third-party.

    Subclasses set ``name``, ``version`` and ``controls`` (the control ids the probe can speak for), document
    what they read in the class or module docstring, and implement :meth:`run`. They are registered in the
    ``mlposture.probes`` entry-point group and instantiated without arguments.

    Contract of ``run``: read only through ``repo`` (never execute, import or unpickle repository content),
    bound every read, and report bad input as :class:`Note` items instead of raising. If it raises anyway, the
    engine records the error and marks the probe's controls unverified with the error as the reason.
    """

    name: ClassVar[str]
    version: ClassVar[str] = "0.1.0"
    controls: ClassVar[tuple[str, ...]] = ()
    #: The rules it applies; when declared, ``controls`` is derived from them and the engine notes any item whose
    #: rule is not declared.
    rules: ClassVar[tuple[Rule, ...]] = ()
    #: Shared facts this probe reads (``"ci"``, ``"manifests"``, or a name a plugin registered); the engine builds
    #: them before the probe runs, timed apart from it.
    uses: ClassVar[tuple[str, ...]] = ()
    #: Readers of Python modules and notebooks; the engine runs them all in one pass over the files before the
    #: probes, and the probe reads their facts with ``ctx.sources.python(visitor)``.
    python_visitors: ClassVar[tuple[PythonVisitor[Any], ...]] = ()
    #: True for a probe that reads every file of the tree itself (a content sniff, a secret scan): with ``--jobs``
    #: the engine starts such probes first, so the longest runs do not end up alone at the end.
    reads_every_file: ClassVar[bool] = False

    def run(self, repo: RepoView, settings: Settings) -> Iterable[ProbeItem]:
        """Yield the evidence, findings, notes and applicability verdicts for ``repo``.

        The original plugin signature, still supported. A probe implements either this or :meth:`scan`.
        """
        if not self.uses_context():
            raise NotImplementedError(f"probe {self.name} implements neither run() nor scan()")
        from mlposture.scanner.sources import ScanContext, Sources

        return self.scan(ScanContext(repo, settings, Sources.of(repo)))

    def scan(self, ctx: ScanContext) -> Iterable[ProbeItem]:
        """Like :meth:`run`, with the scan's shared facts at hand (``ctx.sources``); the engine prefers it."""
        return self.run(ctx.repo, ctx.settings)

    def __init_subclass__(cls, **kwargs: object) -> None:
        super().__init_subclass__(**kwargs)
        if cls.rules and "controls" not in cls.__dict__:
            cls.controls = tuple(dict.fromkeys(c for r in cls.rules for c in r.controls))
        for r in cls.rules:
            if not r.id.startswith(f"{cls.name}."):
                raise TypeError(f"probe {cls.name}: rule {r.id!r} must start with '{cls.name}.'")

    @classmethod
    def uses_context(cls) -> bool:
        """True when the probe implements :meth:`scan` (the engine then calls it instead of :meth:`run`)."""
        return cls.scan is not Probe.scan

    @classmethod
    def info(cls, distribution: str = "") -> ProbeInfo:
        """Describe the probe: its docstring's first paragraph is the description."""
        doc = (cls.__doc__ or "").strip()
        first = doc.split("\n\n", 1)[0]
        description = " ".join(line.strip() for line in first.splitlines())
        return ProbeInfo(
            name=cls.name,
            version=cls.version,
            description=description,
            controls=tuple(cls.controls),
            distribution=distribution,
            rules=tuple(cls.rules),
        )


@dataclass(frozen=True)
class ProbeRun:
    """What the engine recorded about one probe's run."""

    info: ProbeInfo
    items: tuple[ProbeItem, ...] = ()
    error: str | None = None
    seconds: float = 0.0

    @property
    def ok(self) -> bool:
        """True when the probe completed without raising."""
        return self.error is None


@dataclass(frozen=True)
class ProbeLoadError:
    """An entry point that could not be loaded (import error, not a Probe subclass)."""

    name: str
    error: str
    distribution: str = ""
