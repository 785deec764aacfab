"""A real git checkout of the demo repository (cloned over file://), keys made by openssl, one scan's report."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from mlposture.scanner.cli import cli

DEMO = Path(__file__).resolve().parents[2] / "fixtures" / "demo-repo"
GIT_ENV = {"GIT_AUTHOR_NAME": "t", "GIT_AUTHOR_EMAIL": "t@example.com", "GIT_COMMITTER_NAME": "t",
           "GIT_COMMITTER_EMAIL": "t@example.com", "GIT_CONFIG_NOSYSTEM": "1", "HOME": "/nonexistent",
           "PATH": "/usr/bin:/bin"}


def run(*args: str) -> Result:
    return CliRunner().invoke(cli, list(args), catch_exceptions=False)


def git(cwd: Path, *args: str) -> str:
    return subprocess.run(["git", *args], cwd=cwd, env=GIT_ENV, check=True, capture_output=True,
                          text=True).stdout.strip()


def openssl(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["openssl", *args], capture_output=True, text=True)


@pytest.fixture(scope="session")
def origin(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The demo repository committed once; clones of it are the checkouts under audit."""
    src = tmp_path_factory.mktemp("origin") / "demo"
    shutil.copytree(DEMO, src)
    git(src, "init", "-q", "-b", "main")
    git(src, "add", "-A")
    git(src, "commit", "-q", "-m", "demo")
    return src


def clone(origin: Path, dest: Path) -> Path:
    subprocess.run(["git", "clone", "-q", f"file://{origin}", str(dest)], env=GIT_ENV, check=True)
    return dest


@pytest.fixture
def checkout(origin: Path, tmp_path: Path) -> Path:
    return clone(origin, tmp_path / "checkout")


@pytest.fixture(scope="session")
def keys(tmp_path_factory: pytest.TempPathFactory) -> dict[str, tuple[Path, Path]]:
    """(private, public) PEM files written by openssl: SEC1 ECDSA, PKCS#8 ECDSA, Ed25519."""
    d = tmp_path_factory.mktemp("keys")
    made = {
        "ec-sec1": ["ecparam", "-name", "prime256v1", "-genkey", "-out"],
        "ec-pkcs8": ["genpkey", "-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:P-256", "-out"],
        "ed25519": ["genpkey", "-algorithm", "ed25519", "-out"],
    }
    out = {}
    for name, args in made.items():
        private, public = d / f"{name}.pem", d / f"{name}.pub"
        assert openssl(*args, str(private)).returncode == 0
        assert openssl("pkey", "-in", str(private), "-pubout", "-out", str(public)).returncode == 0
        out[name] = (private, public)
    return out


@pytest.fixture(scope="session")
def scanned(origin: Path, keys: dict[str, tuple[Path, Path]], tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One `mlposture scan --attest` of a checkout: the JSON report and the record beside it, in one run."""
    base = tmp_path_factory.mktemp("scanned")
    repo = clone(origin, base / "checkout")
    out = base / "out"
    res = run("scan", str(repo), "--no-vulns", "-q", "-f", "json", "--output-dir", str(out),
              "--attest", str(keys["ec-sec1"][0]))
    assert res.exit_code == 1, res.output  # the demo fails the gate; the record is written all the same
    assert (out / "mlposture-report.json").is_file()
    return out


@pytest.fixture(scope="session")
def report(scanned: Path) -> Path:
    return scanned / "mlposture-report.json"


def report_data(report: Path) -> dict:
    return json.loads(report.read_text())
