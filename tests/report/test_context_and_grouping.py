"""Every format shows non-production findings apart (never as failures) and lists every line of a grouped
finding; fingerprints stay unique and an exception covers exactly one problem."""

from __future__ import annotations

import datetime as dt
import json
import xml.etree.ElementTree as ET
from collections.abc import Iterable
from importlib import resources
from pathlib import Path

import jsonschema

from mlposture.scanner.answers import RiskException
from mlposture.scanner.catalog import build_catalog
from mlposture.scanner.grouping import group_findings
from mlposture.scanner.probe import Finding, Probe, ProbeItem, Severity
from mlposture.scanner.repo import RepoView
from mlposture.scanner.report.registry import writer_for
from mlposture.scanner.results import ScanResult
from mlposture.scanner.scan import scan
from mlposture.scanner.settings import FailOn, Settings

CATALOG = """
category: {id: alpha, name: Alpha}
controls:
  - id: AL-01
    title: Pinned dependencies
    description: Dependencies are pinned.
    severity: high
    automation: [A]
    evidence: [pinned requirements]
    remediation: Pin them.
"""
SCHEMA = json.loads(resources.files("mlposture.scanner.report").joinpath("schema.json").read_text("utf-8"))


def _unpinned(name: str, line: int, path: str = "requirements.txt") -> Finding:
    return Finding("t.unpinned", Severity.HIGH, f"{name}>=1 is not pinned", path, line, ("AL-01",), f"{name}>=1")


class _Probe(Probe):
    """Three unpinned lines in one file, one in a test, one in vendored code."""

    name = "t"
    controls = ("AL-01",)

    def run(self, repo: RepoView, settings: Settings) -> Iterable[ProbeItem]:
        yield _unpinned("torch", 3)
        yield _unpinned("numpy", 1)
        yield _unpinned("pandas", 7)
        yield Finding("t.secret", Severity.CRITICAL, "AWS key AKIA****", "tests/test_auth.py", 4, ("AL-01",), "AKIA")
        yield _unpinned("six", 2, "third_party/lib/requirements.txt")


def _scan(tmp_path: Path, answers: str | None = None, **settings: object) -> ScanResult:
    if answers is not None:
        (tmp_path / ".mlposture").mkdir(exist_ok=True)
        (tmp_path / ".mlposture/answers.yaml").write_text(answers, encoding="utf-8")
    catalog = build_catalog([("a.yaml", CATALOG)])
    return scan(tmp_path, Settings(fail_on=FailOn.LOW, **settings),  # type: ignore[arg-type]
                catalog=catalog, probes=[(_Probe, "")])


def test_grouped_and_apart(tmp_path: Path) -> None:
    result = _scan(tmp_path)
    counted = [f for f in result.findings if f.counted]
    assert len(counted) == 1
    (group,) = counted
    assert group.finding.lines == (1, 3, 7)
    assert [loc.message for loc in group.finding.locations] == [
        f"{n}>=1 is not pinned" for n in ("numpy", "torch", "pandas")]
    assert sorted((f.context, f.finding.rule) for f in result.findings if not f.counted) == [
        ("test", "t.secret"), ("vendored", "t.unpinned")]
    assert len({f.fingerprint for f in result.findings}) == len(result.findings)
    assert [b.kind for b in result.gate.blockers] == ["control", "finding"]  # the key in tests blocks nothing
    assert result.gate.blockers[1].id == group.fingerprint

    md = writer_for("md").render(result)
    main, apart = md.split("## Not counted: tests, examples, docs, fixtures, vendored code (2)")
    assert "`requirements.txt:1, 3, 7`" in main and "AKIA" not in main
    assert "| test | critical | `t.secret` | `tests/test_auth.py:4`" in apart

    data = json.loads(writer_for("json").render(result))
    jsonschema.validate(data, SCHEMA)
    by_rule = {(f["rule"], f["context"]): f for f in data["findings"]}
    assert [loc["line"] for loc in by_rule[("t.unpinned", "production")]["locations"]] == [1, 3, 7]
    assert by_rule[("t.secret", "test")]["counted"] is False
    assert data["context"] == {"counted": ["production"], "sources": []}

    sarif = json.loads(writer_for("sarif").render(result))["runs"][0]["results"]
    grouped = next(r for r in sarif if r["ruleId"] == "t.unpinned" and r["properties"]["counted"])
    assert grouped["locations"][0]["physicalLocation"]["region"]["startLine"] == 1
    assert [r["physicalLocation"]["region"]["startLine"] for r in grouped["relatedLocations"]] == [3, 7]
    secret = next(r for r in sarif if r["ruleId"] == "t.secret")
    assert (secret["level"], secret["properties"]["context"]) == ("note", "test")

    html = writer_for("html").render(result)
    assert 'id="not-counted"' in html and "requirements.txt:1, 3, 7" in html

    junit = ET.fromstring(writer_for("junit").render(result).split("\n", 1)[1])
    apart_suite = next(s for s in junit.iter("testsuite") if "Not counted" in s.get("name", ""))
    assert apart_suite.get("skipped") == "2" and apart_suite.get("failures") == "0"

    terminal = writer_for("terminal").render(result)
    assert "2 more in tests, examples, docs, fixtures or vendored code, not counted" in terminal
    assert "requirements.txt:1, 3, 7" in terminal


def test_context_flag_counts_the_test_key(tmp_path: Path) -> None:
    result = _scan(tmp_path, contexts=("test",))
    secret = next(f for f in result.findings if f.finding.rule == "t.secret")
    assert secret.counted
    assert secret.fingerprint in [b.id for b in result.gate.blockers]


def test_exception_for_one_line_covers_that_line_only(tmp_path: Path) -> None:
    torch_print = _unpinned("torch", 3).fingerprint
    result = _scan(tmp_path, f"""version: 1
exceptions:
  - fingerprint: {torch_print[:16]}
    by: alice@example.com
    date: 2026-11-01
    reason: torch is pinned by the base image
""")
    prod = [f for f in result.findings if f.counted and f.finding.rule == "t.unpinned"]
    assert sorted((f.finding.lines, f.accepted is not None) for f in prod) == [((1, 7), False), ((3,), True)]


def test_group_fingerprint_exception_and_ambiguous_prefix(tmp_path: Path) -> None:
    group = next(f for f in _scan(tmp_path).findings if f.counted)
    result = _scan(tmp_path, f"""version: 1
exceptions:
  - fingerprint: {group.fingerprint[:16]}
    by: alice@example.com
    date: 2026-11-01
    reason: dev tools
""")
    assert next(f for f in result.findings if f.counted).accepted is not None


def test_exception_matching_several_findings_covers_none() -> None:
    # the answers loader asks for 8 characters; a prefix that still names two problems must not silence both
    broad = RiskException(by="bob@example.com", date=dt.date(2026, 11, 1), reason="too broad", fingerprint="",
                          file=".mlposture/answers.yaml", line=3)
    found = [("t", _unpinned("torch", 3)), ("t", _unpinned("six", 2, "tools/requirements.txt"))]
    grouped, warnings = group_findings(found, [broad])
    assert [g.accepted for g in grouped] == [None, None]
    assert warnings == [".mlposture/answers.yaml:3: the exception for fingerprint '' matches 2 findings; it covers "
                        "none of them (give more of the fingerprint)"]
