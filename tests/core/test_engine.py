"""Engine rules: fail wins, absence is unverified, answers merge, exceptions, applicability, crash isolation."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from pathlib import Path

from mlposture.scanner.answers import AnswersFile, parse_answers
from mlposture.scanner.catalog import Catalog
from mlposture.scanner.engine import decide, run_probe
from mlposture.scanner.probe import Effect, Evidence, Finding, NotApplicable, Probe, ProbeItem, Searched, Severity
from mlposture.scanner.repo import RepoView
from mlposture.scanner.results import Status
from mlposture.scanner.settings import Settings

TODAY = dt.date(2026, 11, 28)


def make_probe(name: str, items: list[ProbeItem], controls: tuple[str, ...] = ()) -> type[Probe]:
    class _P(Probe):
        """A probe defined in a test."""

        def run(self, repo: RepoView, settings: Settings) -> Iterable[ProbeItem]:
            yield from items

    _P.name = name
    _P.controls = controls
    return _P


def decide_items(catalog: Catalog, tmp_path: Path, items: list[ProbeItem], answers: AnswersFile | None = None,
                 controls: tuple[str, ...] = ()):
    repo = RepoView(tmp_path)
    run = run_probe(make_probe("t", items, controls), "", repo, Settings())
    return decide(catalog, [run], answers or AnswersFile.empty())


def status(decision, cid: str) -> Status:
    return next(r for r in decision.controls if r.control.id == cid).status


def result(decision, cid: str):
    return next(r for r in decision.controls if r.control.id == cid)


def test_fail_wins_over_pass_and_pass_over_partial(mini_catalog, tmp_path):
    d = decide_items(mini_catalog, tmp_path, [
        Evidence("AL-01", Effect.PASS, "ok", "a.tf", 3),
        Evidence("AL-01", Effect.FAIL, "bad", "b.tf", 9),
        Evidence("AL-02", Effect.PARTIAL, "some", "c.py", 1),
        Evidence("AL-02", Effect.PASS, "all", "c.py", 2),
        Evidence("AL-03", Effect.PARTIAL, "some", "d.md", 1),
    ])
    assert status(d, "AL-01") is Status.FAIL
    assert status(d, "AL-02") is Status.PASS
    assert status(d, "AL-03") is Status.PARTIAL
    first = result(d, "AL-01").evidence[0].evidence
    assert (first.effect, first.path, first.line) == (Effect.FAIL, "b.tf", 9)


def test_no_evidence_is_unverified_with_what_was_searched(mini_catalog, tmp_path):
    d = decide_items(mini_catalog, tmp_path, [Searched("AL-01", "S3 encryption blocks in *.tf")],
                     controls=("AL-01", "AL-02"))
    r1 = result(d, "AL-01")
    assert r1.status is Status.UNVERIFIED and r1.source == "none"
    assert "S3 encryption blocks in *.tf" in r1.reason
    assert "no evidence found by probe(s) t" in result(d, "AL-02").reason
    assert "manual answer" in result(d, "BE-01").reason


def test_finding_counts_as_fail_evidence_and_exception_makes_it_partial(mini_catalog, tmp_path):
    finding = Finding("x.rule", Severity.HIGH, "unpinned torch", "requirements.txt", 4, ("AL-02",), "torch>=2")
    d = decide_items(mini_catalog, tmp_path, [finding, Evidence("AL-02", Effect.PASS, "lock", "poetry.lock", 1)])
    assert status(d, "AL-02") is Status.FAIL
    assert d.findings[0].accepted is None
    answers = parse_answers(f"""
version: 1
exceptions:
  - fingerprint: {finding.fingerprint[:12]}
    by: alice@example.com
    date: 2026-11-01
    reason: dev tool only
""", "answers.yaml", [c.id for c in mini_catalog], TODAY)
    d2 = decide_items(mini_catalog, tmp_path, [finding], answers)
    r = result(d2, "AL-02")
    assert r.status is Status.PARTIAL
    assert "accepted risk (alice@example.com" in r.evidence[0].evidence.message
    assert d2.findings[0].accepted is not None


def test_exception_by_rule_and_path_glob(mini_catalog, tmp_path):
    f1 = Finding("dep.unpinned", Severity.HIGH, "a", "requirements/dev.txt", 1, ("AL-02",), "a")
    f2 = Finding("dep.unpinned", Severity.HIGH, "b", "requirements/prod.txt", 1, ("AL-02",), "b")
    answers = parse_answers("""
version: 1
exceptions:
  - rule: dep.unpinned
    path: "requirements/dev*.txt"
    by: bob
    date: 2026-11-01
    reason: dev only
