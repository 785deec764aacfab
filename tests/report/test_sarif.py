"""SARIF 2.1.0: valid against the OASIS schema, rules and results where GitHub code scanning expects them."""

from __future__ import annotations

import dataclasses
import json
import subprocess
from pathlib import Path
from typing import Any

import jsonschema
import pytest

from mlposture.scanner.report.registry import format_names, writer_for
from mlposture.scanner.report.sarif import to_sarif
from mlposture.scanner.results import ScanResult
from tests.report.conftest import ACCEPTED, HOSTILE, UNPINNED, build_result, write_repo

SCHEMA_COPY = Path(__file__).parents[1] / "data" / "sarif-schema-2.1.0.json"
SHARED_SCHEMA = Path(__file__).parents[2] / ".." / "shared" / "schemas" / "sarif-schema-2.1.0.json"


def validate(log: dict[str, Any]) -> None:
    schema = json.loads(SCHEMA_COPY.read_text("utf-8"))
    jsonschema.Draft4Validator.check_schema(schema)
    errors = sorted(jsonschema.Draft4Validator(schema).iter_errors(log), key=lambda e: list(e.path))
    assert not errors, [f"{list(e.path)}: {e.message}" for e in errors[:5]]


def results_by_rule(log: dict[str, Any]) -> dict[str, list[dict[str, Any]]]:
    out: dict[str, list[dict[str, Any]]] = {}
    for r in log["runs"][0]["results"]:
        out.setdefault(r["ruleId"], []).append(r)
    return out


def place(result: dict[str, Any]) -> tuple[str, int]:
    loc = result["locations"][0]["physicalLocation"]
    return loc["artifactLocation"]["uri"], loc["region"]["startLine"]


def test_schema_copy_matches_the_shared_schema():
    if not SHARED_SCHEMA.is_file():
        pytest.skip("../shared/schemas is not beside this checkout; the copy in tests/data is used alone")
    assert json.loads(SHARED_SCHEMA.read_text("utf-8")) == json.loads(SCHEMA_COPY.read_text("utf-8"))


def test_registered_and_valid_against_the_oasis_schema(sample: ScanResult):
    assert {"sarif", "junit", "html"} <= set(format_names())
    text = writer_for("sarif").render(sample)
    log = json.loads(text)
    validate(log)
    assert log["version"] == "2.1.0" and len(log["runs"]) == 1


def test_rules_cover_every_control_and_every_finding_rule(sample: ScanResult):
    run = to_sarif(sample)["runs"][0]
    rules = run["tool"]["driver"]["rules"]
    ids = [r["id"] for r in rules]
    assert len(ids) == len(set(ids))
    assert ids[:8] == ["AL-01", "AL-02", "AL-03", "BE-01", "BE-02", "GA-01", "GA-02", "GA-03"]
    assert set(ids[8:]) == {UNPINNED.rule, HOSTILE.rule, ACCEPTED.rule}
    by_id = {r["id"]: r for r in rules}
    al01 = by_id["AL-01"]
    assert al01["shortDescription"]["text"] == "AL-01 Critical thing"
    assert al01["fullDescription"]["text"] == "A critical control."
    assert "Set the key." in al01["help"]["text"] and "**How to fix:** Set the key." in al01["help"]["markdown"]
    assert al01["helpUri"].startswith("https://")
    assert al01["properties"]["security-severity"] == "9.5"
    assert al01["defaultConfiguration"]["level"] == "error"
    assert [by_id[c]["properties"]["security-severity"] for c in ("AL-02", "AL-03", "BE-01")] == ["7.5", "5.0", "2.0"]
    tags = by_id["GA-01"]["properties"]["tags"]
    assert "security" in tags and "owasp/ML06" in tags and "atlas/AML.M0013" in tags
    assert by_id["GA-01"]["helpUri"] == "https://atlas.mitre.org/mitigations/AML.M0013"
    assert "lockml/data-0" in al01["properties"]["tags"]
    unpinned = by_id[UNPINNED.rule]
    assert unpinned["properties"]["security-severity"] == "7.5"
    assert "AL-02 (High thing)" in unpinned["fullDescription"]["text"]
    assert "Call the library." in unpinned["help"]["text"]


def test_results_for_failing_controls_and_findings_at_file_and_line(sample: ScanResult):
    log = to_sarif(sample)
    run = log["runs"][0]
    got = results_by_rule(log)
    # failing controls; unverified, not applicable, pass and partial give no result
    assert set(got) == {"AL-01", "AL-02", "GA-03", UNPINNED.rule, HOSTILE.rule, ACCEPTED.rule}
    al01 = got["AL-01"][0]
    assert place(al01) == ("infra/main.tf", 12)
    assert al01["level"] == "error"
    assert "bucket 'raw' has no encryption block (infra/main.tf:12)" in al01["message"]["text"]
    related = al01["relatedLocations"][0]
    assert related["physicalLocation"]["artifactLocation"]["uri"] == "infra/tmp.tf"
    assert related["physicalLocation"]["region"]["startLine"] == 3
    # repository-level gap: the file the control names as its evidence (SECURITY.md exists), line 1
    assert place(got["GA-03"][0]) == ("SECURITY.md", 1)
    assert place(got[UNPINNED.rule][0]) == ("requirements.txt", 3)
    assert got[UNPINNED.rule][0]["level"] == "error" and got[HOSTILE.rule][0]["level"] == "warning"
    # hostile path: percent-encoded in the URI
    uri, line = place(got[HOSTILE.rule][0])
    assert line == 7 and "<" not in uri and uri.startswith("conf/%3Cimg%20src%3Dx")
    rules = run["tool"]["driver"]["rules"]
    for r in run["results"]:
        assert rules[r["ruleIndex"]]["id"] == r["ruleId"]
        assert r["locations"][0]["physicalLocation"]["region"]["startLine"] >= 1


