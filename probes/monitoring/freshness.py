"""MON-06 (red team) and MON-08 (security audit): how old is the newest report, and is testing scheduled?

Age = days since the last commit touching the report (GitPython), else the date written in the document (front
matter ``date``, a labelled date line, the file name). Newest report within ``redteam_max_age_days`` /
``audit_max_age_days`` = pass; older = fail naming the date; undated = partial. MON-06 also reads CI: red-team
tools (garak, promptfoo redteam, PyRIT, ART, TextAttack, Giskard) in a scheduled job at most every 92 days =
pass, scheduled less often or not scheduled = partial.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import date

from mlposture.probes.monitoring.ci import CiFacts, cron_period_days
from mlposture.probes.monitoring.finder import DocCache, by_name
from mlposture.probes.monitoring.gitdates import GitDates
from mlposture.probes.monitoring.infra import Schedule
from mlposture.scanner.probe import Effect, Evidence, ProbeItem, Searched
from mlposture.scanner.repo import RepoFile, RepoView
from mlposture.scanner.sources.markdown import document_date

REPORT_SUFFIXES = (".md", ".markdown", ".rst", ".txt", ".pdf", ".html", ".htm", ".json", ".jsonl", ".adoc",
                   ".docx", ".csv")
REDTEAM_NAME = re.compile(r"(red-?team|pentest|pen-test|penetration-test|adversarial-(test|robustness|eval|attack)|"
                          r"garak|promptfoo-?results|pyrit)")
REDTEAM_TITLE = re.compile(r"(?i)(red[- ]?team|penetration test|pen[- ]?test|adversarial (robustness )?"
                           r"(test|evaluation|assessment|attack))")
AUDIT_NAME = re.compile(r"(security-audit|audit-report|(^|/)audits?/|(^|/)audit-|ml-audit)")
AUDIT_TITLE = re.compile(r"(?i)(security audit|audit report|security assessment|security review)")


@dataclass(frozen=True)
class Dated:
    """A report and how its date was found."""

    path: str
    day: date | None
    source: str  # "git commit abc1234", "document line 3", "file name"
    line: int | None


def _candidates(repo: RepoView, cache: DocCache, name_rx: re.Pattern[str],
                title_rx: re.Pattern[str]) -> list[RepoFile]:
    files = [f for f in repo.files if f.suffix in REPORT_SUFFIXES and not f.path.startswith(".github/")]
    named = by_name(files, name_rx)
    seen = {f.path for f in named}
    titled = [repo.get(d.path) for d in cache.by_title(files, title_rx) if d.path not in seen]
    return named + [f for f in titled if f is not None]


def date_of(f: RepoFile, git: GitDates, cache: DocCache, today: date) -> Dated:
    """Last commit date, else the document's own date."""
    change = git.last_change(f.path)
    if change is not None:
        return Dated(f.path, change.day, f"git commit {change.commit[:7]}", None)
    doc = cache.get(f) if f.suffix in (".md", ".markdown", ".rst", ".txt", ".adoc") else None
    if doc is not None:
        found = document_date(doc, today)
        if found is not None:
            d, line = found
            return Dated(f.path, d, "file name" if line == 0 else f"date in the document, line {line}",
                         line or None)
    return Dated(f.path, None, "", None)


def judge_age(control: str, rule: str, what: str, files: Sequence[RepoFile], max_age: int, git: GitDates,
              cache: DocCache, today: date) -> Iterator[ProbeItem]:
    """Evidence for the newest of ``files``."""
    dated = [date_of(f, git, cache, today) for f in files]
    known = [d for d in dated if d.day is not None]
    if not known:
        d0 = dated[0]
        why = git.reason or "not committed"
        yield Evidence(control, Effect.PARTIAL,
                       f"{what} found but its age is unknown (git history: {why}; no date in the document)",
                       d0.path, None, rule)
        return
    newest = max(known, key=lambda d: (d.day, d.path))
    assert newest.day is not None
    age = (today - newest.day).days
    when = f"{newest.day.isoformat()}, {newest.source}"
    others = f"; {len(files) - 1} other report(s) older or undated" if len(files) > 1 else ""
    if age > max_age:
        yield Evidence(control, Effect.FAIL,
                       f"newest {what} last updated {age} days ago ({when}), older than {max_age}{others}",
                       newest.path, newest.line, rule)
    else:
        yield Evidence(control, Effect.PASS,
                       f"newest {what} last updated {age} days ago ({when}), within {max_age}{others}",
                       newest.path, newest.line, rule)


