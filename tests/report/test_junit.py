"""JUnit XML: one test case per control, failures/skips/errors as CI test views read them, counts that add up."""

from __future__ import annotations

import dataclasses
import xml.etree.ElementTree as ET

from mlposture.scanner.probe import Finding, Severity
from mlposture.scanner.report.registry import writer_for
from mlposture.scanner.results import RecordedEvidence, ScanResult
from tests.report.conftest import XSS


def parse(result: ScanResult) -> ET.Element:
    text = writer_for("junit").render(result)
    assert text.startswith('<?xml version="1.0" encoding="UTF-8"?>')
    return ET.fromstring(text.encode("utf-8"))


def cases(root: ET.Element) -> dict[str, ET.Element]:
    return {c.get("name", "").split(" ", 1)[0]: c for c in root.iter("testcase")}


def test_one_case_per_control_with_unique_class_and_name(sample: ScanResult):
    root = parse(sample)
    found = [(c.get("classname"), c.get("name")) for c in root.iter("testcase")]
    assert len(found) == len(set(found)) == len(sample.controls) == 8
    assert ("mlposture.alpha", "AL-01 Critical thing") in found
    assert [s.get("name") for s in root.iter("testsuite")] == ["mlposture: Alpha", "mlposture: Beta",
                                                               "mlposture: Gamma & <Co>"]


def test_outcomes_per_status(sample: ScanResult):
    got = cases(parse(sample))
    kinds = {cid: [child.tag for child in case] for cid, case in got.items()}
    assert kinds == {"AL-01": ["failure"], "AL-02": ["failure"], "AL-03": ["skipped"], "BE-01": ["skipped"],
                     "BE-02": ["error"], "GA-01": ["system-out"], "GA-02": ["system-out"], "GA-03": ["failure"]}
    fail = got["AL-01"].find("failure")
    assert fail is not None and fail.get("type") == "critical"
    assert fail.get("message") == "critical: bucket 'raw' has no encryption block at infra/main.tf:12"
    assert "[fail] infra/tmp.tf:3 bucket 'tmp' has no encryption block" in (fail.text or "")
    assert "how to fix: Set the key." in (fail.text or "")
    gap = got["GA-03"].find("failure")
    assert gap is not None and gap.get("message", "").endswith("at repository level")
    skipped = got["AL-03"].find("skipped")
    assert skipped is not None
    assert skipped.get("message") == "unverified: no evidence found; searched: good: nothing else"
    na = got["BE-01"].find("skipped")
    assert na is not None and na.get("message") == "not applicable: no federated training found"
    err = got["BE-02"].find("error")
    assert err is not None and "probe crashy failed: RuntimeError: parser exploded on <b>input</b>" in err.get(
        "message", "")
    out = got["GA-02"].find("system-out")
    assert out is not None and (out.text or "").startswith("partial (evidence)")


def test_counts_add_up_per_suite_and_in_total(sample: ScanResult):
    root = parse(sample)
    assert {k: root.get(k) for k in ("tests", "failures", "errors", "skipped")} == {
        "tests": "8", "failures": "3", "errors": "1", "skipped": "2"}
    for suite in root.iter("testsuite"):
        children = list(suite.iter("testcase"))
        assert int(suite.get("tests", "")) == len(children)
        for tag, attr in (("failure", "failures"), ("error", "errors"), ("skipped", "skipped")):
            assert int(suite.get(attr, "")) == sum(1 for c in children if c.find(tag) is not None), attr


def test_hostile_text_round_trips_and_control_characters_are_dropped(sample: ScanResult):
    got = cases(parse(sample))
    fail = got["AL-02"].find("failure")
    assert fail is not None and XSS in (fail.text or "") and XSS in fail.get("message", "")
    al02 = next(r for r in sample.controls if r.control.id == "AL-02")
    nasty = Finding("t.ctl", Severity.HIGH, "bell\x07 nul\x00 esc\x1b end", "a\x01.txt", 1, ("AL-02",))
    extra = RecordedEvidence("good", dataclasses.replace(al02.evidence[0].evidence, message=nasty.message,
                                                         path=nasty.path))
    changed = dataclasses.replace(al02, evidence=(extra, *al02.evidence))
    result = dataclasses.replace(sample, controls=tuple(changed if r is al02 else r for r in sample.controls))
    text = cases(parse(result))["AL-02"].find("failure")
    assert text is not None and "bell nul esc end" in (text.text or "")
