"""Markdown report: the primary artifact a reviewer reads.

It explains every control (status, evidence as ``path:line``, remediation), says what blocks the gate and how
to unblock it, and ends with the exact YAML to paste for the controls that need a manual answer.
"""

from __future__ import annotations

import datetime as dt

from mlposture.scanner.probe import Severity
from mlposture.scanner.report.interface import NOT_COUNTED_TITLE, Writer, finding_location, location
from mlposture.scanner.report.textsafe import md_code, md_text
from mlposture.scanner.results import ControlResult, RecordedFinding, ScanResult, Status

STATUS_MARK = {
    Status.PASS: "✅ pass",
    Status.PARTIAL: "🟡 partial",
    Status.FAIL: "❌ fail",
    Status.UNVERIFIED: "❔ unverified",
    Status.NOT_APPLICABLE: "➖ not applicable",
}
EFFECT_MARK = {"pass": "✅", "partial": "🟡", "fail": "❌"}
SEVERITY_ORDER = [Severity.CRITICAL, Severity.HIGH, Severity.MEDIUM, Severity.LOW, Severity.INFO]


def cell(text: object) -> str:
    """Repository text safe inside a Markdown table cell (see :mod:`mlposture.scanner.report.textsafe`)."""
    return md_text(text)


def answer_snippet(results: list[ControlResult], today: dt.date | None = None) -> str:
    """The YAML a user pastes under ``answers:`` for these controls."""
    day = (today or dt.date.today()).isoformat()
    lines = []
    for r in results:
        lines += [
            f"  {r.control.id}:  # {r.control.title} ({r.control.severity.value})",
            "    status: implemented        # implemented | partial | not_implemented | not_applicable",
            "    by: you@example.com",
            f"    date: {day}",
            "    evidence: https://link-to-the-proof.example.com",
            "    note: what is in place and where",
        ]
    return "\n".join(lines)