@dataclass(frozen=True)
class AttackScript:
    """A Python file using an adversarial-testing library, and the schedules that run it."""

    path: str
    line: int
    label: str
    schedules: tuple[Schedule, ...]


def _period(crons: Sequence[str]) -> float | None:
    periods = [p for p in (cron_period_days(c) for c in crons) if p is not None]
    return min(periods) if periods else None


def redteam(repo: RepoView, cache: DocCache, git: GitDates, ci: CiFacts, max_age: int,
            today: date, scripts: Sequence[AttackScript] = ()) -> Iterator[ProbeItem]:
    """MON-06."""
    reports = _candidates(repo, cache, REDTEAM_NAME, REDTEAM_TITLE)
    reports = [f for f in reports if f.suffix not in (".yml", ".yaml")]
    if reports:
        yield from judge_age("MON-06", "monitoring.redteam-report-age", "red-team report", reports, max_age, git,
                             cache, today)
    for step in ci.redteam:
        if "schedule" in step.events:
            period = _period(step.crons)
            if period is not None and period > max_age + 1:
                yield Evidence("MON-06", Effect.PARTIAL,
                               f"{step.label} runs in scheduled CI job '{step.job}', but only about every "
                               f"{period:.0f} days (cron '{step.crons[0]}'), longer than {max_age}",
                               step.path, step.line, "monitoring.redteam-ci")
            else:
                cron = f" (cron '{step.crons[0]}')" if step.crons else ""
                yield Evidence("MON-06", Effect.PASS, f"{step.label} runs in scheduled CI job '{step.job}'{cron}",
                               step.path, step.line, "monitoring.redteam-ci")
        else:
            ev = ", ".join(sorted(step.events)) or "no trigger"
            yield Evidence("MON-06", Effect.PARTIAL,
                           f"{step.label} runs in CI job '{step.job}' on {ev}, not on a schedule",
                           step.path, step.line, "monitoring.redteam-ci")
    for sc in scripts:
        if not sc.schedules:
            continue
        sched = sc.schedules[0]
        period = _period(sched.crons)
        where = f"{sched.kind} {sched.detail} ({sched.path}:{sched.line})"
        if period is not None and period > max_age + 1:
            yield Evidence("MON-06", Effect.PARTIAL, f"{sc.label} script run by {where}, but only about every "
                           f"{period:.0f} days, longer than {max_age}", sc.path, sc.line, "monitoring.redteam-ci")
        else:
            yield Evidence("MON-06", Effect.PASS, f"{sc.label} script run by {where}", sc.path, sc.line,
                           "monitoring.redteam-ci")
    if not reports and not ci.redteam and not any(sc.schedules for sc in scripts):
        yield Searched("MON-06", "red-team reports (red-team*, redteam*, pentest*, adversarial-test*, garak/"
                                 "promptfoo/PyRIT results, documents titled 'Red team'/'Penetration test') and "
                                 "red-team tools (garak, promptfoo redteam, PyRIT, ART, TextAttack, Giskard) "
                                 "in scheduled CI jobs")


def audit(repo: RepoView, cache: DocCache, git: GitDates, max_age: int, today: date) -> Iterator[ProbeItem]:
    """MON-08."""
    reports = [f for f in _candidates(repo, cache, AUDIT_NAME, AUDIT_TITLE) if f.suffix not in (".json",)]
    if reports:
        yield from judge_age("MON-08", "monitoring.audit-report-age", "security audit report", reports, max_age,
                             git, cache, today)
    else:
        yield Searched("MON-08", "security audit reports (security-audit*, audit-report*, docs/audits/*, "
                                 "documents titled 'Security audit'/'Audit report'/'Security assessment')")
