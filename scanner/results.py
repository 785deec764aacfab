"""Values of a finished scan: control results, recorded findings, scores and the gate verdict.

Writers read only these values, so every format tells the same story.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass

from mlposture.scanner.answers import Answer, RiskException
from mlposture.scanner.catalog import Catalog, Control
from mlposture.scanner.gitinfo import GitInfo
from mlposture.scanner.probe import Evidence, Finding, Note, ProbeLoadError, ProbeRun

LOWERS_GATE = "this repository's config lowers the gate"


@dataclass(frozen=True)
class RepoSetting:
    """A setting the scanned repository's own config made that lowers the gate or hides findings."""

    name: str
    value: str
    path: str  # the repository file (pyproject.toml or .mlposture.yaml)
    line: int | None
    why: str

    def describe(self) -> str:
        """One line for every report: what, where and why."""
        where = f"{self.path}:{self.line}" if self.line else self.path
        return f"{LOWERS_GATE}: {self.name} = {self.value} ({where}): {self.why}"


class Status(str, enum.Enum):
    """Final status of a control (docs/contracts.md, "Statuses")."""

    PASS = "pass"
    PARTIAL = "partial"
    FAIL = "fail"
    UNVERIFIED = "unverified"
    NOT_APPLICABLE = "not_applicable"


STATUS_VALUE = {Status.PASS: 1.0, Status.PARTIAL: 0.5, Status.FAIL: 0.0, Status.UNVERIFIED: 0.0}


@dataclass(frozen=True)
class RecordedEvidence:
    """Evidence with the probe that produced it (and the finding it came from, if any)."""

    probe: str
    evidence: Evidence
    finding: str | None = None  # fingerprint
    context: str = "production"  # mlposture.scanner.context.Context value of its path
    counted: bool = True  # False: shown, but left out of the control's status (context not counted)


@dataclass(frozen=True)
class RecordedFinding:
    """A finding with its probe, and the accepted-risk exception that covers it, if any."""

    probe: str
    finding: Finding
    accepted: RiskException | None = None
    context: str = "production"  # mlposture.scanner.context.Context value of its path
    counted: bool = True  # False: a non-production finding, reported apart; fails no control and not the gate

    @property
    def fingerprint(self) -> str:
        """The finding's stable fingerprint."""
        return self.finding.fingerprint


@dataclass(frozen=True)
class ControlResult:
    """The decided status of one control, with everything that decided it."""

    control: Control
    status: Status
    source: str  # "evidence" | "answer" | "none"
    evidence: tuple[RecordedEvidence, ...] = ()
    answer: Answer | None = None
    reason: str = ""  # why unverified / not applicable; the contradiction for a contested fail
    searched: tuple[str, ...] = ()
    contradiction: str | None = None


@dataclass(frozen=True)
class CategoryScore:
    """Score, risk and status counts of one category."""

    id: str
    name: str
    score: float
    risk: str
    counts: dict[str, int]


@dataclass(frozen=True)
class Scores:
    """Overall and per-category scores, the LockML view and coverage."""

    score: float
    risk: str
    coverage: float
    lockml_score: int
    lockml_risk: str
    categories: tuple[CategoryScore, ...]


@dataclass(frozen=True)
class Blocker:
    """One reason the gate failed, with what would unblock it."""

    kind: str  # "control" | "finding" | "score" | "probe"
    id: str  # control id, finding fingerprint, "score", or the failed probe's name
    severity: str
    message: str
    unblock: str


@dataclass(frozen=True)
class GateResult:
    """The CI gate's verdict."""

    fail_on: str
    passed: bool
    blockers: tuple[Blocker, ...]
    warnings: tuple[str, ...] = ()

    @property
    def blocking_controls(self) -> list[str]:
        """Ids of the controls that block, in order."""
        return [b.id for b in self.blockers if b.kind == "control"]


@dataclass(frozen=True)
class Target:
    """What was scanned."""

    path: str
    git: GitInfo | None
    url: str | None = None
    ref: str | None = None


@dataclass(frozen=True)
class ScanResult:
    """Everything a writer needs."""

    tool_version: str
    target: Target
    generated_at: str
    catalog: Catalog
    controls: tuple[ControlResult, ...]
    findings: tuple[RecordedFinding, ...]
    probes: tuple[ProbeRun, ...]
    load_errors: tuple[ProbeLoadError, ...]
    notes: tuple[Note, ...]
    warnings: tuple[str, ...]
    scores: Scores
    gate: GateResult
    counted_contexts: tuple[str, ...] = ("production",)
    context_sources: tuple[str, ...] = ()  # the project's config files that informed the context rule
    sources: tuple[tuple[str, float], ...] = ()  # shared facts built for the probes, with the seconds each took
    repo_config: tuple[RepoSetting, ...] = ()  # repository settings that lower the gate, shown in every report

    def control(self, control_id: str) -> ControlResult | None:
        """The result of one control."""
        return next((c for c in self.controls if c.control.id == control_id), None)
