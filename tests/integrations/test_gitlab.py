"""The GitLab CI template: its script run locally on the demo repository writes the JUnit report GitLab reads
(``artifacts:reports:junit``) and the artifact folder, with counts that match the JSON report."""

from __future__ import annotations

import json
import subprocess
import xml.etree.ElementTree as ET
from pathlib import Path
from typing import Any

import yaml

from tests.integrations.conftest import ROOT, cli_env

TEMPLATE = ROOT / "ci" / "gitlab" / "mlposture.gitlab-ci.yml"


def template() -> dict[str, Any]:
    data = yaml.safe_load(TEMPLATE.read_text("utf-8"))
    assert isinstance(data, dict)
    return data


def test_job_shape():
    t = template()
    job = t["mlposture"]
    assert job["stage"] == "test"
    assert job["artifacts"]["when"] == "always"
    assert job["artifacts"]["reports"]["junit"] == "mlposture-report/mlposture-report.xml"
    assert job["artifacts"]["paths"] == ["mlposture-report/"]
    assert t["variables"]["MLPOSTURE_REPORT_DIR"] == "mlposture-report"
    assert any('"$MLPOSTURE_PIP_SPEC"' in line for line in job["before_script"])
    assert t["variables"]["MLPOSTURE_FAIL_ON"] == "critical"


def run_script(workspace: Path, **overrides: str) -> subprocess.CompletedProcess[str]:
    t = template()
    variables = {**t["variables"], **t["mlposture"]["variables"], **overrides}
    script = "\n".join(t["mlposture"]["script"])
    return subprocess.run(["sh", "-c", f"set -e\n{script}"], cwd=workspace, env=cli_env(**variables),
                          capture_output=True, text=True, timeout=300, check=False)


def test_script_on_the_demo_writes_the_junit_report_and_the_artifacts(demo_checkout: Path):
    proc = run_script(demo_checkout, MLPOSTURE_ARGS="--no-vulns")
    assert proc.returncode == 1, proc.stderr[-3000:]  # the gate fails the job; artifacts are kept (when: always)
    job = template()["mlposture"]
    junit = demo_checkout / job["artifacts"]["reports"]["junit"]
    for p in job["artifacts"]["paths"]:
        assert (demo_checkout / p).is_dir()
    for ext in ("md", "html", "json", "xml"):
        assert (demo_checkout / "mlposture-report" / f"mlposture-report.{ext}").is_file()
    root = ET.fromstring(junit.read_bytes())
    report = json.loads((demo_checkout / "mlposture-report" / "mlposture-report.json").read_text("utf-8"))
    statuses = [c["status"] for c in report["controls"]]
    assert int(root.get("tests", "")) == len(statuses) == len(list(root.iter("testcase")))
    assert int(root.get("failures", "")) == statuses.count("fail") > 0
    assert int(root.get("skipped", "")) + int(root.get("errors", "")) == (statuses.count("unverified")
                                                                         + statuses.count("not_applicable"))
    failing = {c.get("name", "").split(" ")[0] for c in root.iter("testcase") if c.find("failure") is not None}
    assert failing == {c["id"] for c in report["controls"] if c["status"] == "fail"}
    assert "Score" in proc.stdout  # the terminal summary in the job log


def test_answers_variable_is_passed(demo_checkout: Path):
    proc = run_script(demo_checkout, MLPOSTURE_ARGS="--no-vulns", MLPOSTURE_ANSWERS="nowhere/answers.yaml")
    assert proc.returncode == 2
    assert "nowhere/answers.yaml" in proc.stderr


def test_attest_key_variable_writes_a_signed_record(demo_checkout: Path, tmp_path: Path):
    keys = tmp_path / "keys"
    subprocess.run(["mlposture", "attest", "--generate-key", str(keys)], env=cli_env(), check=True,
                   capture_output=True)
    proc = run_script(demo_checkout, MLPOSTURE_ARGS="--no-vulns", MLPOSTURE_FAIL_ON="none",
                      MLPOSTURE_ATTEST_KEY_FILE=str(keys / "mlposture-attest.key"))
    assert proc.returncode == 0, proc.stderr[-3000:]
    record = demo_checkout / "mlposture-report" / "mlposture-report.intoto.jsonl"
    check = subprocess.run(["mlposture", "verify-attestation", str(record), "--key", str(keys / "mlposture-attest.pub"),
                            "--repo", str(demo_checkout), "--fail-on", "none"], env=cli_env(), capture_output=True,
                           text=True)
    assert check.returncode == 0, check.stdout + check.stderr


def test_merge_request_from_a_fork_ignores_the_repository_config(demo_checkout: Path):
    (demo_checkout / ".mlposture.yaml").write_text("disabled_probes: [serialization]\n")
    report_file = demo_checkout / "mlposture-report" / "mlposture-report.json"
    run_script(demo_checkout, MLPOSTURE_ARGS="--no-vulns", CI_MERGE_REQUEST_SOURCE_PROJECT_ID="7",
               CI_MERGE_REQUEST_PROJECT_ID="7")
    report = json.loads(report_file.read_text("utf-8"))
    assert [r["setting"] for r in report["repo_config_lowers_gate"]] == ["disabled_probes"]
    fork = run_script(demo_checkout, MLPOSTURE_ARGS="--no-vulns", CI_MERGE_REQUEST_SOURCE_PROJECT_ID="99",
                      CI_MERGE_REQUEST_PROJECT_ID="7")
    assert "merge request from a fork" in fork.stdout
    report = json.loads(report_file.read_text("utf-8"))
    assert report["repo_config_lowers_gate"] == []
    assert "serialization" in {p["name"] for p in report["probes"]}
