"""Shared helpers: a git checkout of the demo repository and the environment to run the installed CLI."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
DEMO = ROOT / "fixtures" / "demo-repo"
BIN = Path(sys.executable).parent


def cli_env(**extra: str) -> dict[str, str]:
    """The test process's environment with the installed ``mlposture`` first on PATH."""
    env = dict(os.environ)
    env["PATH"] = f"{BIN}{os.pathsep}{env.get('PATH', '')}"
    env.update(extra)
    return env


def git(cwd: Path, *args: str) -> None:
    subprocess.run(["git", "-c", "user.email=ci@example.com", "-c", "user.name=ci", *args], cwd=cwd, check=True,
                   capture_output=True)


@pytest.fixture
def demo_checkout(tmp_path: Path) -> Path:
    """The demo repository as its own git checkout (as actions/checkout leaves it)."""
    if not (BIN / "mlposture").exists():
        pytest.skip(f"the mlposture console script is not installed beside {sys.executable}")
    work = tmp_path / "workspace"
    shutil.copytree(DEMO, work)
    git(work, "init", "-q")
    git(work, "add", "-A")
    git(work, "commit", "-q", "-m", "demo")
    return work
