"""The verifier's policy over a recorded report: the scan's gate rule, at the level the verifier chooses."""

from __future__ import annotations

from mlposture.scanner.attestation.policy import blockers


def report(**over: object) -> dict:
    base: dict = {
        "controls": [
            {"id": "MODEL-03", "severity": "critical", "status": "pass", "title": "SafeTensors"},
            {"id": "DATA-03", "severity": "critical", "status": "unverified", "title": "Least privilege"},
            {"id": "PIPE-02", "severity": "high", "status": "fail", "title": "Scanning"},
        ],
        "findings": [
            {"rule": "serialization.pickle-load-call", "severity": "high", "path": "serve/app.py", "line": 15,
             "message": "pickle.load", "accepted": None},
        ],
        "probes": [{"name": "serialization", "status": "ok", "error": None}],
        "gate": {"fail_on": "critical", "passed": False, "blocking": ["DATA-03"], "score_below_floor": False},
    }
    base.update(over)
    return base


def test_levels_follow_the_scan_gate() -> None:
    assert blockers(report(), "critical") == ["control DATA-03 (critical) is unverified: Least privilege"]
    high = blockers(report(), "high")
    assert "control PIPE-02 (high) is fail: Scanning" in high
    assert "finding serialization.pickle-load-call (high) at serve/app.py:15: pickle.load" in high
    assert blockers(report(), "none") == []


def test_allowed_unverified_accepted_and_uncounted_findings_do_not_block() -> None:
    r = report(findings=[
        {"rule": "a.b", "severity": "high", "path": "x.py", "line": 1, "message": "m", "accepted": {"by": "me"}},
        {"rule": "c.d", "severity": "high", "path": "tests/t.py", "line": 2, "message": "m", "counted": False},
        {"rule": "e.f", "severity": "info", "path": "y.py", "line": 3, "message": "m"},
    ], controls=[{"id": "DATA-03", "severity": "critical", "status": "unverified", "title": "t"}],
        gate={"fail_on": "critical", "passed": True})
    assert blockers(r, "low", allow_unverified=True) == []


def test_a_probe_that_did_not_complete_blocks_unless_allowed() -> None:
    r = report(controls=[], findings=[], probes=[{"name": "cicd", "status": "error", "error": "boom"}],
               gate={"fail_on": "critical", "passed": True})
    assert blockers(r, "critical") == ["probe cicd did not complete: boom"]
    assert blockers(r, "critical", allow_probe_errors=True) == []


def test_a_recorded_failure_at_a_more_lenient_level_still_fails() -> None:
    r = report(controls=[], findings=[], gate={"fail_on": "none", "passed": False, "blocking": [],
                                               "score_below_floor": True})
    assert blockers(r, "critical") == ["the recorded gate failed at --fail-on none (score below the floor): see the "
                                       "report"]
    # a recorded failure that only unverified controls caused does not bind a verifier who allows them
    r = report(controls=[{"id": "X-01", "severity": "critical", "status": "unverified", "title": "t"}], findings=[],
               gate={"fail_on": "critical", "passed": False, "blocking": ["X-01"]})
    assert blockers(r, "critical", allow_unverified=True, recorded={"allow_unverified": False}) == []
