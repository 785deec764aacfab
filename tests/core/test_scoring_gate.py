"""Scoring exactly as docs/contracts.md states it, and the gate."""

from __future__ import annotations

import pytest

from mlposture.scanner.catalog import Catalog
from mlposture.scanner.gate import evaluate_gate
from mlposture.scanner.probe import Finding, Severity
from mlposture.scanner.results import ControlResult, RecordedFinding, Status
from mlposture.scanner.scoring import compute_scores, risk_label, weighted_score
from mlposture.scanner.settings import FailOn, Settings


def results_with(catalog: Catalog, statuses: dict[str, Status]) -> list[ControlResult]:
    return [ControlResult(c, statuses.get(c.id, Status.UNVERIFIED), "none") for c in catalog]


@pytest.mark.parametrize(("score", "label"), [(100, "Secure"), (90, "Secure"), (89.9, "Low Risk"), (70, "Low Risk"),
                                               (50, "Medium Risk"), (30, "High Risk"), (29.9, "Critical Risk"),
                                               (0, "Critical Risk")])
def test_risk_labels(score, label):
    assert risk_label(score) == label


def test_weighted_score_formula(mini_catalog):
    # AL-01 critical pass (10), AL-02 high partial (7.5 x 0.5), AL-03 medium fail (0 of 5),
    # BE-01 low not applicable (excluded), BE-02 critical unverified (0 of 10)
    res = results_with(mini_catalog, {"AL-01": Status.PASS, "AL-02": Status.PARTIAL, "AL-03": Status.FAIL,
                                      "BE-01": Status.NOT_APPLICABLE})
    expected = round(100 * (10 + 3.75) / (10 + 7.5 + 5 + 10), 1)
    assert weighted_score(res) == expected == 42.3
    s = compute_scores(mini_catalog, res)
    assert s.score == 42.3 and s.risk == "High Risk"
    alpha = s.categories[0]
    assert alpha.score == round(100 * 13.75 / 22.5, 1)
    assert alpha.counts == {"pass": 1, "partial": 1, "fail": 1, "unverified": 0, "not_applicable": 0}
    # LockML view: pass on AL-01 only among lockml controls -> round(1 / 50 * 100) = 2
    assert s.lockml_score == 2 and s.lockml_risk == "Critical Risk"
    assert s.coverage == round(4 / 5, 2)


def test_failing_critical_caps_category_at_high_risk(mini_catalog):
    res = results_with(mini_catalog, {"AL-01": Status.FAIL, "AL-02": Status.PASS, "AL-03": Status.PASS,
                                      "BE-01": Status.PASS, "BE-02": Status.PASS})
    beta_only = [r for r in res if r.control.category == "beta"]
    assert weighted_score(beta_only) == 100.0
    s = compute_scores(mini_catalog, res)
    assert s.categories[0].score == round(100 * 12.5 / 22.5, 1)  # 55.6 would be Medium Risk
    assert s.categories[0].risk == "High Risk"
    assert s.categories[1].risk == "Secure"


def test_all_not_applicable_scores_100(mini_catalog):
    res = results_with(mini_catalog, {c.id: Status.NOT_APPLICABLE for c in mini_catalog})
    assert compute_scores(mini_catalog, res).score == 100.0


def gate(catalog, statuses, findings=(), **kw):
    res = results_with(catalog, statuses)
    scores = compute_scores(catalog, res)
    return evaluate_gate(res, list(findings), scores, Settings(**kw))


def test_gate_blocks_on_failing_or_unverified_critical(mini_catalog):
    g = gate(mini_catalog, {"AL-01": Status.FAIL, "AL-02": Status.FAIL})
    assert not g.passed
    assert g.blocking_controls == ["AL-01", "BE-02"]  # BE-02 is critical and unverified; AL-02 is only high
    assert "fix the failing evidence" in g.blockers[0].unblock
    assert "answers.yaml" in g.blockers[1].unblock


def test_gate_thresholds_and_allow_unverified(mini_catalog):
    statuses = {"AL-01": Status.PASS, "BE-02": Status.PASS, "AL-02": Status.FAIL}
    assert gate(mini_catalog, statuses).passed
    assert gate(mini_catalog, statuses, fail_on=FailOn.HIGH).blocking_controls == ["AL-02"]
    g = gate(mini_catalog, {"AL-01": Status.PASS}, allow_unverified=True)
    assert g.passed and any("BE-02" in w for w in g.warnings)
    assert gate(mini_catalog, {"AL-01": Status.FAIL}, fail_on=FailOn.NONE).passed


def test_gate_findings_and_score_floor(mini_catalog):
    ok = {"AL-01": Status.PASS, "BE-02": Status.PASS}
    crit = RecordedFinding("serialization", Finding("serialization.dangerous-global", Severity.CRITICAL,
                                                    "os.system", "m.pkl", None, ("AL-01",), "os system"))
    high = RecordedFinding("d", Finding("d.x", Severity.HIGH, "m", "r.txt", 2, (), "x"))
    g = gate(mini_catalog, ok, [crit, high])
    assert not g.passed and [b.kind for b in g.blockers] == ["finding"]
    assert gate(mini_catalog, ok, [high]).passed
    assert not gate(mini_catalog, ok, [high], fail_on=FailOn.HIGH).passed
    floor = gate(mini_catalog, ok, fail_under=99.0)
    assert not floor.passed and floor.blockers[0].kind == "score"
