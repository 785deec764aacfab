"""Text forms of ``fleet status`` (table, JSON, CSV) and ``fleet report`` (Markdown, JSON, CSV).

Repository names, paths and error messages come from scanned repositories and remote servers: control characters
never reach a terminal, Markdown cells are escaped, and CSV cells that a spreadsheet would run as a formula are
quoted as text.
"""

from __future__ import annotations

import csv
import io
import json
import re
from collections.abc import Iterable
from typing import Any

from mlposture.fleet.store import RepoStatus
from mlposture.fleet.store.queries import STATUS_FIELDS
from mlposture.fleet.summary import FleetSummary

_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f\u200b-\u200f\u202a-\u202e\u2066-\u2069]")
_MARKDOWN = re.compile(r"([\\`*_{}\[\]<>()#+!|~])")


def printable(value: object) -> str:
    """One line without control or bidirectional-override characters (shown as ``\\xNN``)."""
    return _CONTROL.sub(lambda m: f"\\x{ord(m.group()):02x}" if ord(m.group()) < 0x100 else "?", str(value))


def md(value: object) -> str:
    """Text safe inside a Markdown table cell."""
    return _MARKDOWN.sub(r"\\\1", printable(value))


def csv_cell(value: object) -> str:
    """A CSV cell; a leading =, +, -, @ of text is neutralised (spreadsheet formula injection)."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    text = printable(value)
    if not isinstance(value, (int, float)) and text[:1] in ("=", "+", "-", "@"):
        return "'" + text
    return text


def _csv(header: Iterable[str], rows: Iterable[Iterable[object]]) -> str:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(list(header))
    for row in rows:
        writer.writerow([csv_cell(v) for v in row])
    return out.getvalue()


def _fmt(value: Any) -> str:
    if value is None:
        return "-"
    if isinstance(value, bool):
        return "passed" if value else "FAILED"
    if isinstance(value, float):
        return f"{value:.1f}"
    return str(value)


# ---------------------------------------------------------------------------------------------- fleet status
def status_json(rows: list[RepoStatus]) -> str:
    """A list of the documented objects."""
    return json.dumps([r.as_dict() for r in rows], indent=2, ensure_ascii=False) + "\n"


def status_csv(rows: list[RepoStatus]) -> str:
    """One header line, one line per repository, the documented fields in order."""
    return _csv(STATUS_FIELDS, ([getattr(r, f) for f in STATUS_FIELDS] for r in rows))


def status_table(rows: list[RepoStatus]) -> str:
    """Aligned columns for a terminal."""
    header = ("repo", "score", "risk", "coverage", "gate", "dangerous", "scans", "scanned_at", "commit", "error")
    body = [(
        printable(r.repo), _fmt(r.score), _fmt(r.risk), "-" if r.coverage is None else f"{r.coverage:.0%}",
        _fmt(r.gate_passed), _fmt(r.dangerous_artifacts), str(r.scans), _fmt(r.scanned_at),
        (r.commit or "-")[:12], printable(r.error or "")[:60],
    ) for r in rows]
    widths = [max(len(h), *(len(row[i]) for row in body)) if body else len(h) for i, h in enumerate(header)]
    lines = ["  ".join(h.ljust(w) for h, w in zip(header, widths, strict=True)).rstrip()]
    lines += ["  ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)).rstrip() for row in body]
    if not body:
        lines.append("(no repositories in the database)")
    return "\n".join(lines) + "\n"


# ---------------------------------------------------------------------------------------------- fleet report
def report_json(summary: FleetSummary) -> str:
    """The whole summary as JSON."""
    return json.dumps(summary.as_dict(), indent=2, ensure_ascii=False) + "\n"


def report_csv(summary: FleetSummary) -> str:
    """Tidy rows: section, subject, metric, value."""
    rows: list[tuple[object, ...]] = [("totals", "repositories", "count", summary.repositories),
                                      ("totals", "scanned", "count", summary.scanned)]
    rows += [("failing", repo, "latest_attempt", "error") for repo in summary.failing]
    rows += [("risk", g.risk, "repositories", len(g.repos)) for g in summary.by_risk]
    rows += [("risk_member", repo, "risk", g.risk) for g in summary.by_risk for repo in g.repos]
    for c in summary.controls:
        rows += [("control", c.control, "fail", c.fail), ("control", c.control, "unverified", c.unverified)]
    rows += [("dangerous_artifact", a.repo, "path", p) for a in summary.artifacts for p in a.paths]
    for w in summary.weeks:
        rows += [("week", w.week, "mean_score", w.mean_score), ("week", w.week, "scans", w.scans)]
    for d in summary.drops:
        rows += [("score_drop", d.repo, "previous_score", d.previous_score), ("score_drop", d.repo, "score", d.score)]
    return _csv(("section", "subject", "metric", "value"), rows)


def report_markdown(summary: FleetSummary) -> str:
    """The organisation summary for people."""
    out = ["# ML security posture of the fleet", "",
           f"{summary.repositories} repositories, {summary.scanned} with a stored scan."]
    if summary.failing:
        out.append(f"Latest attempt failed for: {', '.join(md(r) for r in summary.failing)}.")
    out += ["", "## Repositories by risk", "", "| Risk | Repositories | Which |", "|---|---:|---|"]
    out += [f"| {md(g.risk)} | {len(g.repos)} | {', '.join(md(r) for r in g.repos)} |" for g in summary.by_risk]
    out += ["", "## Controls most often failing or unverified", ""]
    if summary.controls:
        out += ["| Control | Title | Severity | Failing in | Unverified in |", "|---|---|---|---:|---:|"]
        out += [f"| {md(c.control)} | {md(c.title)} | {md(c.severity)} | {c.fail} | {c.unverified} |"
                for c in summary.controls]
    else:
        out.append("None.")
    out += ["", "## Dangerous model artifacts", "",
            "Model files whose loading can run code (a critical serialization finding).", ""]
    if summary.artifacts:
        out += ["| Repository | Files |", "|---|---|"]
        out += [f"| {md(a.repo)} | {'<br>'.join(md(p) for p in a.paths)} |" for a in summary.artifacts]
    else:
        out.append("None.")
    out += ["", "## Mean score per week", ""]
    if summary.weeks:
        out += ["| Week | Mean score | Scans |", "|---|---:|---:|"]
        out += [f"| {w.week} | {w.mean_score:.1f} | {w.scans} |" for w in summary.weeks]
    else:
        out.append("No scans yet.")
    out += ["", "## Score dropped since the previous scan", ""]
    if summary.drops:
        out += ["| Repository | Previous | Latest | Change | Commits |", "|---|---:|---:|---:|---|"]
        out += [f"| {md(d.repo)} | {d.previous_score:.1f} | {d.score:.1f} | {d.score - d.previous_score:+.1f} | "
                f"{md((d.previous_commit or '?')[:12])} → {md((d.commit or '?')[:12])} |" for d in summary.drops]
    else:
        out.append("None.")
    return "\n".join(out) + "\n"
