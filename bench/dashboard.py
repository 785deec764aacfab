"""Dashboard benchmark: server time of the overview and ``/api/repos`` over 1,000 repositories x 20 scans.

    python bench/dashboard.py [--repos 1000] [--scans 20] [--backend sqlite|postgresql|both] [--pg-url URL]

The database is created by the fleet store (its Alembic migrations), then filled with generated rows: every scan
carries a whole JSON report (the demo repository's real report with a generated score, categories and commit), its
control results (one row per catalog control) and its findings, as a fleet scan would store them. Then
``mlposture serve`` is started on a free loopback port and each page is requested once to warm up and five times
measured; the figures are medians of the ``Server-Timing`` header the dashboard sets (wall time until the response
starts, the whole body being rendered by then, and the server process's CPU time meanwhile, which a busy shared
machine does not inflate), with the client's wall time beside them.

PostgreSQL: ``--pg-url`` of an empty database, or (by default) a throw-away server started like the fleet tests
start theirs (Debian's postgresql package, a temporary folder, 127.0.0.1 only).
"""

from __future__ import annotations

import argparse
import contextlib
import datetime as dt
import json
import os
import random
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

RISKS = ((90.0, "Secure"), (70.0, "Low Risk"), (50.0, "Medium Risk"), (30.0, "High Risk"))
STATUSES = ("pass", "partial", "fail", "unverified", "not_applicable")
PAGES = ("/", "/api/repos", "/?gate=failed&sort=repo", "/controls/MODEL-03")


def pages(repos: int) -> tuple[str, ...]:
    """The pages timed: the fleet views, and one repository's page (the eighth, or the last of a smaller fleet)."""
    return (*PAGES, f"/repos/repo-{min(7, repos - 1):04d}")
BATCH = 250


def risk(score: float) -> str:
    return next((label for floor, label in RISKS if score >= floor), "Critical Risk")


def base_report(workdir: Path) -> dict[str, Any]:
    """A real report: the demo repository scanned by this checkout."""
    out = workdir / "demo.json"
    subprocess.run([sys.executable, "-m", "mlposture.scanner", "scan", str(ROOT / "fixtures" / "demo-repo"),
                    "-f", "json", "-o", str(out), "--no-vulns"], check=False, capture_output=True)
    return dict(json.loads(out.read_text()))


def fill(url: str, repos: int, scans: int, base: dict[str, Any]) -> float:
    """Create the schema and insert the generated rows; returns the seconds it took."""
    from sqlalchemy import insert

    from mlposture.fleet.store import open_store
    from mlposture.fleet.store.facts import catalog_digest
    from mlposture.fleet.store.models import ControlRow, FindingRow, Repository, Scan

    started = time.perf_counter()
    rng = random.Random(15)
    store = open_store(url)
    now = dt.datetime(2026, 11, 1, tzinfo=dt.timezone.utc)
    controls = [c["id"] for c in base["controls"]]
    digest = catalog_digest(base["controls"])  # what a fleet scan with the installed catalog stores
    findings = base["findings"]
    with store.engine.begin() as conn:
        conn.execute(insert(Repository), [
            {"id": i + 1, "name": f"repo-{i:04d}", "source": f"https://git.example.com/org/repo-{i:04d}",
             "created_at": now} for i in range(repos)])
    scan_id = 0
    pending: list[dict[str, Any]] = []

    def flush() -> None:
        if not pending:
            return
        with store.engine.begin() as conn:
            conn.execute(insert(Scan), [p["scan"] for p in pending])
            conn.execute(insert(ControlRow), [c for p in pending for c in p["controls"]])
            conn.execute(insert(FindingRow), [f for p in pending for f in p["findings"]])
        pending.clear()

    for i in range(repos):
        level = rng.uniform(5, 95)
        for j in range(scans):
            scan_id += 1
            score = round(max(0.0, min(100.0, level + rng.gauss(0, 6))), 1)
            cats = [dict(c, score=round(max(0.0, min(100.0, score + rng.gauss(0, 15))), 1)) for c in base["categories"]]
            for c in cats:
                c["risk"] = risk(c["score"])
            commit = f"{rng.getrandbits(160):040x}"
            gate = score >= 60 and rng.random() < 0.7
            dangerous = 0 if rng.random() < 0.8 else rng.randint(1, 4)
            finished = now - dt.timedelta(days=7 * (scans - j), minutes=i)
            report = dict(base, score=score, risk=risk(score), categories=cats,
                          target=dict(base["target"], git={"commit": commit, "ref": "main", "dirty": False}),
                          generated_at=finished.isoformat(), gate=dict(base["gate"], passed=gate))
            pending.append({
                "scan": {"id": scan_id, "repository_id": i + 1, "origin": "fleet",
                         "source": f"https://git.example.com/org/repo-{i:04d}", "ref": "main", "commit": commit,
                         "dirty": False, "started_at": finished - dt.timedelta(seconds=40), "finished_at": finished,
                         "tool_version": "0.1.0", "catalog_digest": digest, "score": score, "risk": risk(score),
                         "coverage": base["coverage"], "lockml_score": base["lockml"]["score"],
                         "lockml_risk": base["lockml"]["risk"], "gate_passed": gate, "dangerous_artifacts": dangerous,
                         "error": None, "report": report, "attestation": None},
                "controls": [{"scan_id": scan_id, "control_id": cid,
                              "status": STATUSES[min(4, int(rng.random() ** (score / 25 + 0.5) * 5))],
                              "source": "evidence"} for cid in controls],
                "findings": [{"scan_id": scan_id, "rule": f["rule"], "severity": f["severity"],
                              "path": f["path"] or "", "line": f["line"], "fingerprint": f["fingerprint"]}
                             for f in findings],
            })
            if len(pending) >= BATCH:
                flush()
    flush()
    if store.engine.dialect.name == "postgresql":
        with store.engine.connect() as conn:
            conn.exec_driver_sql("COMMIT")
            conn.exec_driver_sql("ANALYZE")
    store.close()
    return time.perf_counter() - started