class MarkdownWriter(Writer):
    """``--format md`` (also ``markdown``)."""

    name = "md"
    extension = "md"

    def render(self, result: ScanResult) -> str:
        """The full report."""
        out: list[str] = []
        self._header(result, out)
        self._summary(result, out)
        self._gate(result, out)
        self._findings(result, out)
        self._controls(result, out)
        self._manual(result, out)
        self._diagnostics(result, out)
        return "\n".join(out).rstrip() + "\n"

    def _header(self, result: ScanResult, out: list[str]) -> None:
        t = result.target
        out.append("# mlposture security report")
        out.append("")
        out.append(f"- **Target:** {md_code(t.url or t.path)}" + (f" at {md_code(t.ref)}" if t.ref else ""))
        if t.git is not None:
            dirty = {True: " (uncommitted changes)", False: "", None: " (dirty state not checked)"}[t.git.dirty]
            out.append(f"- **Commit:** `{t.git.commit or 'none'}`" + (f" on {md_code(t.git.ref)}" if t.git.ref else "")
                       + dirty)
        else:
            out.append("- **Commit:** not a git repository")
        out.append(f"- **Generated:** {result.generated_at}")
        out.append(f"- **Tool:** mlposture {result.tool_version}")
        out.append("")

    def _summary(self, result: ScanResult, out: list[str]) -> None:
        s = result.scores
        decided = round(s.coverage * len(result.controls))
        out.append(f"## Score: {s.score}/100 ({s.risk})")
        out.append("")
        out.append(f"Coverage: {round(s.coverage * 100)}% of the {len(result.controls)} controls were decided by "
                   f"evidence or answers ({decided}); the rest are unverified and count as 0.")
        out.append(f"LockML-compatible view: **{s.lockml_score}/100 ({s.lockml_risk})** "
                   "(50 base controls, unweighted, pass = checked).")
        out.append("")
        out.append("| Category | Score | Risk | Pass | Partial | Fail | Unverified | N/A |")
        out.append("|---|---:|---|---:|---:|---:|---:|---:|")
        for c in s.categories:
            n = c.counts
            out.append(f"| {cell(c.name)} | {c.score} | {c.risk} | {n['pass']} | {n['partial']} | {n['fail']} | "
                       f"{n['unverified']} | {n['not_applicable']} |")
        out.append("")
        limits = [n for n in result.notes if n.path is None]
        if limits:
            out.append("**Limits of this scan:**")
            out.append("")
            out.extend(f"- {md_text(n.message)}" for n in limits)
            out.append("")

    def _gate(self, result: ScanResult, out: list[str]) -> None:
        g = result.gate
        verdict = "passed" if g.passed else "FAILED"
        out.append(f"## Gate: {verdict} (--fail-on {g.fail_on})")
        out.append("")
        if not g.blockers:
            out.append("Nothing at or above the threshold blocks.")
        for b in g.blockers:
            out.append(f"- **{md_text(b.id)}** [{b.severity or 'score'}] {md_text(b.message)}")
            out.append(f"  - To unblock: {md_text(b.unblock)}")
        for w in g.warnings:
            out.append(f"- warning: {md_text(w)}")
        for r in result.repo_config:
            out.append(f"- **{md_text(r.describe())}**")
        out.append("")

    def _findings(self, result: ScanResult, out: list[str]) -> None:
        counted = [f for f in result.findings if f.counted]
        out.append(f"## Findings ({len(counted)})")
        out.append("")
        if not counted:
            out.append("No findings.")
            out.append("")
        for sev in SEVERITY_ORDER:
            group = [f for f in counted if f.finding.severity is sev]
            if not group:
                continue
            out.append(f"### {sev.value.capitalize()} ({len(group)})")
            out.append("")
            out.append("| Rule | Location | Message | Controls | Fingerprint |")
            out.append("|---|---|---|---|---|")
            out.extend(self._finding_row(f, False) for f in group)
            out.append("")
        apart = [f for f in result.findings if not f.counted]
        if apart:
            out.append(f"## {NOT_COUNTED_TITLE} ({len(apart)})")
            out.append("")
            out.append("These findings are outside the counted contexts "
                       f"({', '.join(result.counted_contexts)}): they fail no control and do not block the gate. "
                       "Count them with `--context test,example,...` (docs/context.md).")
            out.append("")
            out.append("| Context | Severity | Rule | Location | Message | Controls | Fingerprint |")
            out.append("|---|---|---|---|---|---|---|")
            out.extend(self._finding_row(f, True) for f in apart)
            out.append("")

    @staticmethod
    def _finding_row(f: RecordedFinding, apart: bool) -> str:
        x = f.finding
        msg = x.message
        if f.accepted is not None:
            msg = f"ACCEPTED by {f.accepted.by} ({f.accepted.reason}): {msg}"
        lead = f"| {f.context} | {x.severity.value} " if apart else ""
        return (f"{lead}| {md_code(x.rule, table=True)} | {md_code(finding_location(x.path, x.lines), table=True)} "
                f"| {cell(msg)} | {', '.join(x.controls)} | `{f.fingerprint[:16]}` |")

    def _controls(self, result: ScanResult, out: list[str]) -> None:
        out.append("## Controls")
        out.append("")
        for cat in result.catalog.categories:
            out.append(f"### {cat.icon + ' ' if cat.icon else ''}{cat.name}")
            out.append("")
            for r in result.controls:
                if r.control.category == cat.id:
                    self._control(r, out)

    def _control(self, r: ControlResult, out: list[str]) -> None:
        c = r.control
        out.append(f"#### {c.id} {c.title}: {STATUS_MARK[r.status]} ({c.severity.value})")
        out.append("")
        if r.evidence:
            for e in r.evidence:
                ev = e.evidence
                apart = "" if e.counted else f" — not counted ({e.context})"
                out.append(f"- {EFFECT_MARK[ev.effect.value]} {md_code(location(ev.path, ev.line))} "
                           f"{md_text(ev.message)} ({md_text(e.probe)}{', ' + md_text(ev.rule) if ev.rule else ''})"
                           f"{apart}")
        if r.answer is not None:
            a = r.answer
            out.append(f"- Answer: {md_text(a.status)} by {md_text(a.by)} on {a.date}"
                       + (f", evidence: {md_text(a.evidence)}" if a.evidence else "")
                       + (f". {md_text(a.note)}" if a.note else ""))
        if r.contradiction:
            out.append(f"- ⚠ Contradiction: {md_text(r.contradiction)}")
        elif r.reason:
            out.append(f"- {md_text(r.reason)}")
        if r.status in (Status.FAIL, Status.PARTIAL, Status.UNVERIFIED):
            out.append(f"- How to fix: {c.remediation}")
        if r.status is Status.UNVERIFIED:
            out.append("- Evidence that would verify it: " + "; ".join(c.evidence))
        maps = [f"{k.upper() if k != 'eu_ai_act' else 'EU AI Act'}: {', '.join(v)}"
                for k, v in c.mappings.as_dict().items() if v]
        if maps:
            out.append(f"- Mappings: {' · '.join(maps)}" + (f" · LockML: {c.lockml_id}" if c.lockml_id else ""))
        out.append("")

    def _manual(self, result: ScanResult, out: list[str]) -> None:
        pending = [r for r in result.controls if r.status is Status.UNVERIFIED]
        pending.sort(key=lambda r: -r.control.severity.rank)
        out.append(f"## Needs a manual answer ({len(pending)})")
        out.append("")
        if not pending:
            out.append("Every control was decided.")
            out.append("")
            return
        for r in pending:
            out.append(f"- **{r.control.id}** [{r.control.severity.value}] {r.control.title}")
        out.append("")
        out.append("Answer them with `mlposture answer`, or paste this into `.mlposture/answers.yaml` "
                   "(under `version: 1` / `answers:`) and edit:")
        out.append("")
        out.append("```yaml")
        out.append("version: 1")
        out.append("answers:")
        out.append(answer_snippet(pending))
        out.append("```")
        out.append("")

    def _diagnostics(self, result: ScanResult, out: list[str]) -> None:
        errors = [p for p in result.probes if not p.ok]
        out.append("## Probes")
        out.append("")
        out.append("| Probe | Version | Status | Seconds |")
        out.append("|---|---|---|---:|")
        for p in result.probes:
            status = "ok" if p.ok else f"error: {cell(p.error)}"
            out.append(f"| {p.info.name} | {p.info.version} | {status} | {p.seconds:.2f} |")
        for e in result.load_errors:
            out.append(f"| {e.name} | | not loaded: {cell(e.error)} | |")
        out.append("")
        if errors:
            out.append("Controls of a failed probe are unverified with the error as the reason.")
            out.append("")
        if result.warnings:
            out.append("## Warnings")
            out.append("")
            out.extend(f"- {md_text(w)}" for w in result.warnings)
            out.append("")
        if result.notes:
            out.append(f"## Notes ({len(result.notes)})")
            out.append("")
            out.append("Files or items that contributed nothing because they could not be read or parsed:")
            out.append("")
            for n in result.notes[:500]:
                out.append(f"- {md_code(location(n.path, n.line))} {md_text(n.message)}")
            if len(result.notes) > 500:
                out.append(f"- ... and {len(result.notes) - 500} more (see the JSON report)")
            out.append("")
