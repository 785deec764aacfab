"""Monitoring and compliance probe: production monitoring wiring, incident response, red-team and audit freshness,
rollback drills and EU AI Act records (MON-01..MON-13, plus the EU risk tier that switches MON-12/INF-14).

Reads Python sources and notebooks (``ast``/JSON, never executed) for drift, output, performance and fairness
monitors (Evidently, NannyML, alibi-detect, whylogs, SageMaker Model Monitor, Vertex, Arize/Fiddler/WhyLabs,
Fairlearn, AIF360, prometheus_client metrics) and in-code schedules (Airflow, Prefect, Dagster, SageMaker); CI
workflows (through ``mlposture.scanner.sources.ci``), Kubernetes CronJobs, Prometheus/Grafana/Alertmanager rules and
receivers, CloudWatch alarms and SageMaker schedules in CloudFormation/Terraform, Argo Rollouts; Markdown documents
(incident response, communication plan, compliance file, declaration of conformity, technical documentation,
red-team and audit reports, dated by their last git commit); ``.mlposture.yaml`` and model-card front matter for
``eu_ai_act.risk_tier``.

Rules (stable ids): ``monitoring.drift-detector`` (MON-01), ``monitoring.output-monitor`` (MON-02),
``monitoring.performance-monitor`` (MON-03), ``monitoring.bias-monitor`` (MON-04), ``monitoring.incident-playbook``
(MON-05), ``monitoring.redteam-report-age`` and ``monitoring.redteam-ci`` (MON-06), ``monitoring.rollback-ci``,
``monitoring.rollback-analysis``, ``monitoring.rollback-runbook``, ``monitoring.rollback-script`` (MON-07),
``monitoring.redteam-script`` (MON-06, an unscheduled attack script), ``monitoring.adversarial-probing``
(PIPE-11: attacks run as a gate before promotion), ``monitoring.audit-report-age`` (MON-08),
``monitoring.compliance-file`` (MON-09), ``monitoring.communication-plan``
(MON-10), ``monitoring.eu-risk-tier`` (MON-11), ``monitoring.conformity`` (MON-12),
``monitoring.technical-documentation`` (MON-13). The recorded tier also yields ``NotApplicable`` for MON-12 and
INF-14 when it is ``minimal`` or ``limited``; :func:`mlposture.probes.monitoring.eu_ai_act.read_eu_risk_tier` exposes
it to
the core.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from datetime import date, datetime, timezone
from typing import Any, ClassVar

from mlposture.probes.monitoring import eu_ai_act, freshness, probing, records, rollback, runtime
from mlposture.probes.monitoring.ci import ci_facts
from mlposture.probes.monitoring.finder import DocCache
from mlposture.probes.monitoring.gitdates import GitDates
from mlposture.probes.monitoring.infra import infra_facts, performance_thresholds
from mlposture.probes.monitoring.pysource import VISITOR
from mlposture.probes.monitoring.rules import RULES
from mlposture.scanner.probe import Probe, ProbeItem
from mlposture.scanner.sources import ScanContext
from mlposture.scanner.sources.python import PythonVisitor

__all__ = ["MonitoringProbe"]


class MonitoringProbe(Probe):
    """Monitoring, incident response, red-team/audit freshness and EU AI Act records (MON-01..MON-13).

    Detectors count when wired to a schedule and an alert route; documents are scored on their required
    sections with heading lines; report age is the last commit touching the report.
    """

    name: ClassVar[str] = "monitoring"
    version: ClassVar[str] = "0.1.0"
    rules = RULES
    python_visitors: ClassVar[tuple[PythonVisitor[Any], ...]] = (VISITOR,)

    def __init__(self, today: date | None = None) -> None:
        self._today = today

    def scan(self, ctx: ScanContext) -> Iterable[ProbeItem]:
        """Yield evidence for MON-01..MON-13 and the applicability verdicts of the EU risk tier."""
        return list(self._run(ctx))

    def _run(self, ctx: ScanContext) -> Iterator[ProbeItem]:
        repo, settings = ctx.repo, ctx.settings
        today = self._today or datetime.now(timezone.utc).date()
        cache = DocCache(repo)
        ci = ci_facts(repo)
        infra = infra_facts(repo)
        py = [facts for _, facts in ctx.sources.python(VISITOR)]
        yield from runtime.decide(py, infra, ci, performance_thresholds(repo))
        linker = runtime.Linker(py, infra, ci)
        scripts = [freshness.AttackScript(p.path, p.attack_tool[1], p.attack_tool[0], linker.schedules_for(p.path))
                   for p in py if p.attack_tool is not None and not p.notebook]
        yield from records.incident_response(repo, cache)
        git = GitDates(repo)
        try:
            yield from freshness.redteam(repo, cache, git, ci, settings.redteam_max_age_days, today,
                                         scripts)
            yield from probing.unscheduled(scripts)
            yield from probing.gate(repo, ci, scripts, [(p.path, p.attack_tool[0]) for p in py
                                                        if p.attack_tool is not None and p.notebook])
            yield from freshness.audit(repo, cache, git, settings.audit_max_age_days, today)
            yield from records.compliance_file(repo, cache, git, settings.compliance_doc_max_age_days, today)
        finally:
            git.close()
        yield from rollback.rollback(repo, cache, ci, infra)
        yield from records.communication(repo, cache)
        yield from eu_ai_act.classification(repo, settings.eu_risk_tier)
        yield from records.conformity(repo, cache)
        yield from records.technical_documentation(repo, cache)
