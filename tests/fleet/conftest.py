"""Real parts for the fleet tests: a PostgreSQL server in a temporary folder, a Dask LocalCluster of two worker
processes, and generated git repositories. Each is started once per test session and shared.

The PostgreSQL server is :func:`tests.fleet.postgres.running_server` (Debian's ``postgresql`` package, which
``.ci/run`` installs); a missing server fails the session under CI and skips those tests elsewhere.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.fleet.postgres import PgServer, pg_bin, running_server
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
@pytest.fixture(scope="session")
def pg_server() -> Iterator[PgServer]:
    bindir = pg_bin()
    if bindir is None:
        if os.environ.get("CI"):
            pytest.fail("PostgreSQL is not installed (apt-get install postgresql); .ci/run installs it")
        pytest.skip("PostgreSQL server binaries not installed (Debian package postgresql)")
    with running_server(bindir) as server:
        yield server


@pytest.fixture(params=["sqlite", "postgresql"])
def db_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """An empty database of each kind."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'fleet.db'}"
    server: PgServer = request.getfixturevalue("pg_server")
    return server.new_database()

