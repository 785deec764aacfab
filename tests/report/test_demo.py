"""The three writers on the demo repository scanned with the real catalog and probes."""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET
from pathlib import Path

import jsonschema
import pytest

from mlposture.scanner.report.registry import writer_for
from mlposture.scanner.results import ScanResult, Status
from mlposture.scanner.scan import scan
from mlposture.scanner.settings import Settings
from tests.report.test_html import dump_dom, needs_chromium, parse

ROOT = Path(__file__).resolve().parents[2]
DEMO = ROOT / "fixtures" / "demo-repo"
SCHEMA = ROOT / "tests" / "data" / "sarif-schema-2.1.0.json"


@pytest.fixture(scope="module")
def demo() -> ScanResult:
    return scan(DEMO, Settings(no_vulns=True))


def test_sarif_on_the_demo(demo: ScanResult):
    log = json.loads(writer_for("sarif").render(demo))
    errors = list(jsonschema.Draft4Validator(json.loads(SCHEMA.read_text("utf-8"))).iter_errors(log))
    assert not errors, [e.message for e in errors[:3]]
    run = log["runs"][0]
    failing = [r.control.id for r in demo.controls if r.status is Status.FAIL]
    assert failing
    assert [r["ruleId"] for r in run["results"]] == failing + [f.finding.rule for f in demo.findings]
    assert len(run["tool"]["driver"]["rules"]) == len(demo.catalog) + len({f.finding.rule for f in demo.findings})
    for r in run["results"]:
        uri = r["locations"][0]["physicalLocation"]["artifactLocation"]["uri"]
        # the demo sits inside this repository's checkout: URIs are relative to the checkout's root
        assert uri.startswith("fixtures/demo-repo/") and (ROOT / uri).is_file(), uri


def test_junit_on_the_demo(demo: ScanResult):
    root = ET.fromstring(writer_for("junit").render(demo).encode("utf-8"))
    statuses = [r.status for r in demo.controls]
    assert int(root.get("tests", "")) == len(demo.catalog) == len(list(root.iter("testcase")))
    assert int(root.get("failures", "")) == statuses.count(Status.FAIL)
    assert len(list(root.iter("testsuite"))) == len(demo.catalog.categories)


@needs_chromium
def test_html_on_the_demo_in_chromium(demo: ScanResult, tmp_path: Path):
    report = tmp_path / "demo.html"
    report.write_text(writer_for("html").render(demo), encoding="utf-8")
    page = dump_dom(tmp_path, report, "#status=fail")
    shown = [cid for cid, visible in page.rows.items() if visible]
    assert shown == [r.control.id for r in demo.controls if r.status is Status.FAIL]
    assert page.text["count"] == f"{len(shown)} of {len(demo.controls)} controls shown"
    assert f"{demo.scores.score}" in page.text["score"]
    for c in demo.scores.categories:
        assert f"{c.score} · {c.risk}" in page.text["category-risk"]
    assert parse(report.read_text("utf-8")).scripts == 1
