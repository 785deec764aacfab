"""Real parts for the fleet tests: a PostgreSQL server in a temporary folder, a Dask LocalCluster of two worker
processes, and generated git repositories. Each is started once per test session and shared.

The PostgreSQL server comes from Debian's ``postgresql`` package (``.ci/run`` installs it): ``initdb`` and
``pg_ctl`` run as the ``postgres`` user when the tests run as root, listen on 127.0.0.1 at a free port with the
unix socket inside the temporary folder, and are stopped at the end of the session.
"""

from __future__ import annotations

import glob
import os
import shutil
import socket
import subprocess
import tempfile
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.fleet.repos import git, make_repo


@dataclass(frozen=True)
class Fleet:
    """The generated repositories of the session and the SOURCE strings that name them."""

    root: Path
    good: tuple[Path, ...]
    bad: tuple[Path, ...]
    mixed: tuple[Path, ...]
    broken: Path
    bare: Path  # a bare clone of good[0], scanned by file:// URL at a tag
    missing_url: str

    @property
    def local(self) -> list[Path]:
        return [*self.good, *self.bad, *self.mixed]

    def sources(self) -> list[str]:
        return [*(str(p) for p in self.local), str(self.broken), f"{self.bare.as_uri()}@v1", self.missing_url]


@pytest.fixture(scope="session")
def fleet_repos(tmp_path_factory: pytest.TempPathFactory) -> Fleet:
    root = tmp_path_factory.mktemp("fleet-repos")
    good = tuple(make_repo(root, f"good-{i:02d}", "good", i) for i in range(8))
    bad = tuple(make_repo(root, f"bad-{i:02d}", "bad", i) for i in range(8))
    mixed = tuple(make_repo(root, f"mixed-{i:02d}", "mixed", i) for i in range(4))
    broken = make_repo(root, "broken", "broken")
    git(good[0], "tag", "v1")
    bare = root / "remote" / "served.git"
    bare.parent.mkdir()
    git(root, "clone", "-q", "--bare", str(good[0]), str(bare))
    return Fleet(root, good, bad, mixed, broken, bare, (root / "remote" / "does-not-exist.git").as_uri())


# ------------------------------------------------------------------------------------------ Dask
@pytest.fixture(scope="session")
def dask_scheduler() -> Iterator[str]:
    """A real LocalCluster of two worker processes; yields its scheduler address."""
    import logging

    distributed = pytest.importorskip("distributed")
    cluster = distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True, host="127.0.0.1",
                                       dashboard_address="127.0.0.1:0", silence_logs=logging.ERROR, memory_limit=0)
    try:
        yield cluster.scheduler_address
    finally:
        cluster.close()


# ------------------------------------------------------------------------------------------ PostgreSQL
def _pg_bin() -> Path | None:
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/pg_ctl"))
    return Path(found[-1]).parent if found else None


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass(frozen=True)
class PgServer:
    """A running PostgreSQL server; :meth:`new_database` gives each test its own empty database."""

    port: int

    def url(self, database: str) -> str:
        return f"postgresql+psycopg://postgres@127.0.0.1:{self.port}/{database}"

    def new_database(self) -> str:
        import psycopg

        name = f"fleet_{uuid.uuid4().hex[:10]}"
        with psycopg.connect(f"host=127.0.0.1 port={self.port} user=postgres dbname=postgres",
                             autocommit=True) as conn:
            conn.execute(f'CREATE DATABASE "{name}"')
        return self.url(name)


@pytest.fixture(scope="session")
def pg_server() -> Iterator[PgServer]:
    bindir = _pg_bin()
    if bindir is None:
        if os.environ.get("CI"):
            pytest.fail("PostgreSQL is not installed (apt-get install postgresql); .ci/run installs it")
        pytest.skip("PostgreSQL server binaries not installed (Debian package postgresql)")
    base = Path(tempfile.mkdtemp(prefix="mlposture-pg-"))
    data, sock = base / "data", base / "sock"
    data.mkdir()
    sock.mkdir()
    as_user: list[str] = []
    if os.geteuid() == 0:  # PostgreSQL refuses to run as root
        base.chmod(0o755)
        for path in (base, data, sock):
            shutil.chown(path, "postgres", "postgres")
        as_user = ["runuser", "-u", "postgres", "--"]
    port = _free_port()
    run = {"check": True, "capture_output": True, "text": True, "cwd": "/"}
    subprocess.run([*as_user, str(bindir / "initdb"), "-D", str(data), "-U", "postgres", "--auth=trust",
                    "-E", "UTF8", "--no-sync"], **run)  # type: ignore[call-overload]
    options = f"-p {port} -k {sock} -c listen_addresses=127.0.0.1 -c fsync=off -c max_connections=60"
    subprocess.run([*as_user, str(bindir / "pg_ctl"), "-D", str(data), "-o", options, "-l", str(base / "log"),
                    "-w", "-t", "60", "start"], **run)  # type: ignore[call-overload]
    try:
        server = PgServer(port)
        _wait_ready(server)
        yield server
    finally:
        subprocess.run([*as_user, str(bindir / "pg_ctl"), "-D", str(data), "-m", "immediate", "-w", "stop"],
                       capture_output=True, cwd="/")
        shutil.rmtree(base, ignore_errors=True)


def _wait_ready(server: PgServer) -> None:
    import psycopg

    deadline = time.monotonic() + 30
    while True:
        try:
            psycopg.connect(f"host=127.0.0.1 port={server.port} user=postgres dbname=postgres").close()
            return
        except psycopg.OperationalError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.2)


@pytest.fixture(params=["sqlite", "postgresql"])
def db_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """An empty database of each kind."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'fleet.db'}"
    server: PgServer = request.getfixturevalue("pg_server")
    return server.new_database()

