"""The CLI as a user meets it: exit codes, reports, the JSON contract, answers moving the score."""

from __future__ import annotations

import json
import shutil
from importlib import resources
from pathlib import Path

import jsonschema
import pytest
from click.testing import CliRunner

from mlposture.scanner.cli import cli

DEMO = Path(__file__).resolve().parents[2] / "fixtures" / "demo-repo"
WEIGHTS = {"critical": 10.0, "high": 7.5, "medium": 5.0, "low": 2.5}
VALUES = {"pass": 1.0, "partial": 0.5, "fail": 0.0, "unverified": 0.0}


def run(*args: str, input: str | None = None):
    return CliRunner().invoke(cli, list(args), input=input, catch_exceptions=False)


@pytest.fixture
def demo(tmp_path) -> Path:
    target = tmp_path / "demo"
    shutil.copytree(DEMO, target)
    return target


@pytest.fixture
def demo_report(demo, tmp_path) -> dict:
    out = tmp_path / "r.json"
    res = run("scan", str(demo), "--no-vulns", "-f", "json", "-o", str(out))
    assert res.exit_code == 1, res.output
    return json.loads(out.read_text())


def recompute(report: dict) -> float:
    total = earned = 0.0
    for c in report["controls"]:
        if c["status"] == "not_applicable":
            continue
        total += WEIGHTS[c["severity"]]
        earned += WEIGHTS[c["severity"]] * VALUES[c["status"]]
    return round(100 * earned / total, 1)


def test_demo_scan_prints_summary_writes_markdown_and_fails_gate(demo, tmp_path):
    res = run("scan", str(demo), "--no-vulns", "--output-dir", str(tmp_path / "out"))
    assert res.exit_code == 1
    assert "Score " in res.output and "Gate (--fail-on critical): FAILED" in res.output
    assert "blocking: " in res.output
    md = (tmp_path / "out" / "mlposture-report.md").read_text()
    for heading in ("# mlposture security report", "## Score: ", "LockML-compatible view", "## Gate: FAILED",
                    "## Findings", "## Controls", "#### MODEL-03 ", "## Needs a manual answer", "```yaml",
                    "## Probes"):
        assert heading in md, heading
    assert "- **MODEL-09**" not in md.split("## Needs a manual answer")[1]  # answered in the demo


def test_json_validates_and_scores_recompute(demo_report):
    schema = json.loads(resources.files("mlposture.scanner.report").joinpath("schema.json").read_text())
    jsonschema.validate(demo_report, schema)
    assert demo_report["score"] == recompute(demo_report)
    assert len(demo_report["controls"]) == 65
    for cat in demo_report["categories"]:
        members = [c for c in demo_report["controls"] if c["category"] == cat["id"]]
        assert cat["score"] == recompute({"controls": members}) if any(
            c["status"] != "not_applicable" for c in members) else 100.0
    lockml = sum(1 for c in demo_report["controls"] if c["lockml_id"] and c["status"] == "pass")
    assert demo_report["lockml"]["score"] == round(lockml / 50 * 100)
    decided = sum(1 for c in demo_report["controls"] if c["status"] != "unverified")
    assert demo_report["coverage"] == round(decided / 65, 2)
    gate = demo_report["gate"]
    assert gate["passed"] is False and gate["blocking"]
    critical = {c["id"] for c in demo_report["controls"] if c["severity"] == "critical"
                and c["status"] in ("fail", "unverified")}
    assert critical <= set(gate["blocking"])
    m9 = next(c for c in demo_report["controls"] if c["id"] == "MODEL-09")
    assert m9["status"] == "pass" and m9["source"] == "answer" and m9["answer"]["by"] == "ml-platform@example.com"


def test_answering_a_control_moves_it_and_the_score(demo, demo_report, tmp_path):
    target = next(c for c in demo_report["controls"] if c["status"] == "unverified" and c["severity"] == "critical")
    answers = demo / ".mlposture" / "answers.yaml"
    answers.write_text(answers.read_text() + f"""  {target['id']}:
    status: implemented
    by: sec@example.com
    date: 2026-11-20
    evidence: https://wiki.example.com/proof
""")
    out = tmp_path / "after.json"
    run("scan", str(demo), "--no-vulns", "-f", "json", "-o", str(out))
    after = json.loads(out.read_text())
    moved = next(c for c in after["controls"] if c["id"] == target["id"])
    assert (moved["status"], moved["source"]) == ("pass", "answer")
    total = sum(WEIGHTS[c["severity"]] for c in demo_report["controls"] if c["status"] != "not_applicable")
    assert after["score"] == pytest.approx(demo_report["score"] + 100 * 10 / total, abs=0.11)
    assert target["id"] not in after["gate"]["blocking"]


