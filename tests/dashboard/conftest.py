"""Real parts for the dashboard tests: generated git repositories scanned by a real ``mlposture fleet scan`` into
a SQLite database (two of them changed and scanned again), and ``mlposture serve`` started on a free loopback port.

Each is built once per test session. The repositories come from the fleet tests' generator, plus one whose folder
name and one file path hold HTML, so escaping is tested with what a hostile repository can really produce.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from mlposture.scanner.catalog import load_catalog
from tests.fleet.conftest import pg_server  # noqa: F401 - the fleet tests' PostgreSQL server, shared here
from tests.fleet.postgres import free_port
from tests.fleet.repos import DANGEROUS_PICKLE, commit_all, make_repo

pytest.importorskip("starlette", reason="the dashboard needs the fleet extra (pip install 'mlposture[fleet]')")
pytest.importorskip("distributed", reason="a fleet scan needs the fleet extra (pip install 'mlposture[fleet]')")

HOSTILE_REPO = "<img src=x onerror=window.__xss=1>"
HOSTILE_DIR = "<script>window.__xss=2<"  # with the file below: models/<script>window.__xss=2</script>.pkl
HOSTILE_FILE = "script>.pkl"
HOSTILE_PATH = f"models/{HOSTILE_DIR}/{HOSTILE_FILE}"
TOKEN = "test-token-0123456789abcdef"


@dataclass(frozen=True)
class FleetDb:
    """The scanned fleet: database URL, repository folders by role, and ``fleet status --format json``."""

    url: str
    good: Path  # scanned twice: a dangerous pickle was added in between (gets worse)
    bad: Path  # scanned twice: its pickle replaced by safetensors in between (gets better, its gate passes)
    mixed: Path  # scanned once
    hostile: Path  # scanned once; HTML in its name and in a finding's path
    status: tuple[dict[str, object], ...]

    def row(self, folder: Path) -> dict[str, object]:
        """The status object of the repository scanned from ``folder``."""
        return next(r for r in self.status if r["source"] == str(folder.resolve()))


def mlposture(*args: str, timeout: float = 300) -> subprocess.CompletedProcess[str]:
    """Run the installed CLI."""
    return subprocess.run([sys.executable, "-m", "mlposture.scanner", *args], capture_output=True, text=True,
                          timeout=timeout, check=False, cwd="/")


def answer(repo: Path, share: float) -> None:
    """Answer the first ``share`` of the catalog's controls as implemented, and let unverified controls only warn,
    so the fleet holds repositories of different risks and both gate verdicts."""
    controls = list(load_catalog())
    lines = ["version: 1", "answers:"]
    for control in controls[: int(len(controls) * share)]:
        lines += [f"  {control.id}:", "    status: implemented", "    by: security@example.com",
                  "    date: 2026-11-02", "    evidence: https://wiki.example.com/ml-security"]
    (repo / ".mlposture").mkdir(exist_ok=True)
    (repo / ".mlposture" / "answers.yaml").write_text("\n".join(lines) + "\n")
    (repo / ".mlposture.yaml").write_text("allow_unverified: true\n")
    commit_all(repo, "answers")


@pytest.fixture(scope="session")
def fleet_db(tmp_path_factory: pytest.TempPathFactory) -> FleetDb:
    root = tmp_path_factory.mktemp("dashboard-fleet")
    good = make_repo(root, "good-service", "good", 1)
    bad = make_repo(root, "bad-loader", "bad", 2)
    mixed = make_repo(root, "mixed-lab", "mixed", 3)
    answer(good, 1.0)
    answer(mixed, 0.5)
    hostile = make_repo(root, HOSTILE_REPO, "bad", 4)
    (hostile / "models" / HOSTILE_DIR).mkdir()
    (hostile / HOSTILE_PATH).write_bytes(DANGEROUS_PICKLE)
    commit_all(hostile, "a model under a hostile name")
    url = f"sqlite:///{root / 'fleet.db'}"
    sources = [str(p) for p in (good, bad, mixed, hostile)]
    first = mlposture("fleet", "scan", *sources, "--db", url, "--workers", "1", "--no-vulns", "-q")
    assert first.returncode == 0, first.stderr
    # good gets worse: a pickle that runs code on load; bad gets better: its pickle becomes safetensors
    (good / "models").mkdir()
    (good / "models" / "extra.pkl").write_bytes(DANGEROUS_PICKLE)
    (good / "load.py").write_text("import pickle\n\nwith open('models/extra.pkl', 'rb') as f:\n"
                                  "    model = pickle.load(f)\n")
    commit_all(good, "add a pickled model")
    for pkl in (bad / "models").glob("*.pkl"):
        pkl.unlink()
    header = b'{"w":{"dtype":"F32","shape":[1],"data_offsets":[0,4]}}'
    (bad / "models" / "classifier.safetensors").write_bytes(len(header).to_bytes(8, "little") + header + b"\0" * 4)
    (bad / "load.py").write_text("from safetensors.torch import load_file\n\n"
                                 "model = load_file('models/classifier.safetensors')\n")
    (bad / ".mlposture.yaml").write_text("allow_unverified: true\n")
    commit_all(bad, "safetensors instead of pickle")
    second = mlposture("fleet", "scan", str(good), str(bad), "--db", url, "--workers", "1", "--no-vulns", "-q")
    assert second.returncode == 0, second.stderr
    status = mlposture("fleet", "status", "--db", url, "--format", "json")
    assert status.returncode == 0, status.stderr
    return FleetDb(url, good, bad, mixed, hostile, tuple(json.loads(status.stdout)))


@dataclass(frozen=True)
class Server:
    """A running ``mlposture serve``."""

    base: str
    process: subprocess.Popen[str]

    def get(self, path: str, headers: dict[str, str] | None = None) -> tuple[int, dict[str, str], bytes]:
        """Status, headers (lower-case names) and body of a GET."""
        request = urllib.request.Request(self.base + path, headers=headers or {})
        try:
            with urllib.request.urlopen(request, timeout=30) as response:
                return response.status, {k.lower(): v for k, v in response.headers.items()}, response.read()
        except urllib.error.HTTPError as exc:
            return exc.code, {k.lower(): v for k, v in exc.headers.items()}, exc.read()

    def json(self, path: str, headers: dict[str, str] | None = None) -> object:
        status, _, body = self.get(path, headers)
        assert status == 200, (path, status, body[:300])
        return json.loads(body)


def start_server(db_url: str, *extra: str, env: dict[str, str] | None = None) -> Iterator[Server]:
    """Start ``mlposture serve`` on a free port, wait until it answers, stop it afterwards."""
    port = free_port()
    process = subprocess.Popen([sys.executable, "-m", "mlposture.scanner", "serve", "--db", db_url,
                                "--port", str(port), *extra], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                               text=True, cwd="/", env={**os.environ, **(env or {})})
    server = Server(f"http://127.0.0.1:{port}", process)
    deadline = time.monotonic() + 60
    try:
        while True:
            if process.poll() is not None:
                raise AssertionError(f"mlposture serve exited: {process.stderr.read() if process.stderr else ''}")
            try:
                with socket.create_connection(("127.0.0.1", port), timeout=1):
                    break
            except OSError:
                if time.monotonic() > deadline:
                    raise AssertionError("mlposture serve did not start within 60 s") from None
                time.sleep(0.1)
        yield server
    finally:
        process.terminate()
        try:
            process.communicate(timeout=15)
        except subprocess.TimeoutExpired:
            process.kill()
            process.communicate()


@pytest.fixture(scope="session")
def server(fleet_db: FleetDb) -> Iterator[Server]:
    yield from start_server(fleet_db.url)


@pytest.fixture(scope="session")
def token_server(fleet_db: FleetDb) -> Iterator[Server]:
    yield from start_server(fleet_db.url, env={"MLPOSTURE_TOKEN": TOKEN})
