"""Every built-in probe declares the rules it emits: no fixture scan emits an undeclared rule, every declared rule
names its probe and existing controls, and every declared rule is reached by a fixture or listed below as not yet.

The fixture repositories (those of the verdict snapshot, plus the corpus) are scanned once, in this process,
through the engine, with the vulnerability audit off.
"""

from __future__ import annotations

import importlib.util
import json
from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path

import pytest
from click.testing import CliRunner

from mlposture.scanner.catalog import load_catalog
from mlposture.scanner.cli import cli
from mlposture.scanner.config import ConfigError, build_settings
from mlposture.scanner.gate import BUILTIN_DISTRIBUTION
from mlposture.scanner.plugins import discover
from mlposture.scanner.probe import Evidence, Finding, NotApplicable, Probe
from mlposture.scanner.report.sarif import to_sarif
from mlposture.scanner.results import ScanResult
from mlposture.scanner.scan import scan
from mlposture.scanner.settings import Settings

_HERE = Path(__file__).resolve().parent
_spec = importlib.util.spec_from_file_location("mlposture_verdict_targets", _HERE / "snapshots" / "verdicts.py")
assert _spec is not None and _spec.loader is not None
_snapshot = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(_snapshot)
FIXTURES: Path = _snapshot.FIXTURES

#: Declared rules no fixture repository reaches yet, each with what it needs. Remove an entry when a fixture
#: starts reaching it (the test below fails until then).
NOT_REACHED_BY_FIXTURES = {
    # needs the vulnerability audit (pip-audit against OSV), which this scan turns off to stay fast and offline;
    # tests/probes/dependencies/test_vulnerabilities.py runs it against fixtures/dependencies/osv-db
    "dependencies.known-vulnerability",
    # need --history and a git repository; fixtures carry no .git (tests/probes/serialization builds one)
    "serialization.history-artifact",
    # need a model-scanning limit to be reached (size, time, recursion): tests/probes/serialization/test_ser_hostile.py
    "serialization.scan-limit",
    # no fixture calls keras load_model(safe_mode=False): tests/probes/serialization/test_ser_code_signals.py
    "serialization.keras-unsafe-load",
    # no fixture has a SHA256SUMS-style manifest of data files, lineage calls (mlflow.log_input, OpenLineage,
    # lakeFS), retention enforcement code, synthetic-data validation or documentation, or robust federated
    # aggregation
    "data_lifecycle.hash-manifest",
    "data_lifecycle.lineage",
    "data_lifecycle.retention-enforcement",
    "data_lifecycle.synthetic-validation",
    "data_lifecycle.synthetic-documented",
    "data_lifecycle.robust-aggregation",
    # no fixture has registry access control, watermarking code, a custom model licence, a NOTICE/third-party
    # inventory or licence tooling in CI (registry access and restrictive licences: test_model_probe.py)
    "model_lifecycle.registry-access",
    "model_lifecycle.watermark",
    "model_lifecycle.restrictive-license",
    "model_lifecycle.third-party-inventory",
    "model_lifecycle.license-tooling",
    # no fixture has an Argo Rollouts analysis or a rollback script / Makefile target
    "monitoring.rollback-analysis",
    "monitoring.rollback-script",
    # no fixture has a promptfoo redteam configuration in an LLM repository
    "serving.prompt-redteam",
}


@dataclass(frozen=True)
class FixtureScans:
    """What the scans of every fixture repository emitted, per probe, and the engine's notes."""

    emitted: dict[str, set[str]]
    notes: list[str]
    targets: int
    demo: ScanResult


def _targets() -> list[Path]:
    named = [*_snapshot.targets(), *(f"corpus/{p.name}" for p in sorted((FIXTURES / "corpus").iterdir())
                                    if p.is_dir())]
    return [FIXTURES / t for t in named]


def _builtin_probes() -> list[type[Probe]]:
    return [cls for cls, dist in discover().probes if dist == BUILTIN_DISTRIBUTION]


