"""Who configures the gate, and bad input from the scanned repository: exit codes, notes and report content."""

from __future__ import annotations

import json
import os
import pickle
import random
from pathlib import Path

import pytest
from click.testing import CliRunner

from mlposture.scanner.cli import cli

LOWERS = "this repository's config lowers the gate"


class Evil:
    def __reduce__(self):
        return (os.system, ("true",))


def scan(target: Path, *args: str, env: dict[str, str] | None = None):
    return CliRunner().invoke(cli, ["scan", str(target), "--no-vulns", "-q", *args], env=env)


def repo_with_pickle(tmp_path: Path) -> Path:
    root = tmp_path / "repo"
    root.mkdir()
    (root / "model.pkl").write_bytes(pickle.dumps(Evil(), protocol=2))
    return root


def test_repo_config_that_lowers_the_gate_is_shown_everywhere(tmp_path):
    root = repo_with_pickle(tmp_path)
    (root / "pyproject.toml").write_text('[project]\nname = "x"\n\n[tool.mlposture]\nfail_on = "none"\n'
                                         'disabled_probes = ["serialization"]\nprobe_timeout_seconds = 0\n')
    out = tmp_path / "out"
    res = scan(root, "-f", "json", "-f", "md", "-f", "sarif", "-f", "html", "-f", "junit", "--output-dir", str(out))
    assert res.exit_code == 0, res.output
    report = json.loads((out / "mlposture-report.json").read_text())
    lowered = {r["setting"]: r for r in report["repo_config_lowers_gate"]}
    assert set(lowered) == {"fail_on", "disabled_probes", "probe_timeout_seconds"}
    assert lowered["fail_on"]["path"] == "pyproject.toml" and lowered["fail_on"]["line"] == 5
    for ext in ("md", "sarif", "html", "xml"):
        text = (out / f"mlposture-report.{ext}").read_text()
        assert LOWERS in text or LOWERS.replace("'", "&#x27;") in text, ext
    assert "fail\\_on = none \\(pyproject\\.toml:5\\)" in (out / "mlposture-report.md").read_text()
    plain = CliRunner().invoke(cli, ["scan", str(root), "--no-vulns", "-f", "terminal"])
    assert f"{LOWERS}: disabled_probes = serialization (pyproject.toml:6)" in plain.output


def test_no_repo_config_ignores_the_target_config_and_answers(tmp_path):
    root = repo_with_pickle(tmp_path)
    (root / ".mlposture.yaml").write_text("fail_on: none\nallow_unverified: true\n")
    res = scan(root, "--no-repo-config", "-f", "json", "-o", str(tmp_path / "r.json"))
    assert res.exit_code == 1, res.output
    report = json.loads((tmp_path / "r.json").read_text())
    assert report["repo_config_lowers_gate"] == [] and report["gate"]["fail_on"] == "critical"
    assert any(f["path"] == "model.pkl" and f["severity"] == "critical" for f in report["findings"])


def test_user_settings_from_environment_are_not_flagged(tmp_path):
    root = repo_with_pickle(tmp_path)
    res = scan(root, "-f", "json", "-o", str(tmp_path / "r.json"), env={"MLPOSTURE_FAIL_ON": "none"})
    assert res.exit_code == 0
    assert json.loads((tmp_path / "r.json").read_text())["repo_config_lowers_gate"] == []


