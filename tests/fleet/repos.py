"""Generated git repositories for the fleet tests (plain files and git commands, nothing of mlposture)."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

ENV = {**os.environ, "GIT_AUTHOR_NAME": "t", "GIT_AUTHOR_EMAIL": "t@example.com", "GIT_COMMITTER_NAME": "t",
       "GIT_COMMITTER_EMAIL": "t@example.com", "GIT_CONFIG_NOSYSTEM": "1"}

# bytes of a protocol-0 pickle that would call os.system on load (never loaded: the scanner reads opcodes)
DANGEROUS_PICKLE = b"cos\nsystem\n(S'echo owned'\ntR."
WORKFLOW_PINNED = """name: ci
on: [push]
permissions:
  contents: read
jobs:
  test:
    runs-on: ubuntu-latest
    steps:
      - uses: actions/checkout@b4ffde65f46336ab88eb53be808477a3936bae11
      - run: pip install -r requirements.txt
"""


def git(cwd: Path, *args: str) -> str:
    return subprocess.run(["git", *args], cwd=cwd, env=ENV, check=True, capture_output=True, text=True).stdout


def commit_all(repo: Path, message: str) -> str:
    git(repo, "add", "-A")
    git(repo, "commit", "-qm", message)
    return git(repo, "rev-parse", "HEAD").strip()


def make_repo(root: Path, name: str, kind: str, variant: int = 0) -> Path:
    """A small ML repository: ``good`` (safetensors, pinned, reviewed CI), ``bad`` (a dangerous pickle, pickle
    loading, unpinned), ``mixed``, or ``broken`` (an answers file the scanner refuses: its scan fails)."""
    repo = root / name
    repo.mkdir(parents=True)
    git(repo, "init", "-q", "-b", "main")
    (repo / "README.md").write_text(f"# {name}\n\nA model for task {variant}.\n")
    if kind in ("good", "mixed"):
        (repo / "requirements.txt").write_text(f"torch==2.3.{variant % 3}\nsafetensors==0.4.3\nnumpy==1.26.4\n")
        (repo / "train.py").write_text("from safetensors.torch import load_file\n\n"
                                       f"weights = load_file('model-{variant}.safetensors')\n")
        header = b'{"w":{"dtype":"F32","shape":[1],"data_offsets":[0,4]}}'
        (repo / f"model-{variant}.safetensors").write_bytes(len(header).to_bytes(8, "little") + header + b"\0\0\0\0")
        (repo / ".github" / "workflows").mkdir(parents=True)
        (repo / ".github" / "workflows" / "ci.yml").write_text(WORKFLOW_PINNED)
    if kind in ("bad", "mixed"):
        (repo / "models").mkdir()
        (repo / "models" / f"classifier-{variant}.pkl").write_bytes(DANGEROUS_PICKLE)
        (repo / "load.py").write_text("import pickle\n\nwith open('models/classifier.pkl', 'rb') as f:\n"
                                      "    model = pickle.load(f)\n")
        (repo / "requirements-dev.txt").write_text("transformers\nscikit-learn>=1.0\n")
    if kind == "broken":
        (repo / "requirements.txt").write_text("torch\n")
        (repo / ".mlposture").mkdir()
        (repo / ".mlposture" / "answers.yaml").write_text("answers: [this is: not, {valid\n")
    commit_all(repo, "initial")
    return repo
