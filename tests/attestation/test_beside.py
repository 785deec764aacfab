"""`scan -o report.json --attest KEY` leaves report.intoto.jsonl beside it; collectors find it by the report."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from mlposture.scanner.attestation.beside import record_for_report, record_path_beside
from mlposture.scanner.attestation.verify import RecordFileError

from .conftest import run


def test_scan_with_o_writes_the_record_beside_the_report(checkout: Path, keys, tmp_path: Path) -> None:
    private, public = keys["ed25519"]
    out = tmp_path / "reports" / "churn.json"
    res = run("scan", str(checkout), "--no-vulns", "-q", "-f", "json", "-o", str(out), "--attest", str(private),
              "--disable-probe", "dependencies", "--disable-probe", "infrastructure")
    assert res.exit_code == 1, res.output
    record = tmp_path / "reports" / "churn.intoto.jsonl"
    assert record_path_beside(out) == record
    report = json.loads(out.read_text())
    line = record_for_report(out, report)
    assert line == record.read_text().strip()
    assert run("verify-attestation", str(record), "--key", str(public), "--repo", str(checkout),
               "--fail-on", "none").exit_code == 0
    other = dict(report, score=99.9)
    with pytest.raises(RecordFileError, match=re.escape("churn.intoto.jsonl: the record beside churn.json is "
                                                        "about another report")):
        record_for_report(out, other)
    assert record_for_report(tmp_path / "reports" / "none.json", report) is None