@pytest.mark.parametrize(("where", "text", "expect"), [
    (".mlposture.yaml", "max_text_bytes: 0\n", ".mlposture.yaml:1: max_text_bytes: 0 is out of range"),
    (".mlposture.yaml", "probe_timeout_seconds: -1\n", "probe_timeout_seconds: -1.0 is out of range"),
    (".mlposture.yaml", "fail_under: 150\n", "fail_under: 150.0 is out of range"),
    (".mlposture.yaml", "a: 1\nfail_on: \x01none\n", ".mlposture.yaml:2: invalid YAML"),
    (".mlposture.yaml", "extra_controls: [/etc/controls.yaml]\n", "must be a path inside the repository"),
    (".mlposture.yaml", "extra_controls: [../x.yaml]\n", "must be a path inside the repository"),
    (".mlposture.yaml", "exclude: ['\\']\n", "not a valid gitignore pattern"),
    (".mlposture.yaml", "disabled_probes: [nosuch]\n", "unknown probe 'nosuch' (known: "),
])
def test_bad_repo_config_values_exit_2_naming_the_file(tmp_path, where, text, expect):
    root = tmp_path / "repo"
    root.mkdir()
    (root / where).write_text(text)
    res = scan(root)
    assert res.exit_code == 2, res.output
    assert expect in res.output
    assert "Traceback" not in res.output


def test_same_range_checks_for_environment_and_flags(tmp_path):
    root = tmp_path / "repo"
    root.mkdir()
    res = scan(root, env={"MLPOSTURE_MAX_TEXT_BYTES": "0"})
    assert res.exit_code == 2
    assert "environment MLPOSTURE_MAX_TEXT_BYTES: max_text_bytes: 0 is out of range" in res.output
    res = scan(root, "--exclude", "\\")
    assert res.exit_code == 2 and "not a valid gitignore pattern" in res.output
    res = scan(root, "--disable-probe", "nosuch")
    assert res.exit_code == 2 and "unknown probe 'nosuch'" in res.output and "serialization" in res.output


def test_answers_file_with_a_control_byte_exits_2_with_the_line(tmp_path):
    root = tmp_path / "repo"
    root.mkdir()
    answers = tmp_path / "answers.yaml"
    answers.write_text("version: 1\nanswers:\n  DATA-01:\n    status: impl\x01emented\n")
    res = scan(root, "--answers", str(answers))
    assert res.exit_code == 2, res.output
    assert "answers.yaml" in res.output and ":4" in res.output


@pytest.mark.parametrize("content", [
    bytes(random.Random(7).randrange(256) for _ in range(4096)),
    b"a = " + b"[" * 50_000 + b"]" * 50_000 + b"\n",
    b"[tool.mlposture\nfail_on = 'none'\n",
])
def test_broken_pyproject_of_the_target_is_a_note(tmp_path, content):
    root = repo_with_pickle(tmp_path)
    (root / "pyproject.toml").write_bytes(content)
    res = scan(root, "-f", "json", "-o", str(tmp_path / "r.json"))
    assert res.exit_code == 1, res.output  # the pickle still blocks; the scan ran
    report = json.loads((tmp_path / "r.json").read_text())
    assert any(n["path"] == "pyproject.toml" and "[tool.mlposture] not read" in n["message"]
               for n in report["notes"])
    assert all(p["status"] == "ok" for p in report["probes"]), report["probes"]


def test_config_symlink_out_of_the_root_is_not_read_nor_echoed(tmp_path):
    secret = tmp_path / "secret.yaml"
    secret.write_text("TOPSECRET_VALUE: 1\n")
    root = tmp_path / "repo"
    root.mkdir()
    (root / ".mlposture.yaml").symlink_to(secret)
    (root / "pyproject.toml").symlink_to(secret)
    res = scan(root)
    assert res.exit_code == 2 and "symbolic link out of the scanned folder" in res.output
    assert "TOPSECRET" not in res.output


def test_lone_backslash_in_gitignore_and_deep_json_manifest(tmp_path):
    root = repo_with_pickle(tmp_path)
    (root / ".gitignore").write_text("*.log\n\\\n")
    (root / "infra").mkdir()
    (root / "infra" / "stack.json").write_text('{"Resources": ' + "[" * 100_000 + "]" * 100_000 + "}")
    res = scan(root, "-f", "json", "-o", str(tmp_path / "r.json"))
    assert res.exit_code == 1, res.output
    report = json.loads((tmp_path / "r.json").read_text())
    assert any(n["path"] == ".gitignore" and n["line"] == 2 for n in report["notes"])
    assert all(p["status"] == "ok" for p in report["probes"]), report["probes"]
