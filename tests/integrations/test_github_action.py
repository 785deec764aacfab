"""The GitHub Action: its inputs and steps, and its shell steps run locally on the demo repository the way a
runner runs them (inputs through ``env``, ``$GITHUB_OUTPUT``, ``$GITHUB_STEP_SUMMARY``), producing a SARIF file the
OASIS schema accepts with results at the right lines."""

from __future__ import annotations

import json
import re
import subprocess
from pathlib import Path
from typing import Any

import jsonschema
import yaml

from tests.integrations.conftest import ROOT, cli_env

ACTION = ROOT / "action.yml"
SCHEMA = ROOT / "tests" / "data" / "sarif-schema-2.1.0.json"
EXPR = re.compile(r"\$\{\{\s*([\w.-]+)\s*\}\}")
SHA_PIN = re.compile(r"^[\w.-]+/[\w./-]+@[0-9a-f]{40}$")


def action() -> dict[str, Any]:
    data = yaml.safe_load(ACTION.read_text("utf-8"))
    assert isinstance(data, dict)
    return data


def step(name: str) -> dict[str, Any]:
    return next(s for s in action()["runs"]["steps"] if s["name"] == name)


# the event of a push (no pull request): the pull-request head repository is empty, as on GitHub
PUSH_CONTEXT = {"github.repository": "org/model", "github.event.pull_request.head.repo.full_name": ""}


def evaluate(value: str, inputs: dict[str, str], outputs: dict[str, str],
             context: dict[str, str] | None = None) -> str:
    """The subset of GitHub expressions the action uses in ``env`` and ``with``."""
    known = context if context is not None else PUSH_CONTEXT

    def one(m: re.Match[str]) -> str:
        ref = m.group(1)
        if ref in known:
            return known[ref]
        if ref.startswith("inputs."):
            return inputs[ref[7:]]
        if ref.startswith("steps.scan.outputs."):
            return outputs.get(ref[19:], "")
        if ref == "github.action_path":
            return str(ROOT)
        raise AssertionError(f"unexpected expression {ref}")

    return EXPR.sub(one, str(value))


def read_outputs(path: Path) -> dict[str, str]:
    out = {}
    for line in path.read_text("utf-8").splitlines():
        key, _, value = line.partition("=")
        out[key] = value
    return out


