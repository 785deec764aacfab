#!/usr/bin/env python3
"""Fleet benchmark: ``mlposture fleet scan`` of 200 generated git repositories on a local Dask cluster.

In one run: the same 200 repositories with ``--workers 1`` and ``--workers 2`` into fresh SQLite databases
(repositories per minute and the speed-up), then ``--workers 2`` into a PostgreSQL server started in a temporary
folder (Debian's ``postgresql`` package); for each database its size and the rows stored per scan. Times are the
whole command (cluster start-up included), ``--no-vulns`` so no network is involved.

Usage: ``python bench/fleet.py [--repos 200] [--dir /tmp/mlposture-fleet-bench] [--skip-postgres]``
(run with the interpreter of an environment where ``mlposture[fleet]`` is installed).
"""

from __future__ import annotations

import argparse
import glob
import os
import platform
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

GIT_ENV = {**os.environ, "GIT_AUTHOR_NAME": "b", "GIT_AUTHOR_EMAIL": "b@example.com", "GIT_COMMITTER_NAME": "b",
           "GIT_COMMITTER_EMAIL": "b@example.com", "GIT_CONFIG_NOSYSTEM": "1"}
DANGEROUS_PICKLE = b"cos\nsystem\n(S'echo owned'\ntR."
TRAIN = """import json
from pathlib import Path

import torch
from safetensors.torch import load_file, save_file


def train(config: dict) -> None:
    model = torch.nn.Linear(config["inputs"], 1)
    weights = load_file("model.safetensors")
    model.load_state_dict(weights)
    for epoch in range(config["epochs"]):
        print(epoch, json.dumps(config))
    save_file(model.state_dict(), Path("out") / "model.safetensors")
"""


def make_repo(path: Path, i: int) -> None:
    """One of three kinds, cycling: clean, with a dangerous pickle, or mixed; ~10 files each."""
    path.mkdir(parents=True)
    subprocess.run(["git", "init", "-q", "-b", "main"], cwd=path, env=GIT_ENV, check=True)
    (path / "README.md").write_text(f"# project {i}\n\nTrains model {i}.\n")
    (path / "requirements.txt").write_text("torch==2.3.1\nsafetensors==0.4.3\n" + ("transformers\n" if i % 2 else ""))
    (path / "src").mkdir()
    for j in range(4):
        (path / "src" / f"train_{j}.py").write_text(TRAIN)
    (path / "config.yaml").write_text(f"inputs: {i % 7 + 1}\nepochs: 3\n")
    if i % 3:
        (path / "models").mkdir()
        (path / "models" / "model.pkl").write_bytes(DANGEROUS_PICKLE)
        (path / "src" / "load.py").write_text("import pickle\nmodel = pickle.load(open('models/model.pkl', 'rb'))\n")
    subprocess.run(["git", "add", "-A"], cwd=path, env=GIT_ENV, check=True)
    subprocess.run(["git", "commit", "-qm", "initial"], cwd=path, env=GIT_ENV, check=True)


def generate(root: Path, count: int) -> Path:
    listing = root / "repos.txt"
    if listing.is_file() and len(listing.read_text().split()) == count:
        return listing
    shutil.rmtree(root, ignore_errors=True)
    root.mkdir(parents=True)
    for i in range(count):
        make_repo(root / f"repo-{i:03d}", i)
    listing.write_text("\n".join(str(root / f"repo-{i:03d}") for i in range(count)) + "\n")
    return listing


def fleet_scan(listing: Path, db: str, workers: int) -> float:
    start = time.perf_counter()
    result = subprocess.run([sys.executable, "-m", "mlposture.scanner", "fleet", "scan", "--repos-file",
                             str(listing), "--db", db, "--workers", str(workers), "--no-vulns", "-q"],
                            capture_output=True, text=True)
    elapsed = time.perf_counter() - start
    if result.returncode != 0:
        sys.exit(f"fleet scan failed ({result.returncode}): {result.stderr[-2000:]}")
    return elapsed


def rows_per_scan(db: str) -> tuple[int, float, float, float]:
    from sqlalchemy import Text, cast, func, select

    from mlposture.fleet.store import open_store
    from mlposture.fleet.store.models import ControlRow, FindingRow, Scan

    with open_store(db) as store, store.session() as session:
        scans = session.scalar(select(func.count()).select_from(Scan)) or 0
        controls = session.scalar(select(func.count()).select_from(ControlRow)) or 0
        findings = session.scalar(select(func.count()).select_from(FindingRow)) or 0
        report_bytes = session.scalar(select(func.sum(func.length(cast(Scan.report, Text))))) or 0
    return scans, controls / scans, findings / scans, report_bytes / scans


