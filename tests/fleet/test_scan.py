"""``mlposture fleet scan`` end to end: a real Dask LocalCluster of two worker processes scanning 23 generated git
repositories (good, bad, mixed, one served by file:// URL at a tag, one URL that does not exist, one whose scan
fails) into SQLite and into a real PostgreSQL server; every stored result equals a single ``mlposture scan``."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from mlposture.scanner.cli import cli

FLEET = [sys.executable, "-m", "mlposture.scanner", "fleet"]


def fleet(*args: str) -> subprocess.CompletedProcess[str]:
    """``mlposture fleet ARGS`` through the real CLI, in this process (no interpreter and Dask start-up per run)."""
    result = CliRunner().invoke(cli, ["fleet", *args])
    if result.exception is not None and not isinstance(result.exception, SystemExit):
        raise result.exception
    return subprocess.CompletedProcess(args, result.exit_code, result.stdout, result.stderr)


def single_scan(target: str, out: Path, *extra: str) -> dict[str, Any]:
    result = CliRunner().invoke(cli, ["scan", target, *extra, "-f", "json", "-o", str(out), "-q", "--no-vulns"])
    assert result.exit_code in (0, 1), result.output
    return json.loads(out.read_text())  # type: ignore[no-any-return]


@pytest.fixture(scope="session")
def expected(fleet_repos: Any, tmp_path_factory: pytest.TempPathFactory) -> dict[str, dict[str, Any]]:
    """The report of one ``mlposture scan`` of every repository that can be scanned, by repository name."""
    out = tmp_path_factory.mktemp("single")
    reports = {repo.name: single_scan(str(repo), out / f"{repo.name}.json") for repo in fleet_repos.local}
    reports["served"] = single_scan(fleet_repos.bare.as_uri(), out / "served.json", "--ref", "v1")
    return reports


def stored(db_url: str) -> dict[str, dict[str, Any]]:
    """What the database holds per repository: status row, control statuses and finding fingerprints."""
    from sqlalchemy import select

    from mlposture.fleet.store import open_store
    from mlposture.fleet.store.models import ControlRow, FindingRow

    held: dict[str, dict[str, Any]] = {}
    with open_store(db_url) as store:
        for row in store.latest_per_repo():
            entry: dict[str, Any] = {"status": row.as_dict(), "controls": {}, "prints": []}
            if row.scan_id is not None:
                with store.session() as session:
                    entry["controls"] = {c.control_id: c.status for c in session.scalars(
                        select(ControlRow).where(ControlRow.scan_id == row.scan_id))}
                    entry["prints"] = sorted(session.scalars(
                        select(FindingRow.fingerprint).where(FindingRow.scan_id == row.scan_id)))
                entry["report"] = store.report_of(row.scan_id)
            held[row.repo] = entry
    return held


def assert_same_as_single_scan(entry: dict[str, Any], report: dict[str, Any]) -> None:
    status = entry["status"]
    assert (status["score"], status["risk"], status["coverage"], status["gate_passed"], status["commit"]) == (
        report["score"], report["risk"], report["coverage"], report["gate"]["passed"],
        report["target"]["git"]["commit"])
    assert entry["controls"] == {c["id"]: c["status"] for c in report["controls"]}
    assert entry["prints"] == sorted(f["fingerprint"] for f in report["findings"])
    assert entry["report"]["findings"] == report["findings"]


def test_a_fleet_scan_stores_what_single_scans_report(db_url: str, fleet_repos: Any, dask_scheduler: str,
                                                      expected: dict[str, dict[str, Any]], tmp_path: Path) -> None:
    repos_file = tmp_path / "repos.txt"
    sources = fleet_repos.sources()
    repos_file.write_text("# the organisation's ML repositories\n\n" + "\n".join(sources[:10]) + "\n")
    result = fleet("scan", *sources[10:], "--repos-file", str(repos_file), "--db", db_url,
                   "--scheduler", dask_scheduler, "--no-vulns", "--retries", "1", "--repo-timeout", "240")
    assert result.returncode == 1, result.stderr
    assert len(sources) == 23
    errors = [line for line in result.stderr.splitlines() if line.startswith("mlposture: error: could not scan")]
    assert len(errors) == 2
    assert any(f"could not scan {fleet_repos.broken}: unusable input: " in e and "answers.yaml" in e for e in errors)
    assert any(f"could not scan {fleet_repos.missing_url}: unusable input: clone of" in e for e in errors)
    assert "fleet: [23/23] done 21, failed 2, total 23:" in result.stderr
    assert "fleet: 21 stored, 0 unchanged, 2 failed of 23" in result.stderr

    held = stored(db_url)
    assert sorted(held) == sorted([*expected, "broken", "does-not-exist"])
    for name, report in expected.items():
        assert_same_as_single_scan(held[name], report)
    assert held["served"]["status"]["source"] == fleet_repos.bare.as_uri()
    assert held["bad-03"]["status"]["dangerous_artifacts"] == 1
    assert held["good-03"]["status"]["dangerous_artifacts"] == 0
    assert held["bad-03"]["controls"]["MODEL-03"] == "fail"
    broken, missing = held["broken"]["status"], held["does-not-exist"]["status"]
    assert broken["score"] is None and "answers.yaml" in broken["error"] and "(after 2 attempts)" in broken["error"]
    assert missing["score"] is None and "clone of" in missing["error"] and missing["scans"] == 1


def test_a_rerun_stores_nothing_new_unless_forced(db_url: str, fleet_repos: Any, dask_scheduler: str) -> None:
    sources = [str(fleet_repos.good[7]), str(fleet_repos.bad[7])]
    first = fleet("scan", *sources, "--db", db_url, "--scheduler", dask_scheduler, "--no-vulns")
    assert first.returncode == 0, first.stderr
    again = fleet("scan", *sources, "--db", db_url, "--scheduler", dask_scheduler, "--no-vulns")
    assert again.returncode == 0 and "fleet: 0 stored, 2 unchanged, 0 failed of 2" in again.stderr
    assert {e["status"]["scans"] for e in stored(db_url).values()} == {1}
    # --force, on a LocalCluster of two worker processes started by the command itself
    forced = fleet("scan", *sources[:1], "--db", db_url, "--no-vulns", "--force",
                   *(["--workers", "2"] if db_url.startswith("sqlite") else ["--scheduler", dask_scheduler]))
    assert forced.returncode == 0 and "fleet: 1 stored, 0 unchanged, 0 failed of 1" in forced.stderr
    assert stored(db_url)["good-07"]["status"]["scans"] == 2


def test_two_fleet_runs_write_one_postgresql_database_at_once(pg_server: Any, fleet_repos: Any,
                                                             dask_scheduler: str) -> None:
    url = pg_server.new_database()
    shared = str(fleet_repos.mixed[0])
    runs = [[shared, str(fleet_repos.good[4]), str(fleet_repos.bad[4])], [str(fleet_repos.bad[5]), shared]]
    env = {**os.environ, "MLPOSTURE_NO_VULNS": "1"}
    procs = [subprocess.Popen([*FLEET, "scan", *srcs, "--db", url, "--scheduler", dask_scheduler, "--no-vulns"],
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env) for srcs in runs]
    outputs = [p.communicate(timeout=300) for p in procs]
    assert [p.returncode for p in procs] == [0, 0], outputs
    held = stored(url)
    assert sorted(held) == ["bad-04", "bad-05", "good-04", "mixed-00"]
    assert all(e["status"]["scans"] == 1 for e in held.values())  # the shared commit was stored once
    lines = "\n".join(err for _, err in outputs)
    assert lines.count(" mixed-00: stored") == 1 and lines.count(" mixed-00: unchanged") == 1


def test_a_repository_over_its_time_limit_is_stopped_and_recorded(tmp_path: Path, fleet_repos: Any,
                                                                   dask_scheduler: str) -> None:
    url = f"sqlite:///{tmp_path / 'fleet.db'}"
    start = time.monotonic()
    result = fleet("scan", str(fleet_repos.good[6]), "--db", url, "--scheduler", dask_scheduler,
                   "--repo-timeout", "0.2", "--retries", "0", "--no-vulns")
    assert result.returncode == 1
    assert f"could not scan {fleet_repos.good[6]}: timed out after 0.2 s" in result.stderr
    assert time.monotonic() - start < 60
    assert stored(url)["good-06"]["status"]["error"] == "timed out after 0.2 s"


def test_ctrl_c_leaves_every_stored_scan_complete(tmp_path: Path, fleet_repos: Any, dask_scheduler: str) -> None:
    from sqlalchemy import func, select

    from mlposture.fleet.store import open_store
    from mlposture.fleet.store.models import ControlRow, FindingRow, Scan

    url = f"sqlite:///{tmp_path / 'fleet.db'}"
    proc = subprocess.Popen([*FLEET, "scan", *(str(p) for p in fleet_repos.local), "--db", url,
                             "--scheduler", dask_scheduler, "--no-vulns"],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    assert proc.stderr is not None
    for line in proc.stderr:
        if ": stored" in line:
            break
    proc.send_signal(signal.SIGINT)
    _, rest = proc.communicate(timeout=120)
    assert proc.returncode == 130, rest
    assert "every scan stored so far is complete" in rest
    with open_store(url) as store, store.session() as session:
        scans = list(session.scalars(select(Scan)))
        assert 1 <= len(scans) < len(fleet_repos.local)
        for scan in scans:
            assert scan.report is not None and scan.error is None
            controls = session.scalar(select(func.count()).where(ControlRow.scan_id == scan.id))
            findings = session.scalar(select(func.count()).where(FindingRow.scan_id == scan.id))
            assert (controls, findings) == (len(scan.report["controls"]), len(scan.report["findings"]))


def test_usage_errors_exit_2(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'fleet.db'}"
    both = fleet("scan", ".", "--workers", "2", "--scheduler", "tcp://127.0.0.1:1", "--db", url)
    assert both.returncode == 2 and "--workers and --scheduler exclude each other" in both.stderr
    nothing = fleet("scan", "--db", url)
    assert nothing.returncode == 2 and "nothing to scan" in nothing.stderr
    no_file = fleet("scan", "--repos-file", str(tmp_path / "missing.txt"), "--db", url)
    assert no_file.returncode == 2 and "missing.txt: cannot read" in no_file.stderr
    bad_db = fleet("status", "--db", "mysql://root@127.0.0.1/x")
    assert bad_db.returncode == 2 and "only sqlite:/// and postgresql+psycopg://" in bad_db.stderr


def test_without_the_extra_fleet_says_what_to_install_and_scan_never_needs_it(tmp_path: Path) -> None:
    blocked = ("sqlalchemy", "alembic", "distributed", "dask", "psycopg")
    script = (
        "import sys\n"
        "class Block:\n"
        "    def find_spec(self, name, path=None, target=None):\n"
        f"        if name.split('.')[0] in {blocked!r}:\n"
        "            raise ModuleNotFoundError(name)\n"
        "sys.meta_path.insert(0, Block())\n"
        "from mlposture.scanner.cli import main\n"
        "sys.argv = ['mlposture', *sys.argv[1:]]\n"
        "main()\n"
    )
    run = [sys.executable, "-c", script]
    missing = subprocess.run([*run, "fleet", "status", "--db", f"sqlite:///{tmp_path / 'x.db'}"],
                             capture_output=True, text=True)
    assert missing.returncode == 2
    assert "install mlposture[fleet]" in missing.stderr and "sqlalchemy" in missing.stderr
    listed = subprocess.run([*run, "--help"], capture_output=True, text=True)
    assert listed.returncode == 0 and "fleet" in listed.stdout
    demo = Path(__file__).resolve().parents[2] / "fixtures" / "demo-repo"
    scanned = subprocess.run([*run, "scan", str(demo), "-f", "json", "-o", str(tmp_path / "r.json"), "-q",
                              "--no-vulns"], capture_output=True, text=True)
    assert scanned.returncode == 1, scanned.stderr
    assert json.loads((tmp_path / "r.json").read_text())["schema_version"] == 1
