"""``mlposture scan-models`` exit codes and outputs, and ``--history`` on a repository built in the test."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

from click.testing import CliRunner

from mlposture.probes.serialization import SerializationProbe
from mlposture.probes.serialization.command import scan_models
from mlposture.scanner.probe import Finding, Severity
from mlposture.scanner.repo import RepoView
from mlposture.scanner.settings import Settings

FIX = Path(__file__).resolve().parents[3] / "fixtures" / "serialization"


def test_exit_codes_and_text() -> None:
    runner = CliRunner()
    res = runner.invoke(scan_models, [str(FIX / "repos" / "unsafe")])
    assert res.exit_code == 1
    assert "DANGEROUS" in res.output and "models/weights.bin" in res.output and "posix.system" in res.output
    res = runner.invoke(scan_models, [str(FIX / "repos" / "safe")])
    assert res.exit_code == 0 and "2 safe" in res.output
    res = runner.invoke(scan_models, [str(FIX / "repos" / "unsafe"), "--fail-on", "none"])
    assert res.exit_code == 0
    res = runner.invoke(scan_models, [str(FIX / "repos" / "safe"), "--fail-on", "pickle"])
    assert res.exit_code == 0
    res = runner.invoke(scan_models, [str(FIX / "does-not-exist")])
    assert res.exit_code == 2


def test_json_and_sarif() -> None:
    runner = CliRunner()
    res = runner.invoke(scan_models, ["--format", "json", str(FIX / "models" / "mal_torch_name_mismatch.pt")])
    doc = json.loads(res.output)
    (art,) = doc["artifacts"]
    assert art["verdict"] == "dangerous" and art["format"] == "PyTorch zip"
    assert {i["rule"] for i in art["issues"]} == {"serialization.archive-anomaly", "serialization.dangerous-global"}
    res = runner.invoke(scan_models, ["--format", "sarif", str(FIX / "models" / "mal_lambda.keras")])
    sarif = json.loads(res.output)
    assert sarif["version"] == "2.1.0"
    assert [r["ruleId"] for r in sarif["runs"][0]["results"]] == ["serialization.keras-lambda"]
    assert sarif["runs"][0]["tool"]["driver"]["rules"][0]["properties"]["security-severity"] == "9.5"
    assert len(sarif["runs"][0]["results"][0]["partialFingerprints"]["mlposture/v1"]) == 32
    assert res.exit_code == 1


def _git(cwd: Path, *args: str) -> None:
    subprocess.run(["git", "-c", "user.name=t", "-c", "user.email=t@example.com", *args], cwd=cwd, check=True,
                   capture_output=True)


def test_history_reports_artifacts_gone_from_head(tmp_path: Path) -> None:
    _git(tmp_path, "init", "-q", "-b", "main")
    (tmp_path / "train.py").write_text("print('hi')\n")
    shutil.copy(FIX / "models" / "mal_reduce_p4.pkl", tmp_path / "model.pkl")
    shutil.copy(FIX / "models" / "ok_sklearn_pipeline.pkl", tmp_path / "clf.bin")
    _git(tmp_path, "add", ".")
    _git(tmp_path, "commit", "-q", "-m", "add models")
    (tmp_path / "model.pkl").unlink()
    _git(tmp_path, "commit", "-q", "-am", "remove the evil model")
    items = list(SerializationProbe().run(RepoView(tmp_path), Settings(history=True)))
    hist = [i for i in items if isinstance(i, Finding) and i.rule == "serialization.history-artifact"]
    assert [(h.path, h.severity) for h in hist] == [("model.pkl", Severity.CRITICAL)]
    assert "removed from HEAD but still in history at commit" in hist[0].message
    assert "posix.system" in hist[0].message
    # clf.bin is still in HEAD: scanned by the normal pass, not reported as history
    assert any(isinstance(i, Finding) is False and getattr(i, "path", None) == "clf.bin" for i in items)
    without = list(SerializationProbe().run(RepoView(tmp_path), Settings()))
    assert not any(isinstance(i, Finding) and i.rule == "serialization.history-artifact" for i in without)


def test_command_default_budget_matches_the_scanner() -> None:
    from mlposture.probes.serialization import artifacts, command

    assert command.DEFAULT_BUDGET == artifacts.DEFAULT_BUDGET


def test_history_outside_git_is_a_note(tmp_path: Path) -> None:
    from mlposture.scanner.probe import Note

    (tmp_path / "a.txt").write_text("hello\n")
    items = list(SerializationProbe().run(RepoView(tmp_path), Settings(history=True)))
    assert any(isinstance(i, Note) and "not in a git repository" in i.message for i in items)
