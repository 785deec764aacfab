"""Scores: Scorecard-style severity weights, the LockML-compatible view, and coverage (docs/contracts.md, "Scoring").

Score = 100 x sum(weight x value) / sum(weight), one decimal; pass 1, partial 0.5, fail and unverified 0;
not_applicable leaves both sums. A category with a failing Critical control is at best "High Risk".
"""

from __future__ import annotations

from collections.abc import Sequence

from mlposture.scanner.catalog import Catalog
from mlposture.scanner.probe import Severity
from mlposture.scanner.results import STATUS_VALUE, CategoryScore, ControlResult, Scores, Status

LOCKML_BASE_CONTROLS = 50
RISK_THRESHOLDS = ((90.0, "Secure"), (70.0, "Low Risk"), (50.0, "Medium Risk"), (30.0, "High Risk"))
CAPPED_RISK = "High Risk"


def risk_label(score: float) -> str:
    """The checklist's own label for a score."""
    for floor, label in RISK_THRESHOLDS:
        if score >= floor:
            return label
    return "Critical Risk"


def weighted_score(results: Sequence[ControlResult]) -> float:
    """Weighted score of a set of results; 100.0 when every control is not applicable."""
    total = 0.0
    earned = 0.0
    for r in results:
        if r.status is Status.NOT_APPLICABLE:
            continue
        total += r.control.weight
        earned += r.control.weight * STATUS_VALUE[r.status]
    return round(100.0 * earned / total, 1) if total else 100.0


def _capped(label: str, results: Sequence[ControlResult]) -> str:
    critical_fail = any(r.status is Status.FAIL and r.control.severity is Severity.CRITICAL for r in results)
    if critical_fail and label in ("Secure", "Low Risk", "Medium Risk"):
        return CAPPED_RISK
    return label


def compute_scores(catalog: Catalog, results: Sequence[ControlResult]) -> Scores:
    """Overall, per-category, LockML and coverage figures."""
    categories = []
    for cat in catalog.categories:
        members = [r for r in results if r.control.category == cat.id]
        score = weighted_score(members)
        counts = {s.value: sum(1 for r in members if r.status is s) for s in Status}
        categories.append(CategoryScore(cat.id, cat.name, score, _capped(risk_label(score), members), counts))
    score = weighted_score(results)
    checked = sum(1 for r in results if r.control.lockml_id and r.status is Status.PASS)
    lockml = round(checked / LOCKML_BASE_CONTROLS * 100)
    decided = sum(1 for r in results if r.status is not Status.UNVERIFIED)
    coverage = round(decided / len(results), 2) if results else 0.0
    return Scores(score, risk_label(score), coverage, lockml, risk_label(lockml), tuple(categories))
