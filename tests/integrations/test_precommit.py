"""pre-commit hooks: both entries are real CLI commands; the model hook, fed the staged files as pre-commit feeds
them (``files`` regex over ``git diff --cached``), fails on a dangerous pickle and passes clean models; the full
scan gates without writing report files into the repository."""

from __future__ import annotations

import re
import shlex
import subprocess
from pathlib import Path
from typing import Any

import click
import yaml

from mlposture.scanner.cli import cli
from tests.integrations.conftest import ROOT, cli_env, git

HOOKS = ROOT / ".pre-commit-hooks.yaml"
# protocol-0 pickle calling os.system: written as bytes, never loaded
EVIL_PICKLE = b"cos\nsystem\n(S'echo pwned'\ntR."
# a safetensors file: 8-byte little-endian header length, JSON header, tensor bytes
SAFE_TENSORS = (lambda h: len(h).to_bytes(8, "little") + h + b"\x00" * 8)(
    b'{"w":{"dtype":"F32","shape":[2],"data_offsets":[0,8]}}')


def hooks() -> dict[str, dict[str, Any]]:
    data = yaml.safe_load(HOOKS.read_text("utf-8"))
    assert isinstance(data, list)
    return {h["id"]: h for h in data}


def staged_for(hook: dict[str, Any], repo: Path) -> list[str]:
    """The staged files pre-commit would pass to ``hook`` (its ``files`` regex, searched as pre-commit does)."""
    out = subprocess.run(["git", "diff", "--cached", "--name-only", "--diff-filter=ACMR"], cwd=repo, check=True,
                         capture_output=True, text=True).stdout.split()
    pattern = re.compile(hook.get("files", ""))
    return [f for f in out if pattern.search(f)]


def run_hook(hook: dict[str, Any], repo: Path, files: list[str]) -> subprocess.CompletedProcess[str]:
    cmd = [*shlex.split(hook["entry"]), *hook.get("args", []), *files]
    return subprocess.run(cmd, cwd=repo, env=cli_env(), capture_output=True, text=True, timeout=300, check=False)


def test_hook_definitions():
    h = hooks()
    assert set(h) == {"mlposture", "mlposture-models"}
    assert h["mlposture"]["pass_filenames"] is False and h["mlposture"]["always_run"] is True
    assert h["mlposture-models"].get("pass_filenames", True) is True
    for hook in h.values():
        assert hook["language"] == "python"
        argv = shlex.split(hook["entry"])
        assert argv[0] == "mlposture" and argv[1] in cli.list_commands(click.Context(cli))
    models = re.compile(h["mlposture-models"]["files"])
    assert all(models.search(p) for p in ("m/a.pkl", "b.PT", "c.safetensors", "d.joblib", "e.npy", "f.gguf"))
    assert not any(models.search(p) for p in ("train.py", "README.md", "data.csv", "pkl.py"))


def test_model_hook_on_staged_files(tmp_path: Path):
    repo = tmp_path / "repo"
    (repo / "models").mkdir(parents=True)
    git(repo, "init", "-q")
    (repo / "models" / "encoder.safetensors").write_bytes(SAFE_TENSORS)
    (repo / "train.py").write_text("print('hi')\n")
    git(repo, "add", "-A")
    hook = hooks()["mlposture-models"]
    files = staged_for(hook, repo)
    assert files == ["models/encoder.safetensors"]
    clean = run_hook(hook, repo, files)
    assert clean.returncode == 0, clean.stdout + clean.stderr

    (repo / "models" / "classifier.pkl").write_bytes(EVIL_PICKLE)
    git(repo, "add", "-A")
    files = staged_for(hook, repo)
    assert files == ["models/classifier.pkl", "models/encoder.safetensors"]
    bad = run_hook(hook, repo, files)
    assert bad.returncode == 1, bad.stdout + bad.stderr
    assert "DANGEROUS  models/classifier.pkl" in bad.stdout
    assert "serialization.dangerous-global" in bad.stdout and "os.system" in bad.stdout


def test_full_scan_hook_gates_without_writing_reports(demo_checkout: Path):
    hook = hooks()["mlposture"]
    proc = run_hook(hook, demo_checkout, [])
    assert proc.returncode == 1, proc.stderr[-2000:]
    assert "Gate (--fail-on critical): FAILED" in proc.stdout
    status = subprocess.run(["git", "status", "--porcelain", "--untracked-files=all"], cwd=demo_checkout,
                            check=True, capture_output=True, text=True).stdout
    assert status == ""  # pre-commit flags hooks that modify the tree; this one leaves it alone
