"""The probe on the fixture repositories: effects per control, paths, lines, searched items, notes."""

from __future__ import annotations

from collections.abc import Callable

from mlposture.scanner.settings import Settings
from tests.probes.monitoring.monhelpers import Scan

ScanFn = Callable[..., Scan]

MON = [f"MON-{i:02d}" for i in range(1, 14)]


def test_monitored_project_runtime_controls_pass_with_schedule_and_alert(scan_fixture: ScanFn) -> None:
    s = scan_fixture("monitored")
    drift = s.one("MON-01", "pass")
    assert (drift.path, drift.line) == ("monitoring/drift_check.py", 15)
    assert ".github/workflows/monitoring.yml:3" in drift.message
    assert "Prometheus rule ChurnInputDrift (deploy/alerts.yml:4)" in drift.message
    assert s.effects("MON-01") == {"pass"}
    assert s.where("MON-02") == {("serve/app.py", 6), ("serve/app.py", 7)}
    assert s.effects("MON-02") == {"pass"}
    assert s.effects("MON-03") == {"pass"}
    bias = s.one("MON-04", "pass")
    assert (bias.path, bias.line) == ("monitoring/fairness.py", 9)
    assert "Kubernetes CronJob churn-fairness '30 2 * * *' (deploy/fairness-cronjob.yaml:6)" in bias.message
    assert "ChurnFairnessGap (deploy/alerts.yml:17)" in bias.message


def test_monitored_project_documents_redteam_and_rollback(scan_fixture: ScanFn) -> None:
    s = scan_fixture("monitored")
    ir = s.one("MON-05", "pass")
    assert (ir.path, ir.line) == ("docs/INCIDENT_RESPONSE.md", 5)
    assert "containment (line 10)" in ir.message and "missing: prompt injection" in ir.message
    assert s.effects("MON-06") == {"pass"}
    assert s.where("MON-06") == {("reports/redteam/2026-11-redteam.md", 3), (".github/workflows/redteam.yml", 12)}
    assert any("last updated 26 days ago (2026-11-02, date in the document, line 3), within 92" in e.message
               for e in s.evidence["MON-06"])
    assert s.where("MON-07") == {(".github/workflows/rollback-drill.yml", 12), ("docs/INCIDENT_RESPONSE.md", 35)}
    assert s.effects("MON-07") == {"pass"}
    comms = s.one("MON-10", "pass")
    assert comms.path == "docs/communication-plan.md"
    assert "10-day deadline (line 16)" in comms.message
    for control in ("MON-08", "MON-09", "MON-11", "MON-12", "MON-13"):
        assert control not in s.evidence and s.searched[control], control
    assert not s.not_applicable


def test_compliance_repo_records(scan_fixture: ScanFn) -> None:
    s = scan_fixture("compliance-docs")
    tier = s.one("MON-11", "pass")
    assert (tier.path, tier.line, tier.message) == (".mlposture.yaml", 4, "EU AI Act risk tier recorded: high")
    assert not s.not_applicable  # high risk: MON-12, MON-13, INF-13, INF-14 all apply
    doc = s.one("MON-12", "pass")
    assert doc.path == "docs/eu-ai-act/declaration-of-conformity.md"
    assert "sole responsibility statement (line 5)" in doc.message and "procedure named at line 8" in doc.message
    tech = s.one("MON-13", "pass")
    assert "9/9 Annex IV sections" in tech.message and "metrics declared at line 17" in tech.message
    risk = s.one("MON-09", "pass")
    assert (risk.path, risk.line) == ("docs/eu-ai-act/risk-management.md", 4)
    assert "residual risk (line 23)" in risk.message
    audit = s.one("MON-08", "pass")
    assert audit.path == "docs/audits/security-audit-2026-06.md" and "161 days ago (2026-06-20" in audit.message
    ir = s.one("MON-05", "partial")
    assert ir.path == "SECURITY.md" and "missing: analysis, remediation" in ir.message
    for control in ("MON-01", "MON-02", "MON-03", "MON-04", "MON-06", "MON-07", "MON-10"):
        assert control not in s.evidence and s.searched[control], control


def test_bare_repo_has_only_searched_items(scan_fixture: ScanFn) -> None:
    s = scan_fixture("bare")
    assert not s.evidence and not s.not_applicable
    assert set(s.searched) == set(MON) | {"PIPE-11"}  # adversarial probing before promotion
    assert "DataDriftPreset" in s.searched["MON-01"][0] and "CronJob" in s.searched["MON-01"][0]
    assert "incident" in s.searched["MON-05"][0]


def test_anti_patterns(scan_fixture: ScanFn) -> None:
    s = scan_fixture("anti-patterns")
    nb = s.one("MON-01", "partial")
    assert nb.path == "notebooks/drift.ipynb" and "only in a notebook" in nb.message
    assert s.effects("MON-01") == {"partial"}
    perf = s.one("MON-03", "partial")
    assert (perf.path, perf.line) == ("monitoring/quality.py", 3)
    assert "no schedule runs it; no alert route" in perf.message
    assert s.effects("MON-06") == {"partial"}
    msgs = sorted(e.message for e in s.evidence["MON-06"])
    assert any("on pull_request, not on a schedule" in m for m in msgs)
    assert any("every 372 days (cron '0 0 1 1 *'), longer than 92" in m for m in msgs)
    assert s.effects("MON-07") == {"partial"}
    assert (".github/workflows/deploy.yml", 9) in s.where("MON-07")
    stale = s.one("MON-09", "fail")
    assert (stale.path, stale.line) == ("docs/compliance/risk-assessment.md", 3)
    assert "last updated 1053 days ago (2024-01-10" in stale.message and "older than 365" in stale.message
    assert s.one("MON-05", "partial").path == "runbooks/model-incident.md"
    reason = "EU AI Act risk tier recorded as minimal in .mlposture.yaml:2"
    assert s.not_applicable == {"MON-12": reason, "INF-14": reason}


def test_malformed_inputs_become_notes(scan_fixture: ScanFn) -> None:
    s = scan_fixture("malformed")
    notes = {(n.path, n.line) for n in s.notes}
    assert ("model_card.md", 4) in notes
    assert ("README.md", 1) in notes
    assert ("notebooks/broken.ipynb", None) in notes
    assert ("deploy/rules.yml", 6) in notes
    assert ("monitoring/drift.py", 2) in notes
    tier = s.one("MON-11", "partial")
    assert (tier.path, tier.line) == (".mlposture.yaml", 2) and "'medium' is not one of" in tier.message
    assert not s.not_applicable
    assert "MON-01" not in s.evidence and "MON-05" not in s.evidence


def test_settings_tier_without_record_switches_applicability(scan_fixture: ScanFn) -> None:
    s = scan_fixture("bare", settings=Settings(eu_risk_tier="limited"))
    assert s.not_applicable["MON-12"] == "EU AI Act risk tier recorded as limited in the scan settings"
    assert "INF-14" in s.not_applicable
