"""The rules of the monitoring probe: the ids its evidence carries, what each looks for, and its controls.

The probe reports evidence only (an outdated report is failing evidence, not a finding), so no rule has a
severity. Listed in control order, so that the controls derived from them read MON-01 .. MON-13, PIPE-11.
"""

from __future__ import annotations

from mlposture.scanner.probe import Rule

RULES: tuple[Rule, ...] = (
    Rule("monitoring.drift-detector", ("MON-01",),
         "an input-drift detector run on a schedule and wired to an alert route"),
    Rule("monitoring.output-monitor", ("MON-02",),
         "a monitor of the output or confidence distribution, evaluated continuously or on a schedule, with alerts"),
    Rule("monitoring.performance-monitor", ("MON-03",),
         "a model-performance monitor (accuracy, F1, AUC) on a schedule with an alert route; canary analyses and "
         "declared thresholds are partial"),
    Rule("monitoring.bias-monitor", ("MON-04",),
         "a fairness or bias monitor run on a schedule and wired to an alert route"),
    Rule("monitoring.incident-playbook", ("MON-05",),
         "an incident-response document covering the response phases and ML-specific scenarios"),
    Rule("monitoring.redteam-report-age", ("MON-06",),
         "age of the newest red-team report (last commit touching it) against the allowed age"),
    Rule("monitoring.redteam-ci", ("MON-06",),
         "red-team or attack tools run by CI on a schedule frequent enough (on pull requests only is partial)"),
    Rule("monitoring.redteam-script", ("MON-06",),
         "a robustness or attack script that no schedule runs (occasional testing)"),
    Rule("monitoring.rollback-ci", ("MON-07",),
         "a rollback command in CI, exercised by a scheduled drill (pass) or run on demand (partial)"),
    Rule("monitoring.rollback-analysis", ("MON-07",),
         "an Argo Rollouts rollout whose failed analysis rolls back automatically"),
    Rule("monitoring.rollback-runbook", ("MON-07",),
         "a runbook with a rollback command, a dated drill record and a stated RTO"),
    Rule("monitoring.rollback-script", ("MON-07",),
         "a rollback script or Makefile target not shown to be exercised"),
    Rule("monitoring.audit-report-age", ("MON-08",),
         "age of the newest security audit report (last commit touching it) against the allowed age"),
    Rule("monitoring.compliance-file", ("MON-09",),
         "a risk-management document with its required sections, not older than allowed"),
    Rule("monitoring.communication-plan", ("MON-10",),
         "an incident communication plan: escalation path, notification template, regulator reporting, deadlines"),
    Rule("monitoring.eu-risk-tier", ("MON-11",),
         "the EU AI Act risk tier recorded in the configuration or model card (prose only is partial)"),
    Rule("monitoring.conformity", ("MON-12",), "an EU declaration of conformity with the Annex V items"),
    Rule("monitoring.technical-documentation", ("MON-13",),
         "Annex IV technical documentation with its sections (declared metrics alone are partial)"),
    Rule("monitoring.adversarial-probing", ("PIPE-11",),
         "adversarial attacks run in CI as a gate before model promotion (scripts, notebooks, declared attack "
         "libraries without a gate are partial)"),
)