def measure(url: str, repos: int) -> dict[str, tuple[float, float, float]]:
    """path -> (median server wall ms, median server CPU ms, median client ms)."""
    from tests.dashboard.conftest import start_server

    results = {}
    for server in start_server(url):
        for path in pages(repos):
            server.get(path)
            server_ms, cpu_ms, client_ms = [], [], []
            for _ in range(5):
                t0 = time.perf_counter()
                with urllib.request.urlopen(server.base + path, timeout=120) as response:
                    response.read()
                    timing = response.headers["server-timing"]
                client_ms.append((time.perf_counter() - t0) * 1000)
                wall, cpu = (float(part.split("dur=")[1]) for part in timing.split(","))
                server_ms.append(wall)
                cpu_ms.append(cpu)
            results[path] = (statistics.median(server_ms), statistics.median(cpu_ms), statistics.median(client_ms))
    return results


@contextlib.contextmanager
def local_postgres() -> Iterator[str]:
    """An empty database on a throw-away PostgreSQL server, the one the fleet tests start."""
    from tests.fleet.postgres import pg_bin, running_server

    bindir = pg_bin()
    if bindir is None:
        raise SystemExit("PostgreSQL is not installed (apt-get install postgresql), or pass --pg-url")
    with running_server(bindir, prefix="mlposture-bench-pg-") as server:
        yield server.new_database()


def db_size(url: str) -> str:
    from sqlalchemy import create_engine, text

    if url.startswith("sqlite"):
        return f"{Path(url.removeprefix('sqlite:///')).stat().st_size / 1e6:.0f} MB"
    engine = create_engine(url)
    with engine.connect() as conn:
        size = conn.execute(text("SELECT pg_database_size(current_database())")).scalar_one()
    engine.dispose()
    return f"{size / 1e6:.0f} MB"


def run(backend: str, url: str, repos: int, scans: int, base: dict[str, Any]) -> None:
    seconds = fill(url, repos, scans, base)
    print(f"\n{backend}: {repos} repositories x {scans} scans, filled in {seconds:.0f} s, database {db_size(url)}")
    print(f"load average before: {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores")
    print("| page | server ms (median of 5) | server CPU ms | client ms |")
    print("|---|---|---|---|")
    for path, (server_ms, cpu_ms, client_ms) in measure(url, repos).items():
        print(f"| `{path}` | {server_ms:.0f} | {cpu_ms:.0f} | {client_ms:.0f} |")
    sys.stdout.flush()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--repos", type=int, default=1000)
    parser.add_argument("--scans", type=int, default=20)
    parser.add_argument("--backend", choices=("sqlite", "postgresql", "both"), default="both")
    parser.add_argument("--pg-url", default=None, help="an empty PostgreSQL database (default: start a server)")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="mlposture-bench-dashboard-") as tmp:
        base = base_report(Path(tmp))
        if args.backend in ("sqlite", "both"):
            run("SQLite", f"sqlite:///{tmp}/fleet.db", args.repos, args.scans, base)
        if args.backend in ("postgresql", "both"):
            if args.pg_url:
                run("PostgreSQL", args.pg_url, args.repos, args.scans, base)
            else:
                with local_postgres() as url:
                    run("PostgreSQL", url, args.repos, args.scans, base)


if __name__ == "__main__":
    main()
