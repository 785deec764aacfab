"""What the dashboard shows, as plain values read from the fleet database (the pages and the API share them)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

RISKS = ("Critical Risk", "High Risk", "Medium Risk", "Low Risk", "Secure")
RISK_RANK = {risk: i for i, risk in enumerate(RISKS)}  # 0 is the worst


def risk_slug(risk: str | None) -> str:
    """CSS class suffix of a risk label ("Critical Risk" -> "critical"); "none" when there is no score."""
    if not risk or risk not in RISK_RANK:
        return "none"
    return risk.split()[0].lower()


def _opt_str(value: Any) -> str | None:
    return value if isinstance(value, str) else None


def _opt_num(value: Any) -> float | None:
    return float(value) if isinstance(value, (int, float)) and not isinstance(value, bool) else None


@dataclass(frozen=True)
class CategoryCell:
    """One category's score and risk in one repository's latest scan."""

    id: str
    name: str
    score: float | None
    risk: str | None


@dataclass(frozen=True)
class RepoRow:
    """One repository with its latest scan: a row of the overview.

    ``status`` is the repository's object of ``mlposture fleet status --format json`` (also ``/api/repos``); the
    other fields add what only the page shows (category cells, the previous score, the LockML view).
    """

    status: dict[str, Any]
    scan_id: int | None
    lockml_score: int | None
    lockml_risk: str | None
    previous_score: float | None
    categories: tuple[CategoryCell, ...]

    @property
    def repo(self) -> str:
        """The repository's name, unique in the fleet."""
        return str(self.status.get("repo") or "")

    @property
    def source(self) -> str:
        """Where it was scanned from (masked URL or path)."""
        return str(self.status.get("source") or "")

    @property
    def commit(self) -> str | None:
        """Commit of the latest scan."""
        return _opt_str(self.status.get("commit"))

    @property
    def score(self) -> float | None:
        """Score of the latest scan with a report."""
        return _opt_num(self.status.get("score"))

    @property
    def risk(self) -> str | None:
        """Risk label of that score."""
        return _opt_str(self.status.get("risk"))

    @property
    def coverage(self) -> float | None:
        """Share of controls decided (0 to 1)."""
        return _opt_num(self.status.get("coverage"))

    @property
    def gate_passed(self) -> bool | None:
        """The gate's verdict in the latest scan."""
        value = self.status.get("gate_passed")
        return value if isinstance(value, bool) else None

    @property
    def dangerous_artifacts(self) -> int:
        """Model files that can run code when loaded."""
        value = self.status.get("dangerous_artifacts")
        return value if isinstance(value, int) and not isinstance(value, bool) else 0

    @property
    def scans(self) -> int:
        """How many scans are stored."""
        value = self.status.get("scans")
        return value if isinstance(value, int) and not isinstance(value, bool) else 0

    @property
    def scanned_at(self) -> str | None:
        """When the latest scan finished (ISO 8601, UTC)."""
        return _opt_str(self.status.get("scanned_at"))

    @property
    def error(self) -> str | None:
        """Why the newest attempt failed, when it did."""
        return _opt_str(self.status.get("error"))

    @property
    def delta(self) -> float | None:
        """Score change since the previous stored scan."""
        if self.score is None or self.previous_score is None:
            return None
        return round(self.score - self.previous_score, 1)

    def category(self, category_id: str) -> CategoryCell | None:
        """The cell of one category, if the scan has it."""
        return next((c for c in self.categories if c.id == category_id), None)


@dataclass(frozen=True)
class EvidenceLine:
    """One piece of evidence of a control in a report: its effect, where, and what it says."""

    effect: str
    path: str | None
    line: int | None
    message: str
    probe: str

    @property
    def where(self) -> str:
        """``path:line`` (``.`` for the repository as a whole)."""
        path = self.path or "."
        return f"{path}:{self.line}" if self.line else path


@dataclass(frozen=True)
class ControlStatus:
    """One repository's status for one control in its latest scan, with the evidence behind it."""

    repo: str
    status: str
    source: str
    scan_id: int
    commit: str | None
    scanned_at: str | None
    evidence: tuple[EvidenceLine, ...]
    reason: str

    def as_json(self) -> dict[str, Any]:
        """The object of ``/api/controls/{control_id}``."""
        return {
            "repo": self.repo, "status": self.status, "source": self.source, "scan_id": self.scan_id,
            "commit": self.commit, "scanned_at": self.scanned_at, "reason": self.reason or None,
            "evidence": [{"effect": e.effect, "path": e.path, "line": e.line, "message": e.message, "probe": e.probe}
                         for e in self.evidence],
        }


def evidence_lines(control: dict[str, Any]) -> tuple[EvidenceLine, ...]:
    """The evidence of one control object of a JSON report, read defensively."""
    out = []
    for ev in control.get("evidence") or ():
        if not isinstance(ev, dict):
            continue
        line = ev.get("line")
        out.append(EvidenceLine(str(ev.get("effect") or ""), _opt_str(ev.get("path")),
                                line if isinstance(line, int) and not isinstance(line, bool) else None,
                                str(ev.get("message") or ""), str(ev.get("probe") or "")))
    return tuple(out)