def run_step(name: str, workspace: Path, inputs: dict[str, str], outputs: dict[str, str],
             github: dict[str, str], context: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    s = step(name)
    assert s["shell"] == "bash"
    env = cli_env(**github, **{k: evaluate(v, inputs, outputs, context) for k, v in s.get("env", {}).items()})
    return subprocess.run(["bash", "--noprofile", "--norc", "-eo", "pipefail", "-c", s["run"]], cwd=workspace,
                          env=env, capture_output=True, text=True, timeout=300, check=False)


def run_action(workspace: Path, tmp_path: Path, context: dict[str, str] | None = None,
               **given: str) -> tuple[dict[str, str], dict[str, Any], str]:
    """Scan, the upload's inputs, Gate: returns the step outputs, the upload step's ``with``, the gate's output."""
    defaults = {k: str(v.get("default", "")) for k, v in action()["inputs"].items()}
    inputs = {**defaults, **given}
    output_file, summary = tmp_path / "github_output", tmp_path / "step_summary"
    output_file.write_text("")
    summary.write_text("")
    github = {"GITHUB_OUTPUT": str(output_file), "GITHUB_STEP_SUMMARY": str(summary),
              "GITHUB_WORKSPACE": str(workspace), "GITHUB_ACTION_PATH": str(ROOT), "GITHUB_ACTIONS": "true",
              "CI": "true", "RUNNER_TEMP": str(tmp_path)}
    scan = run_step("Scan", workspace, inputs, {}, github, context)
    assert scan.returncode == 0, scan.stderr[-3000:]
    outputs_log = scan.stdout
    outputs = read_outputs(output_file)
    upload = step("Upload SARIF to code scanning")
    with_ = {k: evaluate(v, inputs, outputs) for k, v in upload["with"].items()}
    gate = run_step("Gate", workspace, inputs, outputs, github)
    return outputs, with_, f"{gate.returncode}\n{gate.stdout}{gate.stderr}\n{outputs_log}"


def test_inputs_and_steps():
    a = action()
    assert a["runs"]["using"] == "composite"
    assert {"path", "fail-on", "formats", "answers", "args", "upload-sarif"} <= set(a["inputs"])
    assert a["inputs"]["fail-on"]["default"] == "critical"
    names = [s["name"] for s in a["runs"]["steps"]]
    assert names == ["Set up Python", "Install mlposture", "Scan", "Upload SARIF to code scanning", "Gate"]
    uses = [s["uses"] for s in a["runs"]["steps"] if "uses" in s]
    assert [u.split("@")[0] for u in uses] == ["actions/setup-python", "github/codeql-action/upload-sarif"]
    assert all(SHA_PIN.match(u) for u in uses), uses
    for s in a["runs"]["steps"]:
        if "run" in s:
            assert s["shell"] == "bash"
            assert "${{" not in s["run"], f"step {s['name']}: inputs must reach the shell through env"
    install = step("Install mlposture")
    assert install["env"]["MLPOSTURE_ACTION_PATH"] == "${{ github.action_path }}"
    assert 'pip install' in install["run"] and '"$MLPOSTURE_ACTION_PATH"' in install["run"]
    upload = step("Upload SARIF to code scanning")
    assert "always()" in upload["if"] and "inputs.upload-sarif == 'true'" in upload["if"]
    assert upload["with"]["sarif_file"] == "${{ steps.scan.outputs.sarif }}"
    assert a["outputs"]["exit-code"]["value"] == "${{ steps.scan.outputs.exit-code }}"


def test_action_on_the_demo_repository(demo_checkout: Path, tmp_path: Path):
    outputs, upload, gate = run_action(demo_checkout, tmp_path, args="--no-vulns", formats="md,json")
    assert outputs["exit-code"] == "1"  # the demo fails the critical gate
    assert gate.startswith("1\n") and "::error title=mlposture::gate failed" in gate
    sarif_path = demo_checkout / upload["sarif_file"]
    assert upload["sarif_file"] == "mlposture-report/mlposture-report.sarif"  # added although not in formats
    assert upload["category"] == "mlposture"
    log = json.loads(sarif_path.read_text("utf-8"))
    schema = json.loads(SCHEMA.read_text("utf-8"))
    errors = list(jsonschema.Draft4Validator(schema).iter_errors(log))
    assert not errors, [e.message for e in errors[:3]]
    results = log["runs"][0]["results"]
    assert results
    by_rule: dict[str, list[tuple[str, int]]] = {}
    for r in results:
        loc = r["locations"][0]["physicalLocation"]
        uri, line = loc["artifactLocation"]["uri"], loc["region"]["startLine"]
        assert (demo_checkout / uri).is_file(), uri  # relative to the checkout, as code scanning needs
        by_rule.setdefault(r["ruleId"], []).append((uri, line))
        for related in r.get("relatedLocations", []) if not r.get("kind") else []:  # more lines of one finding
            rel = related["physicalLocation"]
            by_rule[r["ruleId"]].append((rel["artifactLocation"]["uri"], rel["region"]["startLine"]))

    def line_of(uri: str, line: int) -> str:
        return (demo_checkout / uri).read_text("utf-8").splitlines()[line - 1]

    # the places the demo's problems really are
    assert "retention_in_days" in line_of(*by_rule["infrastructure.log-retention"][0])
    assert "verify=False" in line_of(*by_rule["infrastructure.tls-verify-disabled"][0])
    assert "pickle.load" in line_of(*by_rule["serialization.pickle-load-call"][0])
    assert by_rule["MODEL-03"][0][0] in ("models/classifier.pkl", "serve/app.py")  # a failing evidence's file
    routes = [line_of(*p) for p in by_rule["serving.unauthenticated-model-route"]]
    assert any("/predict" in t for t in routes) and any("/batch" in t for t in routes)
    summary = (tmp_path / "step_summary").read_text("utf-8")
    assert summary.startswith("# mlposture security report")
    assert (demo_checkout / "mlposture-report" / "mlposture-report.json").is_file()


def test_gate_passes_with_fail_on_none_and_sarif_can_be_skipped(demo_checkout: Path, tmp_path: Path):
    outputs, _, gate = run_action(demo_checkout, tmp_path, args="--no-vulns", **{"fail-on": "none"},
                                  **{"upload-sarif": "false", "formats": "junit"})
    assert outputs["exit-code"] == "0" and gate.startswith("0\n")
    assert outputs["sarif"] == ""
    assert (demo_checkout / "mlposture-report" / "mlposture-report.xml").is_file()


def test_usage_errors_fail_the_job(demo_checkout: Path, tmp_path: Path):
    outputs, _, gate = run_action(demo_checkout, tmp_path, answers="missing/answers.yaml")
    assert outputs["exit-code"] == "2"
    assert gate.startswith("2\n") and "scan did not complete" in gate


def test_documented_workflow_uses_the_action_inputs():
    doc = (ROOT / "docs" / "github-action.md").read_text("utf-8")
    block = re.search(r"```yaml\n(.*?)```", doc, re.S)
    assert block is not None
    workflow = yaml.safe_load(block.group(1))
    job = workflow["jobs"]["scan"]
    assert job["permissions"]["security-events"] == "write"
    ours = next(s for s in job["steps"] if "/mlposture@" in s.get("uses", ""))
    assert set(ours["with"]) <= set(action()["inputs"])
    others = [s["uses"] for s in job["steps"] if "uses" in s and s is not ours]
    assert others and all(SHA_PIN.match(u) for u in others)
    documented = set(re.findall(r"^\| `([\w-]+)` \|", doc, re.M))
    assert documented == set(action()["inputs"])


def test_attest_key_writes_a_signed_record_beside_the_reports(demo_checkout: Path, tmp_path: Path):
    keys = tmp_path / "keys"
    subprocess.run(["mlposture", "attest", "--generate-key", str(keys)], env=cli_env(), check=True,
                   capture_output=True)
    outputs, _, gate = run_action(demo_checkout, tmp_path, args="--no-vulns", formats="json",
                                  **{"fail-on": "none", "upload-sarif": "false",
                                     "attest-key": str(keys / "mlposture-attest.key")})
    assert gate.startswith("0\n")
    assert outputs["attestation"] == "mlposture-report/mlposture-report.intoto.jsonl"
    check = subprocess.run(["mlposture", "verify-attestation", outputs["attestation"], "--key",
                            str(keys / "mlposture-attest.pub"), "--repo", ".", "--fail-on", "none"],
                           cwd=demo_checkout, env=cli_env(), capture_output=True, text=True)
    assert check.returncode == 0, check.stdout + check.stderr


def test_pull_request_from_a_fork_cannot_lower_the_gate_with_its_own_config(demo_checkout: Path, tmp_path: Path):
    (demo_checkout / ".mlposture.yaml").write_text("disabled_probes: [serialization]\n")
    runs = {}
    for name, head in (("same", "org/model"), ("fork", "mallory/model")):
        context = {"github.repository": "org/model", "github.event.pull_request.head.repo.full_name": head}
        (tmp_path / name).mkdir()
        _, _, log = run_action(demo_checkout, tmp_path / name, context, args="--no-vulns", formats="json",
                                     **{"upload-sarif": "false", "output-dir": str(tmp_path / f"{name}-out")})
        report = json.loads((tmp_path / f"{name}-out" / "mlposture-report.json").read_text("utf-8"))
        runs[name] = (log, report)
    log, report = runs["same"]  # the repository's own config is honoured, and shown
    assert [r["setting"] for r in report["repo_config_lowers_gate"]] == ["disabled_probes"]
    assert "serialization" not in {p["name"] for p in report["probes"]}
    log, report = runs["fork"]
    assert "pull request from a fork" in log
    assert report["repo_config_lowers_gate"] == []
    assert "serialization" in {p["name"] for p in report["probes"]}