""", "answers.yaml", [c.id for c in mini_catalog], TODAY)
    d = decide_items(mini_catalog, tmp_path, [f1, f2], answers)
    accepted = {f.finding.path: f.accepted is not None for f in d.findings}
    assert accepted == {"requirements/dev.txt": True, "requirements/prod.txt": False}
    assert status(d, "AL-02") is Status.FAIL


def test_answer_fills_unverified_but_never_overrides_fail(mini_catalog, tmp_path):
    answers = parse_answers("""
version: 1
answers:
  AL-01:
    status: implemented
    by: sec@example.com
    date: 2026-11-02
    evidence: https://wiki.example.com/kms
  BE-01:
    status: implemented
    by: sec@example.com
    date: 2026-11-02
    evidence: https://wiki.example.com/x
  AL-03:
    status: not_applicable
    by: sec@example.com
    date: 2026-11-02
    evidence: https://wiki.example.com/na
    note: no documents in scope
""", "answers.yaml", [c.id for c in mini_catalog], TODAY)
    d = decide_items(mini_catalog, tmp_path, [Evidence("AL-01", Effect.FAIL, "public-read ACL", "s3.tf", 12)],
                     answers)
    r = result(d, "AL-01")
    assert r.status is Status.FAIL and r.source == "evidence"
    assert r.contradiction and "answers.yaml:4" in r.contradiction
    assert status(d, "BE-01") is Status.PASS and result(d, "BE-01").source == "answer"
    assert status(d, "AL-03") is Status.NOT_APPLICABLE
    assert "no documents in scope" in result(d, "AL-03").reason


def test_not_applicable_only_without_evidence(mini_catalog, tmp_path):
    d = decide_items(mini_catalog, tmp_path, [
        NotApplicable("AL-02", "no inference endpoint"),
        NotApplicable("AL-03", "no inference endpoint"),
        Evidence("AL-03", Effect.PASS, "doc", "SECURITY.md", 1),
    ])
    assert status(d, "AL-02") is Status.NOT_APPLICABLE
    assert result(d, "AL-02").reason == "no inference endpoint"
    assert status(d, "AL-03") is Status.PASS


def test_crashing_probe_is_isolated(mini_catalog, tmp_path):
    class Boom(Probe):
        """Raises."""

        name = "boom"
        controls = ("AL-01",)

        def run(self, repo: RepoView, settings: Settings) -> Iterable[ProbeItem]:
            yield Evidence("AL-02", Effect.PASS, "before the crash", "x", 1)
            raise RuntimeError("parser exploded")

    repo = RepoView(tmp_path)
    run = run_probe(Boom, "", repo, Settings())
    assert run.error is not None and "RuntimeError: parser exploded" in run.error
    d = decide(mini_catalog, [run], AnswersFile.empty())
    r = result(d, "AL-01")
    assert r.status is Status.UNVERIFIED
    assert "probe boom failed: RuntimeError: parser exploded" in r.reason
    assert status(d, "AL-02") is Status.PASS  # what it yielded before crashing still counts


def test_unknown_control_ids_become_notes(mini_catalog, tmp_path):
    d = decide_items(mini_catalog, tmp_path, [Evidence("NOPE-01", Effect.PASS, "x")])
    assert any("unknown control 'NOPE-01'" in n.message for n in d.notes)


def test_fingerprint_ignores_line_but_not_content():
    a = Finding("r", Severity.LOW, "m", "p", 1, (), "torch>=2")
    b = Finding("r", Severity.LOW, "m", "p", 40, (), "torch>=2")
    c = Finding("r", Severity.LOW, "m", "p", 1, (), "numpy>=2")
    assert a.fingerprint == b.fingerprint != c.fingerprint


def test_probe_past_its_time_budget_is_stopped_and_reported(mini_catalog, tmp_path):
    class Slow(Probe):
        """Never finishes, and swallows ordinary exceptions."""

        name = "slow"
        controls = ("AL-01",)

        def run(self, repo: RepoView, settings: Settings) -> Iterable[ProbeItem]:
            yield Evidence("AL-02", Effect.PASS, "before the hang", "x", 1)
            while True:
                try:
                    sum(range(10_000))
                except Exception:  # the point: a broad except in a probe cannot swallow the timeout
                    continue

    run = run_probe(Slow, "", RepoView(tmp_path), Settings(probe_timeout_seconds=0.3))
    assert run.error is not None and run.error.startswith("ProbeTimeout: did not finish within its 0.3 s budget")
    assert 0.25 < run.seconds < 5
    d = decide(mini_catalog, [run], AnswersFile.empty())
    assert status(d, "AL-02") is Status.PASS
    assert "probe slow failed: ProbeTimeout" in result(d, "AL-01").reason
