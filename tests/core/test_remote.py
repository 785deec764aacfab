"""Scanning git URLs: a file:// bare repository at a tag matches the scan of that tag's checkout."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import tempfile
from pathlib import Path

import pytest
from click.testing import CliRunner

from mlposture.scanner.cli import cli
from mlposture.scanner.remote import RemoteError, cloned, is_remote, mask

DEMO = Path(__file__).resolve().parents[2] / "fixtures" / "demo-repo"
ENV = {**os.environ, "GIT_AUTHOR_NAME": "t", "GIT_AUTHOR_EMAIL": "t@example.com", "GIT_COMMITTER_NAME": "t",
       "GIT_COMMITTER_EMAIL": "t@example.com"}


def git(cwd: Path, *args: str) -> str:
    return subprocess.run(["git", *args], cwd=cwd, env=ENV, check=True, capture_output=True, text=True).stdout


@pytest.fixture
def bare(tmp_path) -> tuple[Path, Path]:
    work = tmp_path / "work"
    shutil.copytree(DEMO, work)
    git(work, "init", "-q", "-b", "main")
    git(work, "add", ".")
    git(work, "commit", "-qm", "v1")
    git(work, "tag", "v1")
    # after the tag: a new unpinned requirement and a second pickle
    (work / "requirements.txt").write_text((work / "requirements.txt").read_text() + "transformers\n")
    shutil.copy(work / "models" / "classifier.pkl", work / "models" / "extra.pkl")
    git(work, "add", ".")
    git(work, "commit", "-qm", "v2")
    bare = tmp_path / "demo.git"
    git(tmp_path, "clone", "-q", "--bare", str(work), str(bare))
    checkout = tmp_path / "checkout-v1"
    git(tmp_path, "clone", "-q", "--branch", "v1", str(bare), str(checkout))
    return bare, checkout


def scan_json(target: str, *extra: str) -> dict:
    res = CliRunner().invoke(cli, ["scan", target, "-f", "json", "-o", "-", *extra], catch_exceptions=False)
    assert res.exit_code in (0, 1), res.output
    return json.loads(res.output)


def comparable(report: dict) -> tuple:
    controls = tuple((c["id"], c["status"], tuple((e["path"], e["line"], e["effect"]) for e in c["evidence"]))
                     for c in report["controls"])
    findings = tuple(sorted(f["fingerprint"] for f in report["findings"]))
    return report["score"], controls, findings


def test_url_at_tag_matches_checkout_of_tag(bare, tmp_path, monkeypatch):
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path / "tmp"))
    (tmp_path / "tmp").mkdir()
    bare_path, checkout = bare
    url = f"file://{bare_path}"
    remote = scan_json(url, "--ref", "v1")
    local = scan_json(str(checkout))
    assert comparable(remote) == comparable(local)
    assert remote["target"]["url"] == url
    assert remote["target"]["git"]["commit"] == local["target"]["git"]["commit"]
    head = scan_json(url)
    assert comparable(head) != comparable(local)  # main has the later commit
    assert list((tmp_path / "tmp").iterdir()) == []  # every clone was cleaned up


def test_unknown_ref_and_refused_transports(bare):
    bare_path, _ = bare
    res = CliRunner().invoke(cli, ["scan", f"file://{bare_path}", "--ref", "v9"])
    assert res.exit_code == 2
    assert "not found" in res.output or "failed" in res.output
    res = CliRunner().invoke(cli, ["scan", "ext::sh -c touch% /tmp/pwned"])
    assert res.exit_code == 2 and "transport 'ext::' is refused" in res.output
    with pytest.raises(RemoteError), cloned("--upload-pack=touch /tmp/x"):
        pass


def test_ref_starting_with_dash_is_refused_before_any_clone(bare, tmp_path):
    bare_path, _ = bare
    canary = tmp_path / "ref-canary"
    res = CliRunner().invoke(cli, ["scan", f"file://{bare_path}", "--ref", f"--orphan={canary}"])
    assert res.exit_code == 2 and "cannot start with '-'" in res.output
    assert not canary.exists()


def test_credentials_are_masked(tmp_path):
    assert mask("https://user:s3cret@example.com/org/repo.git") == "https://***@example.com/org/repo.git"
    res = CliRunner().invoke(cli, ["scan", "https://user:s3cret@127.0.0.1:9/org/repo.git"])
    assert res.exit_code == 2
    assert "s3cret" not in res.output and "***@127.0.0.1" in res.output


def test_is_remote():
    assert is_remote("https://github.com/org/repo") and is_remote("git@github.com:org/repo.git")
    assert is_remote("file:///srv/repo.git") and is_remote("ext::sh")
    assert not is_remote("./repo") and not is_remote("/abs/path") and not is_remote("C:repo")