# ------------------------------------------------------------------------------------------ PostgreSQL
def start_postgres() -> tuple[str, Path, list[str], Path]:
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/pg_ctl"))
    if not found:
        sys.exit("PostgreSQL is not installed (apt-get install postgresql), or pass --skip-postgres")
    bindir = Path(found[-1]).parent
    base = Path(tempfile.mkdtemp(prefix="mlposture-pg-bench-"))
    (base / "data").mkdir()
    as_user: list[str] = []
    if os.geteuid() == 0:
        base.chmod(0o755)
        for p in (base, base / "data"):
            shutil.chown(p, "postgres", "postgres")
        as_user = ["runuser", "-u", "postgres", "--"]
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    subprocess.run([*as_user, str(bindir / "initdb"), "-D", str(base / "data"), "-U", "postgres", "--auth=trust",
                    "--no-sync"], check=True, capture_output=True, cwd="/")
    subprocess.run([*as_user, str(bindir / "pg_ctl"), "-D", str(base / "data"), "-l", str(base / "log"), "-w",
                    "-o", f"-p {port} -k {base} -c listen_addresses=127.0.0.1", "start"],
                   check=True, capture_output=True, cwd="/")
    return f"postgresql+psycopg://postgres@127.0.0.1:{port}/postgres", bindir, as_user, base


def stop_postgres(bindir: Path, as_user: list[str], base: Path) -> None:
    subprocess.run([*as_user, str(bindir / "pg_ctl"), "-D", str(base / "data"), "-m", "fast", "-w", "stop"],
                   capture_output=True, cwd="/")
    shutil.rmtree(base, ignore_errors=True)


def pg_size(db: str) -> int:
    from sqlalchemy import create_engine, text

    engine = create_engine(db)
    with engine.connect() as conn:
        size = conn.execute(text("SELECT pg_database_size(current_database())")).scalar_one()
    engine.dispose()
    return int(size)


def sqlite_size(path: Path) -> int:
    return sum(p.stat().st_size for p in path.parent.glob(path.name + "*"))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repos", type=int, default=200)
    parser.add_argument("--dir", default="/tmp/mlposture-fleet-bench")
    parser.add_argument("--skip-postgres", action="store_true")
    args = parser.parse_args()
    root = Path(args.dir)
    started = time.perf_counter()
    listing = generate(root / "repos", args.repos)
    print(f"{args.repos} repositories generated in {root / 'repos'} ({time.perf_counter() - started:.1f} s)")
    print(f"machine: {platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}, "
          f"load average before: {os.getloadavg()[0]:.1f}")
    results = {}
    for workers in (1, 2):
        path = root / f"fleet-w{workers}.db"
        for old in root.glob(path.name + "*"):
            old.unlink()
        elapsed = fleet_scan(listing, f"sqlite:///{path}", workers)
        results[workers] = elapsed
        scans, controls, findings, report = rows_per_scan(f"sqlite:///{path}")
        print(f"SQLite --workers {workers}: {elapsed:.1f} s, {args.repos / elapsed * 60:.1f} repos/min; "
              f"{scans} scans, DB {sqlite_size(path) / 1e6:.2f} MB ({sqlite_size(path) / scans / 1e3:.1f} KB/scan), "
              f"rows per scan: 1 scan + {controls:.1f} control results + {findings:.1f} findings, "
              f"JSON report {report / 1e3:.1f} KB; load average now {os.getloadavg()[0]:.1f}")
    print(f"speed-up with 2 workers: {results[1] / results[2]:.2f}x")
    if not args.skip_postgres:
        db, bindir, as_user, base = start_postgres()
        try:
            empty = pg_size(db)
            elapsed = fleet_scan(listing, db, 2)
            scans, controls, findings, report = rows_per_scan(db)
            grown = pg_size(db) - empty
            print(f"PostgreSQL --workers 2: {elapsed:.1f} s, {args.repos / elapsed * 60:.1f} repos/min; {scans} scans, "
                  f"DB grew {grown / 1e6:.2f} MB ({grown / scans / 1e3:.1f} KB/scan), rows per scan: 1 scan + "
                  f"{controls:.1f} control results + {findings:.1f} findings; load average now "
                  f"{os.getloadavg()[0]:.1f}")
        finally:
            stop_postgres(bindir, as_user, base)


if __name__ == "__main__":
    main()