@pytest.fixture(scope="module")
def fixture_scans() -> FixtureScans:
    catalog = load_catalog()
    probes = discover().probes
    emitted: dict[str, set[str]] = defaultdict(set)
    notes: list[str] = []
    targets = _targets()
    demo: ScanResult | None = None
    for root in targets:
        try:
            settings = build_settings(root, {}, {"no_vulns": True, "jobs": 1}).settings
        except ConfigError:  # a deliberately broken repository configuration: the probes still judge
            settings = Settings(no_vulns=True, jobs=1)
        result = scan(root, settings, catalog=catalog, probes=probes, display_target=root.name)
        for run in result.probes:
            assert run.error is None, f"{run.info.name} failed on {root}: {run.error}"
            emitted[run.info.name].update(i.rule for i in run.items
                                          if isinstance(i, (Evidence, Finding, NotApplicable)) and i.rule)
        notes += [f"{root.relative_to(FIXTURES)}: {n.message}" for n in result.notes]
        if root.name == "demo-repo":
            demo = result
    assert demo is not None
    return FixtureScans(dict(emitted), notes, len(targets), demo)


def test_every_builtin_probe_declares_its_rules() -> None:
    probes = {cls.name: cls for cls in _builtin_probes()}
    assert len(probes) == 10
    assert {name for name, cls in probes.items() if not cls.rules} == set()


def test_no_fixture_scan_emits_an_undeclared_rule(fixture_scans: FixtureScans) -> None:
    assert fixture_scans.targets > 90
    assert [n for n in fixture_scans.notes if "which it does not declare" in n] == []
    for cls in _builtin_probes():
        declared = {r.id for r in cls.rules}
        undeclared = fixture_scans.emitted.get(cls.name, set()) - declared
        assert undeclared == set(), f"declare them in the {cls.name} probe's rules module (RULES)"


def test_declared_rules_name_their_probe_and_existing_controls() -> None:
    catalog = load_catalog()
    seen: set[str] = set()
    for cls in _builtin_probes():
        for rule in cls.rules:
            assert rule.id.startswith(f"{cls.name}.") and rule.id not in seen, rule.id
            seen.add(rule.id)
            assert [c for c in rule.controls if c not in catalog] == [], rule.id
            assert rule.summary and "\n" not in rule.summary and len(rule.summary) <= 140, rule.id
            # a rule speaks for a control or, failing that, gates through the severity of its findings
            assert rule.controls or rule.severity is not None, rule.id
        assert set(cls.controls) == {c for r in cls.rules for c in r.controls}, cls.name


def test_every_declared_rule_is_reached_by_a_fixture_or_listed(fixture_scans: FixtureScans) -> None:
    declared = {r.id for cls in _builtin_probes() for r in cls.rules}
    reached = set().union(*fixture_scans.emitted.values())
    assert NOT_REACHED_BY_FIXTURES - declared == set(), "listed but not declared"
    assert declared - reached - NOT_REACHED_BY_FIXTURES == set(), "declared rules no fixture reaches"
    assert NOT_REACHED_BY_FIXTURES & reached == set(), "reached now: remove from NOT_REACHED_BY_FIXTURES"


def test_sarif_describes_finding_rules_with_their_summaries(fixture_scans: FixtureScans) -> None:
    summaries = {r.id: r.summary for cls in _builtin_probes() for r in cls.rules}
    found = {f.finding.rule: f.probe for f in fixture_scans.demo.findings}
    assert len(found) >= 5
    described = {r["id"]: r["shortDescription"]["text"]
                 for r in to_sarif(fixture_scans.demo)["runs"][0]["tool"]["driver"]["rules"]}
    assert {rule: described[rule] for rule in found} == {rule: f"{probe}: {summaries[rule]}"
                                                         for rule, probe in found.items()}


def test_the_probes_command_lists_every_rule() -> None:
    rules = [r for cls in _builtin_probes() for r in cls.rules]
    summaries = {r.id: r.summary for r in rules}
    text = CliRunner().invoke(cli, ["probes", "--rules"], catch_exceptions=False).output
    for r in rules:
        severity = f" [{r.severity.value}]" if r.severity else ""
        assert f"    {r.id}{severity} ({', '.join(r.controls) or 'no control'}): {r.summary}\n" in text, r.id
    assert "    " + rules[0].id not in CliRunner().invoke(cli, ["probes"], catch_exceptions=False).output
    data = json.loads(CliRunner().invoke(cli, ["probes", "--format", "json"], catch_exceptions=False).output)
    listed = {r["id"]: r for p in data for r in p.get("rules", ())}
    assert listed["serialization.scan-limit"] == {"id": "serialization.scan-limit", "controls": [],
                                                  "summary": summaries["serialization.scan-limit"],
                                                  "severity": "critical"}
    assert listed["monitoring.eu-risk-tier"]["severity"] is None
    assert sorted(listed) == sorted(r.id for r in rules)
