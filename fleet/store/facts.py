"""What the fleet database keeps from one JSON report (schema_version 1), read without trusting its shape.

Reports come from fleet workers and from ``fleet import`` of files produced elsewhere, so every field is checked
before it becomes a column; a malformed report is refused with a message naming the field.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from typing import Any

SERIALIZATION_PREFIX = "serialization."


class ReportError(ValueError):
    """A document that is not a usable mlposture JSON report."""


@dataclass(frozen=True)
class ControlFact:
    """One control's status in the report."""

    control_id: str
    status: str
    source: str


@dataclass(frozen=True)
class FindingFact:
    """One finding in the report."""

    rule: str
    severity: str
    path: str
    line: int | None
    fingerprint: str


@dataclass(frozen=True)
class ReportFacts:
    """The report's columns, its control results and findings."""

    path: str
    url: str | None
    commit: str | None
    ref: str | None
    dirty: bool | None
    tool_version: str
    catalog_digest: str
    score: float
    risk: str
    coverage: float
    lockml_score: int | None
    lockml_risk: str | None
    gate_passed: bool
    dangerous_artifacts: int
    controls: tuple[ControlFact, ...]
    findings: tuple[FindingFact, ...]

    @property
    def deduplicable(self) -> bool:
        """A clean checkout of a known commit: scanning it again with the same tool gives the same report."""
        return self.commit is not None and self.dirty is not True


def _kinds(kind: type | tuple[type, ...]) -> tuple[type, ...]:
    return kind if isinstance(kind, tuple) else (kind,)


def _fits(value: Any, kind: type | tuple[type, ...]) -> bool:
    kinds = _kinds(kind)
    return isinstance(value, kinds) and (bool in kinds or not isinstance(value, bool))


def _get(data: dict[str, Any], key: str, kind: type | tuple[type, ...], where: str = "") -> Any:
    value = data.get(key)
    if not _fits(value, kind):
        raise ReportError(f"field '{where}{key}' is missing or has the wrong type")
    return value


def _opt(data: dict[str, Any], key: str, kind: type | tuple[type, ...]) -> Any:
    value = data.get(key)
    return value if _fits(value, kind) else None


def catalog_digest(controls: list[dict[str, Any]]) -> str:
    """SHA-256 over the catalog as the report states it (id, title, category, severity, LockML id, mappings).

    Derived from the report itself, so reports imported from elsewhere and fleet scans are compared alike: two
    reports have the same digest exactly when their controls were defined the same way.
    """
    rows = sorted(
        [c.get("id"), c.get("title"), c.get("category"), c.get("severity"), c.get("lockml_id"), c.get("mappings")]
        for c in controls
    )
    canonical = json.dumps(rows, sort_keys=True, separators=(",", ":"), ensure_ascii=True, default=str)
    return hashlib.sha256(canonical.encode("ascii")).hexdigest()


def dangerous_artifact_paths(findings: tuple[FindingFact, ...]) -> list[str]:
    """Model files with a critical serialization finding (loading them can run code), sorted."""
    return sorted({f.path for f in findings if f.rule.startswith(SERIALIZATION_PREFIX) and f.severity == "critical"})


def read_facts(report: Any) -> ReportFacts:
    """The facts of one report; raises :class:`ReportError` for anything that is not schema_version 1."""
    if not isinstance(report, dict) or report.get("schema_version") != 1:
        raise ReportError("not a mlposture JSON report (schema_version 1)")
    target = _get(report, "target", dict)
    git: dict[str, Any] = target["git"] if isinstance(target.get("git"), dict) else {}
    tool = _get(report, "tool", dict)
    lockml: dict[str, Any] = report["lockml"] if isinstance(report.get("lockml"), dict) else {}
    gate = _get(report, "gate", dict)
    raw_controls = _get(report, "controls", list)
    raw_findings = _get(report, "findings", list)
    controls = []
    for i, c in enumerate(raw_controls):
        if not isinstance(c, dict):
            raise ReportError(f"field 'controls[{i}]' is not an object")
        controls.append(ControlFact(_get(c, "id", str, f"controls[{i}]."), _get(c, "status", str, f"controls[{i}]."),
                                    str(c.get("source") or "none")))
    findings = []
    for i, f in enumerate(raw_findings):
        if not isinstance(f, dict):
            raise ReportError(f"field 'findings[{i}]' is not an object")
        where = f"findings[{i}]."
        findings.append(FindingFact(_get(f, "rule", str, where), _get(f, "severity", str, where),
                                    str(f.get("path") or ""), _opt(f, "line", int), _get(f, "fingerprint", str, where)))
    found = tuple(findings)
    return ReportFacts(
        path=str(target.get("path") or ""),
        url=_opt(target, "url", str),
        commit=_opt(git, "commit", str),
        ref=_opt(git, "ref", str),
        dirty=_opt(git, "dirty", bool),
        tool_version=str(_get(tool, "version", str, "tool.")),
        catalog_digest=catalog_digest(raw_controls),
        score=float(_get(report, "score", (int, float))),
        risk=_get(report, "risk", str),
        coverage=float(_get(report, "coverage", (int, float))),
        lockml_score=_opt(lockml, "score", int),
        lockml_risk=_opt(lockml, "risk", str),
        gate_passed=_get(gate, "passed", bool, "gate."),
        dangerous_artifacts=len(dangerous_artifact_paths(found)),
        controls=tuple(controls),
        findings=found,
    )
