"""The CI gate (docs/contracts.md, "The gate"): which controls and findings block, and what would unblock them."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from mlposture.scanner.probe import Severity
from mlposture.scanner.results import Blocker, ControlResult, GateResult, RecordedFinding, Scores, Status
from mlposture.scanner.settings import FailOn, Settings

THRESHOLD_RANK = {FailOn.CRITICAL: 4, FailOn.HIGH: 3, FailOn.MEDIUM: 2, FailOn.LOW: 1}
BUILTIN_DISTRIBUTION = "mlposture"


@dataclass(frozen=True)
class ProbeFailure:
    """A built-in probe that could not load or did not finish: what it would have seen is unknown."""

    probe: str
    reason: str


def _unblock_control(result: ControlResult) -> str:
    control = result.control
    if result.status is Status.FAIL:
        where = ", ".join(dict.fromkeys(
            f"{e.evidence.path or '.'}{':' + str(e.evidence.line) if e.evidence.line else ''}"
            for e in result.evidence if e.counted and e.evidence.effect.value == "fail"
        ))
        return f"fix the failing evidence ({where}): {control.remediation}"
    expected = "; ".join(e.rstrip(". ") for e in control.evidence[:2])
    return (f"add evidence the scanner can see ({expected}), or answer it in .mlposture/answers.yaml "
            f"(`mlposture answer`)")


def evaluate_gate(results: Sequence[ControlResult], findings: Sequence[RecordedFinding], scores: Scores,
                  settings: Settings, is_new: object = None,
                  probe_failures: Sequence[ProbeFailure] = ()) -> GateResult:
    """Decide the gate. ``is_new`` (a callable taking a control result or finding) limits it to new problems.

    A built-in probe that failed blocks whatever the answers say (fail closed: its controls could otherwise be
    answered as implemented while nothing looked), unless ``allow_probe_errors`` is set or the gate is off.
    """
    blockers: list[Blocker] = []
    warnings: list[str] = []
    check_new = is_new if callable(is_new) else None
    for failure in probe_failures:
        text = f"built-in probe {failure.probe} did not run to completion: {failure.reason}"
        if settings.allow_probe_errors or settings.fail_on is FailOn.NONE:
            warnings.append(text)
            continue
        blockers.append(Blocker("probe", failure.probe, "critical", text,
                                "fix the installation or the crash and scan again, or pass --allow-probe-errors "
                                "to accept a scan without this probe"))
    if settings.fail_on is not FailOn.NONE:
        threshold = THRESHOLD_RANK[settings.fail_on]
        for r in results:
            if r.control.severity.rank < threshold:
                continue
            if r.status is Status.FAIL or r.status is Status.UNVERIFIED:
                if check_new is not None and not check_new(r):
                    continue
                if r.status is Status.UNVERIFIED and settings.allow_unverified:
                    warnings.append(f"{r.control.id} ({r.control.severity.value}) is unverified")
                    continue
                blockers.append(Blocker("control", r.control.id, r.control.severity.value,
                                        f"{r.control.title}: {r.status.value}",
                                        _unblock_control(r)))
        for f in findings:
            sev = f.finding.severity
            if f.accepted is not None or not f.counted or sev is Severity.INFO or sev.rank < threshold:
                continue
            if check_new is not None and not check_new(f):
                continue
            where = f"{f.finding.path or '.'}{':' + str(f.finding.line) if f.finding.line else ''}"
            blockers.append(Blocker("finding", f.fingerprint, sev.value, f"{f.finding.rule} at {where}: "
                                    f"{f.finding.message}",
                                    f"remove or fix it, or accept the risk with an exception "
                                    f"(fingerprint: {f.fingerprint[:16]})"))
    if settings.fail_under is not None and scores.score < settings.fail_under:
        blockers.append(Blocker("score", "score", "", f"score {scores.score} is below --fail-under "
                                f"{settings.fail_under}", "raise the score: fix failing controls first"))
    return GateResult(settings.fail_on.value, not blockers, tuple(blockers), tuple(warnings))
