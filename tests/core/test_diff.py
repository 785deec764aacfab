"""``mlposture diff``: regressions, new and resolved findings, deltas, exit codes."""

from __future__ import annotations

import copy
import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from mlposture.scanner.cli import cli
from mlposture.scanner.diff import diff_reports, render_markdown


def report(**over: object) -> dict:
    base = {
        "schema_version": 1, "target": {"path": "repo", "git": {"commit": "a" * 40, "ref": "v1", "dirty": False}},
        "score": 60.0, "coverage": 0.5,
        "controls": [
            {"id": "PIPE-01", "title": "Pinned dependencies", "severity": "critical", "status": "pass"},
            {"id": "MODEL-03", "title": "SafeTensors", "severity": "critical", "status": "partial"},
            {"id": "INF-08", "title": "Logging", "severity": "high", "status": "fail"},
            {"id": "MON-05", "title": "Playbook", "severity": "high", "status": "pass"},
        ],
        "findings": [{"fingerprint": "f1", "rule": "r.one", "severity": "high", "path": "a.txt", "line": 3,
                      "message": "old problem"}],
    }
    base.update(over)
    return base


def test_regression_new_and_resolved_findings():
    old = report()
    new = copy.deepcopy(old)
    new["score"], new["coverage"] = 52.5, 0.55
    new["controls"][0]["status"] = "fail"  # PIPE-01 pass -> fail: regression
    new["controls"][2]["status"] = "pass"  # INF-08 fail -> pass: improvement
    new["controls"][3]["status"] = "partial"  # MON-05 pass -> partial: other change
    new["findings"] = [{"fingerprint": "f2", "rule": "dependencies.unpinned-requirement", "severity": "high",
                        "path": "requirements.txt", "line": 9, "message": "torch is not pinned"}]
    d = diff_reports(old, new)
    assert [c.id for c in d.regressions] == ["PIPE-01"]
    assert [c.id for c in d.improvements] == ["INF-08"]
    assert [c.id for c in d.other_changes] == ["MON-05"]
    assert [f["fingerprint"] for f in d.new_findings] == ["f2"]
    assert [f["fingerprint"] for f in d.resolved_findings] == ["f1"]
    md = render_markdown(d)
    assert "Score **60.0 → 52.5** (-7.5)" in md
    assert "| PIPE-01 Pinned dependencies | critical | pass | **fail** |" in md
    assert "`requirements.txt:9`" in md and "### Resolved findings (1)" in md


def test_moved_finding_is_not_new():
    old = report()
    new = copy.deepcopy(old)
    new["findings"][0]["line"] = 40  # same fingerprint, new line
    d = diff_reports(old, new)
    assert d.new_findings == () and d.resolved_findings == () and d.regressions == []


def write(tmp: Path, name: str, data: object) -> str:
    p = tmp / name
    p.write_text(json.dumps(data) if not isinstance(data, str) else data)
    return str(p)


def test_cli_exit_codes(tmp_path):
    old = write(tmp_path, "old.json", report())
    same = write(tmp_path, "same.json", report())
    worse_data = report()
    worse_data["controls"][1]["status"] = "unverified"
    worse = write(tmp_path, "new.json", worse_data)
    runner = CliRunner()
    assert runner.invoke(cli, ["diff", old, same, "--fail-on-regression"]).exit_code == 0
    res = runner.invoke(cli, ["diff", old, worse, "--fail-on-regression"])
    assert res.exit_code == 1 and "MODEL-03" in res.output
    assert runner.invoke(cli, ["diff", old, worse]).exit_code == 0
    res = runner.invoke(cli, ["diff", old, worse, "--format", "json"])
    assert json.loads(res.output)["regressions"][0]["id"] == "MODEL-03"


@pytest.mark.parametrize(("content", "message"), [
    ("{not json", "bad.json:1: not JSON"),
    ('{"schema_version": 2}', "bad.json: not a mlposture JSON report"),
])
def test_cli_bad_input(tmp_path, content, message):
    old = write(tmp_path, "old.json", report())
    bad = write(tmp_path, "bad.json", content)
    res = CliRunner().invoke(cli, ["diff", old, bad])
    assert res.exit_code == 2 and message in res.output
    res = CliRunner().invoke(cli, ["diff", old, str(tmp_path / "missing.json")])
    assert res.exit_code == 2 and "cannot read" in res.output


DEMO = Path(__file__).resolve().parents[2] / "fixtures" / "demo-repo"


def test_diff_of_two_demo_states_lists_exactly_the_regression(tmp_path):
    import shutil

    demo = tmp_path / "demo"
    shutil.copytree(DEMO, demo)
    runner = CliRunner()
    old = tmp_path / "old.json"
    new = tmp_path / "new.json"
    assert runner.invoke(cli, ["scan", str(demo), "-f", "json", "-o", str(old)]).exit_code == 1
    # the regression: the dependency audit step is removed from CI
    ci = demo / ".github" / "workflows" / "ci.yml"
    audit_step = "      - name: Audit dependencies\n        run: pip-audit -r requirements.txt\n"
    ci.write_text(ci.read_text().replace(audit_step, ""))
    assert runner.invoke(cli, ["scan", str(demo), "-f", "json", "-o", str(new)]).exit_code == 1
    res = runner.invoke(cli, ["diff", str(old), str(new), "--format", "json", "--fail-on-regression"])
    assert res.exit_code == 1
    d = json.loads(res.output)
    assert [(r["id"], r["old"], r["new"]) for r in d["regressions"]] == [("PIPE-02", "pass", "unverified")]
    assert d["new_findings"] == [] and d["resolved_findings"] == []
    assert d["score"]["delta"] < 0


def test_diff_output_is_written_whole_and_a_bad_destination_is_a_usage_error(tmp_path):
    runner = CliRunner()
    report = tmp_path / "r.json"
    assert runner.invoke(cli, ["scan", str(DEMO), "-f", "json", "-o", str(report)]).exit_code == 1
    out = tmp_path / "diff.md"
    out.write_text("previous diff\n")
    res = runner.invoke(cli, ["diff", str(report), str(report), "-o", str(out)])
    assert res.exit_code == 0
    assert out.read_text().startswith("#") and "previous diff" not in out.read_text()
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".diff.md")] == []  # no temporary left
    res = runner.invoke(cli, ["diff", str(report), str(report), "-o", str(tmp_path)])  # a folder
    assert res.exit_code == 2 and "cannot write the diff" in res.output
