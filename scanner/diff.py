"""Release-to-release comparison of two JSON reports (``mlposture diff OLD.json NEW.json``).

Controls are followed by id and findings by fingerprint, both stable across runs, so a moved line is not a new
finding. The Markdown output is meant for a pull-request comment.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

RANK = {"pass": 3, "not_applicable": 3, "partial": 2, "unverified": 1, "fail": 0}
SEVERITY_ORDER = {"critical": 0, "high": 1, "medium": 2, "low": 3, "info": 4}


class DiffError(ValueError):
    """A file that is not a mlposture JSON report."""


@dataclass(frozen=True)
class ControlChange:
    """A control whose status changed between the two reports."""

    id: str
    title: str
    severity: str
    old: str
    new: str

    @property
    def regressed(self) -> bool:
        """Pass or partial (or not applicable) became fail or unverified."""
        return self.old in ("pass", "partial", "not_applicable") and self.new in ("fail", "unverified")


@dataclass(frozen=True)
class ReportDiff:
    """Everything that changed."""

    old_score: float
    new_score: float
    old_coverage: float
    new_coverage: float
    changes: tuple[ControlChange, ...]
    new_findings: tuple[dict[str, Any], ...]
    resolved_findings: tuple[dict[str, Any], ...]
    old_label: str
    new_label: str

    @property
    def regressions(self) -> list[ControlChange]:
        """Controls that got worse."""
        return [c for c in self.changes if c.regressed]

    @property
    def improvements(self) -> list[ControlChange]:
        """Controls that got better."""
        return [c for c in self.changes if RANK[c.new] > RANK[c.old]]

    @property
    def other_changes(self) -> list[ControlChange]:
        """Changes that are neither (pass to partial, fail to unverified, ...)."""
        return [c for c in self.changes if not c.regressed and RANK[c.new] <= RANK[c.old]]


def load_report(path: Path) -> dict[str, Any]:
    """Read a JSON report; raises :class:`DiffError` naming the file."""
    try:
        data = json.loads(path.read_text("utf-8"))
    except OSError as exc:
        raise DiffError(f"{path}: cannot read: {exc.strerror or exc}") from None
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        line = getattr(exc, "lineno", None)
        raise DiffError(f"{path}:{line}: not JSON: {exc}" if line else f"{path}: not JSON: {exc}") from None
    if not isinstance(data, dict) or data.get("schema_version") != 1 or "controls" not in data:
        raise DiffError(f"{path}: not a mlposture JSON report (schema_version 1)")
    return data


def _label(report: dict[str, Any]) -> str:
    target = report.get("target") or {}
    git = target.get("git") or {}
    commit = (git.get("commit") or "")[:12]
    return f"{target.get('url') or target.get('path', '?')}" + (f" @ {commit}" if commit else "")


def diff_reports(old: dict[str, Any], new: dict[str, Any]) -> ReportDiff:
    """Compare two reports."""
    old_controls = {c["id"]: c for c in old["controls"]}
    changes = []
    for c in new["controls"]:
        before = old_controls.get(c["id"])
        if before is not None and before["status"] != c["status"]:
            changes.append(ControlChange(c["id"], c["title"], c["severity"], before["status"], c["status"]))
    changes.sort(key=lambda ch: (not ch.regressed, SEVERITY_ORDER.get(ch.severity, 9), ch.id))
    # findings outside the counted contexts (``counted: false``, docs/context.md) are neither new nor resolved problems
    old_prints = {f["fingerprint"]: f for f in old.get("findings", []) if f.get("counted", True)}
    new_prints = {f["fingerprint"]: f for f in new.get("findings", []) if f.get("counted", True)}
    added = sorted((f for fp, f in new_prints.items() if fp not in old_prints),
                   key=lambda f: (SEVERITY_ORDER.get(f["severity"], 9), f.get("path") or ""))
    resolved = sorted((f for fp, f in old_prints.items() if fp not in new_prints),
                      key=lambda f: (SEVERITY_ORDER.get(f["severity"], 9), f.get("path") or ""))
    return ReportDiff(old["score"], new["score"], old.get("coverage", 0.0), new.get("coverage", 0.0),
                      tuple(changes), tuple(added), tuple(resolved), _label(old), _label(new))


def _where(f: dict[str, Any]) -> str:
    path = f.get("path") or "."
    return f"{path}:{f['line']}" if f.get("line") else path


def render_markdown(d: ReportDiff) -> str:
    """A pull-request comment."""
    delta = round(d.new_score - d.old_score, 1)
    cov = round((d.new_coverage - d.old_coverage) * 100)
    out = ["## mlposture: changes since the baseline", "",
           f"Score **{d.old_score} → {d.new_score}** ({delta:+}) · coverage {round(d.old_coverage * 100)}% → "
           f"{round(d.new_coverage * 100)}% ({cov:+} points)", "",
           f"Baseline: `{d.old_label}` · New: `{d.new_label}`", ""]
    regressions, improvements = d.regressions, d.improvements
    out.append(f"### Regressions ({len(regressions)})")
    out.append("")
    if regressions:
        out += ["| Control | Severity | Before | After |", "|---|---|---|---|"]
        out += [f"| {c.id} {c.title} | {c.severity} | {c.old} | **{c.new}** |" for c in regressions]
    else:
        out.append("None.")
    out.append("")
    out.append(f"### New findings ({len(d.new_findings)})")
    out.append("")
    if d.new_findings:
        out += ["| Severity | Rule | Location | Message |", "|---|---|---|---|"]
        out += [f"| {f['severity']} | `{f['rule']}` | `{_where(f)}` | {str(f['message']).replace('|', '/')} |"
                for f in d.new_findings]
    else:
        out.append("None.")
    out.append("")
    if improvements:
        out.append(f"### Improvements ({len(improvements)})")
        out.append("")
        out += [f"- {c.id} {c.title}: {c.old} → {c.new}" for c in improvements]
        out.append("")
    if d.other_changes:
        out.append(f"### Other changes ({len(d.other_changes)})")
        out.append("")
        out += [f"- {c.id} {c.title}: {c.old} → {c.new}" for c in d.other_changes]
        out.append("")
    if d.resolved_findings:
        out.append(f"### Resolved findings ({len(d.resolved_findings)})")
        out.append("")
        out += [f"- [{f['severity']}] `{f['rule']}` at `{_where(f)}`" for f in d.resolved_findings]
        out.append("")
    return "\n".join(out).rstrip() + "\n"


def render_json(d: ReportDiff) -> str:
    """Machine-readable diff."""
    return json.dumps({
        "score": {"old": d.old_score, "new": d.new_score, "delta": round(d.new_score - d.old_score, 1)},
        "coverage": {"old": d.old_coverage, "new": d.new_coverage},
        "regressions": [c.__dict__ for c in d.regressions],
        "improvements": [c.__dict__ for c in d.improvements],
        "new_findings": list(d.new_findings),
        "resolved_findings": list(d.resolved_findings),
    }, indent=2) + "\n"
