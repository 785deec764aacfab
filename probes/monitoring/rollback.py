"""MON-07: rollback exercised, not just possible.

Pass: a rollback command in a scheduled CI job (a drill), an Argo Rollouts ``Rollout`` with an analysis (automatic
abort and rollback), or a runbook with the rollback command and a dated drill record. Partial: a rollback job run
only by hand or on deploy, a runbook command without a drill record, a rollback script or Makefile target nobody
is shown to run, an ``AnalysisTemplate`` no Rollout is seen to use.
"""

from __future__ import annotations

import re
from collections.abc import Iterator

from mlposture.probes.monitoring.ci import ROLLBACK, CiFacts
from mlposture.probes.monitoring.finder import DocCache, by_name, documents
from mlposture.probes.monitoring.infra import InfraFacts
from mlposture.probes.monitoring.records import IR_NAME
from mlposture.scanner.probe import Effect, Evidence, ProbeItem, Searched
from mlposture.scanner.repo import RepoView

DRILL = re.compile(r"(?i)\b(drill|game ?day|exercised|rehears|tested)\b.*\b20\d\d-\d\d-\d\d\b|"
                   r"\b20\d\d-\d\d-\d\d\b.*\b(drill|game ?day|exercised|rehears)")
RTO = re.compile(r"(?i)\b(RTO|recovery time objective)\b")
SCRIPT = re.compile(r"(^|/)(rollback[\w-]*\.(sh|bash|ps1)|(scripts|bin)/rollback[\w-]*(\.py)?)$")
MAKE_TARGET = re.compile(r"^rollback\s*:", re.MULTILINE)


def rollback(repo: RepoView, cache: DocCache, ci: CiFacts, infra: InfraFacts) -> Iterator[ProbeItem]:
    """Evidence for MON-07."""
    emitted = False
    for step in ci.rollback:
        emitted = True
        if "schedule" in step.events:
            yield Evidence("MON-07", Effect.PASS, f"rollback ({step.label}) exercised by scheduled CI job "
                           f"'{step.job}'", step.path, step.line, "monitoring.rollback-ci")
        else:
            ev = ", ".join(sorted(step.events)) or "no trigger"
            yield Evidence("MON-07", Effect.PARTIAL, f"rollback ({step.label}) in CI job '{step.job}' on {ev}; "
                           "no scheduled drill", step.path, step.line, "monitoring.rollback-ci")
    rollouts = [a for a in infra.analyses if a.kind.startswith("Argo Rollouts Rollout")]
    for a in rollouts:
        emitted = True
        yield Evidence("MON-07", Effect.PASS, f"{a.kind} '{a.name}': failed analysis aborts and rolls back "
                       "automatically", a.path, a.line, "monitoring.rollback-analysis")
    if not rollouts:
        for a in infra.analyses:
            emitted = True
            yield Evidence("MON-07", Effect.PARTIAL, f"{a.kind} '{a.name}' defined, but no Rollout using an "
                           "analysis was found", a.path, a.line, "monitoring.rollback-analysis")
    for f in by_name(documents(repo), IR_NAME):
        doc = cache.get(f)
        if doc is None:
            continue
        cmd = doc.first_line(ROLLBACK)
        if cmd is None:
            continue
        emitted = True
        drill = doc.first_line(DRILL)
        rto = doc.first_line(RTO)
        rto_txt = f"; RTO stated at line {rto}" if rto else "; no RTO stated"
        if drill:
            yield Evidence("MON-07", Effect.PASS, f"runbook rollback command (line {cmd}) with a dated drill "
                           f"record at line {drill}{rto_txt}", doc.path, drill, "monitoring.rollback-runbook")
        else:
            yield Evidence("MON-07", Effect.PARTIAL, f"runbook rollback command, no dated drill record{rto_txt}",
                           doc.path, cmd, "monitoring.rollback-runbook")
    for f in repo.files:
        low = f.name.lower()
        if SCRIPT.search(f.path.lower()):
            emitted = True
            yield Evidence("MON-07", Effect.PARTIAL, "rollback script present; not shown to be exercised",
                           f.path, 1, "monitoring.rollback-script")
        elif low in ("makefile", "justfile"):
            text = repo.read_text(f, 512 * 1024) or ""
            m = MAKE_TARGET.search(text)
            if m:
                emitted = True
                yield Evidence("MON-07", Effect.PARTIAL, "rollback target present; not shown to be exercised",
                               f.path, text.count("\n", 0, m.start()) + 1, "monitoring.rollback-script")
    if not emitted:
        yield Searched("MON-07", "rollback commands (helm rollback, kubectl rollout undo, argo rollouts undo/abort, "
                                 "make rollback, rollback.sh) in CI jobs and runbooks with drill records, "
                                 "Argo Rollouts analysis")