def test_accepted_exception_is_a_suppression_with_the_justification(sample: ScanResult):
    got = results_by_rule(to_sarif(sample))
    sup = got[ACCEPTED.rule][0]["suppressions"]
    assert sup == [{"kind": "external", "status": "accepted",
                    "justification": "test fixture token, never deployed (accepted by alice@example.com on "
                                     "2026-11-01)"}]
    assert "suppressions" not in got[UNPINNED.rule][0]


def test_fingerprints_are_stable_when_lines_move(sample: ScanResult):
    first = to_sarif(sample)
    moved = dataclasses.replace(sample, findings=tuple(
        dataclasses.replace(f, finding=dataclasses.replace(f.finding, line=(f.finding.line or 0) + 40))
        for f in sample.findings))
    second = to_sarif(moved)
    prints = [r["partialFingerprints"] for r in first["runs"][0]["results"]]
    assert prints == [r["partialFingerprints"] for r in second["runs"][0]["results"]]
    assert len({json.dumps(p) for p in prints}) == len(prints)
    got = results_by_rule(first)
    assert got[UNPINNED.rule][0]["partialFingerprints"] == {"mlposture/v1": UNPINNED.fingerprint}
    assert place(results_by_rule(second)[UNPINNED.rule][0]) == ("requirements.txt", 43)


def test_probe_errors_are_tool_execution_notifications(sample: ScanResult):
    inv = to_sarif(sample)["runs"][0]["invocations"][0]
    assert inv["executionSuccessful"] is True
    errors = [n for n in inv["toolExecutionNotifications"] if n["level"] == "error"]
    assert [n["descriptor"]["id"] for n in errors] == ["crashy"]
    assert "parser exploded" in errors[0]["message"]["text"] and "BE-02" in errors[0]["message"]["text"]


def test_gap_falls_back_to_the_readme_when_the_expected_file_is_missing(tmp_path: Path):
    root = tmp_path / "repo"
    root.mkdir()
    write_repo(root)
    (root / "SECURITY.md").unlink()
    log = to_sarif(build_result(root))
    validate(log)
    assert place(results_by_rule(log)["GA-03"][0]) == ("README.md", 1)


def test_uris_are_relative_to_the_git_checkout_when_a_subfolder_is_scanned(tmp_path: Path):
    top = tmp_path / "checkout"
    root = top / "ml" / "service"
    root.mkdir(parents=True)
    write_repo(root)
    subprocess.run(["git", "init", "-q", str(top)], check=True)
    log = to_sarif(build_result(root))
    validate(log)
    got = results_by_rule(log)
    assert place(got["AL-01"][0]) == ("ml/service/infra/main.tf", 12)
    assert place(got["GA-03"][0]) == ("ml/service/SECURITY.md", 1)


def test_github_limits_tags_and_results(sample: ScanResult, monkeypatch: pytest.MonkeyPatch):
    from mlposture.scanner.catalog import Mappings
    from mlposture.scanner.report import sarif

    control = sample.catalog.controls[0]
    crowded = dataclasses.replace(control, mappings=Mappings(atlas=tuple(f"AML.M{i:04d}" for i in range(30)),
                                                            owasp=("ML01", "ML02")))
    tags = sarif.control_rule(crowded)["properties"]["tags"]
    assert len(tags) == sarif.MAX_TAGS == 10 and tags[0] == "security"  # more than 20 rejects the upload

    monkeypatch.setattr(sarif, "MAX_RESULTS", 4)  # 3 failing controls + the worst finding
    log = to_sarif(sample)
    validate(log)
    run = log["runs"][0]
    assert [r["ruleId"] for r in run["results"]] == ["AL-01", "AL-02", "GA-03", UNPINNED.rule]
    notes = [n["message"]["text"] for n in run["invocations"][0]["toolExecutionNotifications"]]
    assert any(t.startswith("2 lower-severity findings left out") for t in notes)


def test_provenance_of_a_remote_target_carries_no_credentials(sample: ScanResult):
    from mlposture.scanner.gitinfo import GitInfo

    git_info = GitInfo("a" * 40, "v1.2.0", False, None)
    remote = dataclasses.replace(sample, target=dataclasses.replace(
        sample.target, url="https://***@git.example.com/ml/churn.git", ref="v1.2.0", git=git_info))
    log = to_sarif(remote)
    validate(log)
    assert log["runs"][0]["versionControlProvenance"] == [
        {"repositoryUri": "https://git.example.com/ml/churn.git", "revisionId": "a" * 40, "branch": "v1.2.0"}]
    scp = dataclasses.replace(remote, target=dataclasses.replace(remote.target, url="git@git.example.com:ml/x.git"))
    assert "versionControlProvenance" not in to_sarif(scp)["runs"][0]
    assert "versionControlProvenance" not in to_sarif(sample)["runs"][0]
