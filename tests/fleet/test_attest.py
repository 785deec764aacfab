"""`mlposture fleet scan --attest KEY`: every scan is signed where it runs and the record is stored with it."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from mlposture.scanner.cli import cli
from tests.fleet.repos import make_repo


def run(*args: str) -> Any:
    return CliRunner().invoke(cli, list(args))


def test_fleet_scan_with_a_key_stores_a_verifiable_record(dask_scheduler: str, tmp_path: Path) -> None:
    pytest.importorskip("sqlalchemy")
    from mlposture.fleet.store import open_store

    keys = tmp_path / "keys"
    assert run("attest", "--generate-key", str(keys)).exit_code == 0
    good = make_repo(tmp_path / "repos", "good-signed", "good", 1)
    plain = tmp_path / "repos" / "not-git"
    plain.mkdir()
    (plain / "train.py").write_text("x = 1\n")
    db = f"sqlite:///{tmp_path / 'fleet.db'}"
    res = run("fleet", "scan", str(good), str(plain), "--db", db, "--scheduler", dask_scheduler, "--no-vulns",
              "--retries", "0", "--attest", str(keys / "mlposture-attest.key"), "-q")
    assert res.exit_code == 1, res.output  # the folder outside git cannot be attested: named, the other stored
    assert f"could not scan {plain}: unusable input: {plain}: not inside a git repository" in res.output
    with open_store(db) as store:
        row = next(r for r in store.latest_per_repo() if r.repo == "good-signed")
        record = store.attestation_of(row.scan_id)
        assert store.report_of(row.scan_id)["target"]["git"]["commit"] == row.commit
    assert record is not None
    path = tmp_path / "stored.intoto.jsonl"
    path.write_text(record + "\n")
    res = run("verify-attestation", str(path), "--key", str(keys / "mlposture-attest.pub"), "--repo", str(good),
              "--fail-on", "none")
    assert res.exit_code == 0, res.output
    bad_key = tmp_path / "bad.pem"
    bad_key.write_text("nope\n")
    res = run("fleet", "scan", str(good), "--db", db, "--scheduler", dask_scheduler, "--attest", str(bad_key))
    assert res.exit_code == 2 and "--attest:" in res.output and "not a PEM file" in res.output