def test_fail_on_none_passes(demo, tmp_path):
    res = run("scan", str(demo), "--no-vulns", "--fail-on", "none", "--output-dir", str(tmp_path))
    assert res.exit_code == 0
    assert "Gate (--fail-on none): passed" in res.output


@pytest.mark.parametrize(("args", "files", "message"), [
    (["scan", "/nonexistent/repo"], {}, "/nonexistent/repo: no such file or folder"),
    (["scan", "{demo}", "--answers", "{demo}/bad.yaml"], {"bad.yaml": "version: 1\nanswers:\n  NOPE-01: {}\n"},
     "bad.yaml:3: unknown control id 'NOPE-01'"),
    (["scan", "{demo}"], {".mlposture/answers.yaml": "version: 1\nanswers:\n  DATA-01:\n    status: yes\n"},
     ".mlposture/answers.yaml:4: DATA-01: 'status' must be one of"),
    (["scan", "{demo}"], {".mlposture.yaml": "fail_on: sometimes\n"}, ".mlposture.yaml:1: fail_on: invalid value"),
    (["explain", "XYZ-99"], {}, "unknown control id 'XYZ-99'"),
])
def test_bad_input_exits_2_naming_file_and_line(demo, tmp_path, args, files, message):
    for name, text in files.items():
        (demo / name).write_text(text)
    argv = [a.replace("{demo}", str(demo)) for a in args] + (["--output-dir", str(tmp_path)] if args[0] == "scan"
                                                              else [])
    res = CliRunner().invoke(cli, argv)
    assert res.exit_code == 2, res.output
    assert message.replace("{demo}", str(demo)) in res.output


def test_bad_flag_value_exits_2(demo):
    res = CliRunner().invoke(cli, ["scan", str(demo), "--fail-on", "sometimes"])
    assert res.exit_code == 2 and "Invalid value for '--fail-on'" in res.output


def test_multiple_formats_and_stdout(demo, tmp_path):
    res = run("scan", str(demo), "--no-vulns", "-f", "md", "-f", "json", "--output-dir", str(tmp_path / "o"))
    assert res.exit_code == 1
    assert (tmp_path / "o" / "mlposture-report.md").exists() and (tmp_path / "o" / "mlposture-report.json").exists()
    res = run("scan", str(demo), "--no-vulns", "-f", "json", "-o", "-")
    assert json.loads(res.output)["schema_version"] == 1
    res = CliRunner().invoke(cli, ["scan", str(demo), "-f", "md", "-f", "json", "-o", "x"])
    assert res.exit_code == 2 and "use --output-dir" in res.output


def test_catalog_commands():
    res = run("controls", "--category", "model", "--severity", "critical")
    assert res.exit_code == 0
    rows = [line for line in res.output.splitlines() if line.startswith("| MODEL-")]
    assert [r.split("|")[1].strip() for r in rows] == ["MODEL-01", "MODEL-03", "MODEL-07"]
    data = json.loads(run("controls", "--format", "json").output)
    assert len(data) == 65
    res = run("explain", "model-03")
    assert res.exit_code == 0
    for part in ("MODEL-03:", "Severity: critical", "LockML: model-2", "Evidence that verifies it:", "How to fix:",
                 "owasp: ML06"):
        assert part in res.output, part


def test_config_command_shows_sources(demo):
    (demo / ".mlposture.yaml").write_text("log_retention_days: 120\n")
    res = run("config", str(demo))
    assert res.exit_code == 0
    assert "log_retention_days = 120    # .mlposture.yaml:1" in res.output
    assert "fail_on = critical    # default" in res.output


def test_answer_command_keeps_existing_entries(demo):
    before = (demo / ".mlposture" / "answers.yaml").read_text()
    # answer the first prompt (a Critical control), skip the second, then stop
    res = run("answer", str(demo), "--by", "sec@example.com",
              input="implemented\nhttps://wiki.example.com/x\nreviewed\n\ns\nq\n")
    assert res.exit_code == 0, res.output
    after = (demo / ".mlposture" / "answers.yaml").read_text()
    assert after.startswith(before)  # nothing the user wrote is lost or reordered
    assert "status: implemented" in after[len(before):] and '"sec@example.com"' in after
    assert "1 answer(s) written" in res.output


def test_internal_failure_exits_3(demo, tmp_path, monkeypatch, capsys):
    import sys

    from mlposture.scanner import cli as cli_module
    from mlposture.scanner.report.markdown import MarkdownWriter

    def broken(self, result):
        raise RuntimeError("writer bug")

    monkeypatch.setattr(MarkdownWriter, "render", broken)
    monkeypatch.setattr(sys, "argv", ["mlposture", "scan", str(demo), "--output-dir", str(tmp_path)])
    with pytest.raises(SystemExit) as exit_info:
        cli_module.main()
    assert exit_info.value.code == 3
    assert "internal error: RuntimeError: writer bug" in capsys.readouterr().err
