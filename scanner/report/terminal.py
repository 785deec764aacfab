"""Terminal summary: rich tables on a TTY, plain lines in CI logs, pipes or with ``NO_COLOR`` set."""

from __future__ import annotations

import io
import os
from typing import TextIO

from rich import box
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from mlposture.scanner.probe import Severity
from mlposture.scanner.report.interface import Writer, finding_location
from mlposture.scanner.report.textsafe import plain
from mlposture.scanner.results import ScanResult, Status

MAX_LISTED = 15
RISK_STYLE = {"Secure": "green", "Low Risk": "green", "Medium Risk": "yellow", "High Risk": "red",
              "Critical Risk": "bold red"}


def _finding_counts(result: ScanResult) -> str:
    parts = []
    for sev in (Severity.CRITICAL, Severity.HIGH, Severity.MEDIUM, Severity.LOW, Severity.INFO):
        n = sum(1 for f in result.findings if f.finding.severity is sev and f.accepted is None and f.counted)
        if n:
            parts.append(f"{n} {sev.value}")
    accepted = sum(1 for f in result.findings if f.accepted is not None and f.counted)
    if accepted:
        parts.append(f"{accepted} accepted")
    apart = sum(1 for f in result.findings if not f.counted)
    text = ", ".join(parts) or "none"
    if apart:
        text += f"; {apart} more in tests, examples, docs, fixtures or vendored code, not counted (--context)"
    return text


def _listed(result: ScanResult) -> list[str]:
    """The first findings that count, one line each, every line of a grouped finding on it."""
    return [f"  [{f.finding.severity.value}] {finding_location(f.finding.path, f.finding.lines)} {f.finding.rule}: "
            f"{f.finding.message}" for f in result.findings if f.accepted is None and f.counted][:MAX_LISTED]


def plain_summary(result: ScanResult) -> str:
    """The summary as plain text lines."""
    s = result.scores
    g = result.gate
    lines = [
        f"mlposture {result.tool_version}: {result.target.url or result.target.path}"
        + (f" @ {result.target.git.commit[:12]}" if result.target.git and result.target.git.commit else ""),
        f"Score {s.score}/100 ({s.risk}), coverage {round(s.coverage * 100)}%, "
        f"LockML view {s.lockml_score}/100 ({s.lockml_risk})",
    ]
    for c in s.categories:
        n = c.counts
        lines.append(f"  {c.name:<22} {c.score:>5}  {c.risk:<13} pass {n['pass']}, partial {n['partial']}, "
                     f"fail {n['fail']}, unverified {n['unverified']}, n/a {n['not_applicable']}")
    lines.extend(f"Limit: {n.message}" for n in result.notes if n.path is None)
    lines.append(f"Findings: {_finding_counts(result)}")
    lines.extend(_listed(result))
    errors = [p for p in result.probes if not p.ok]
    for p in errors:
        lines.append(f"Probe error: {p.info.name}: {p.error}")
    unverified = sum(1 for r in result.controls if r.status is Status.UNVERIFIED)
    if unverified:
        lines.append(f"{unverified} controls need a manual answer (mlposture answer)")
    lines.extend(r.describe() for r in result.repo_config)
    lines.append(f"Gate (--fail-on {g.fail_on}): {'passed' if g.passed else 'FAILED'}")
    for b in g.blockers[:MAX_LISTED]:
        lines.append(f"  blocking: {b.id} [{b.severity}] {b.message}")
    if len(g.blockers) > MAX_LISTED:
        lines.append(f"  ... and {len(g.blockers) - MAX_LISTED} more (see the report)")
    return "\n".join(plain(line) for line in lines) + "\n"  # no escape sequence or line break from a file name


def print_summary(result: ScanResult, stream: TextIO, force_plain: bool = False) -> None:
    """Rich tables when ``stream`` is a terminal and colour is allowed, plain text otherwise."""
    is_tty = hasattr(stream, "isatty") and stream.isatty()
    if force_plain or not is_tty or os.environ.get("NO_COLOR"):
        stream.write(plain_summary(result))
        return
    console = Console(file=stream, highlight=False)
    s = result.scores
    style = RISK_STYLE.get(s.risk, "")
    console.print(f"[bold]mlposture[/bold] {escape(plain(result.target.url or result.target.path))}")
    console.print(f"Score [{style}]{s.score}/100 ({s.risk})[/{style}]  coverage {round(s.coverage * 100)}%  "
                  f"LockML view {s.lockml_score}/100 ({s.lockml_risk})")
    table = Table(show_header=True, header_style="bold", box=box.SIMPLE, pad_edge=False, collapse_padding=True)
    for col in ("Category", "Score", "Risk", "Pass", "Part", "Fail", "Unver", "N/A"):
        text_column = col in ("Category", "Risk")
        table.add_column(col, justify="left" if text_column else "right", no_wrap=text_column, min_width=len(col))
    for c in s.categories:
        n = c.counts
        rs = RISK_STYLE.get(c.risk, "")
        table.add_row(c.name, str(c.score), f"[{rs}]{c.risk}[/{rs}]", str(n["pass"]), str(n["partial"]),
                      str(n["fail"]), str(n["unverified"]), str(n["not_applicable"]))
    console.print(table)
    for note in result.notes:
        if note.path is None:
            console.print(f"[yellow]Limit:[/yellow] {escape(plain(note.message))}", highlight=False)
    console.print(f"Findings: {_finding_counts(result)}")
    for line in _listed(result):
        console.print(plain(line), markup=False)
    for p in result.probes:
        if not p.ok:
            console.print(f"[red]Probe error[/red] {escape(plain(p.info.name))}: {escape(plain(p.error))}")
    for setting in result.repo_config:
        console.print(plain(setting.describe()), markup=False, style="bold yellow")
    g = result.gate
    verdict = "[green]passed[/green]" if g.passed else "[bold red]FAILED[/bold red]"
    console.print(f"Gate (--fail-on {g.fail_on}): {verdict}")
    for b in g.blockers[:MAX_LISTED]:
        console.print(plain(f"  blocking: {b.id} [{b.severity}] {b.message}"), markup=False)
    if len(g.blockers) > MAX_LISTED:
        console.print(f"  ... and {len(g.blockers) - MAX_LISTED} more (see the report)")


class TerminalWriter(Writer):
    """``--format terminal``: the plain summary as a file."""

    name = "terminal"
    extension = "txt"

    def render(self, result: ScanResult) -> str:
        """Plain summary text."""
        buf = io.StringIO()
        print_summary(result, buf, force_plain=True)
        return buf.getvalue()
