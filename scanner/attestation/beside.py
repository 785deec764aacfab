"""The record written beside a JSON report (``scan -o report.json --attest KEY`` writes ``report.intoto.jsonl``).

Tools that collect reports (the fleet database) use this to keep the signed record with its report. The record is
matched to the report by content, not trusted: verifying its signature needs the public key and is
``mlposture verify-attestation``'s job.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from mlposture.scanner.attestation import RECORD_SUFFIX
from mlposture.scanner.attestation.dsse import EncodingError, EnvelopeError, decode, from_dict
from mlposture.scanner.attestation.verify import RecordFileError, is_bundle, read_record


def record_path_beside(report: Path) -> Path:
    """``out/report.json`` -> ``out/report.intoto.jsonl`` (the name up to its first dot, plus the suffix)."""
    return report.with_name(report.name.split(".")[0] + RECORD_SUFFIX)


def record_for_report(report_path: Path, report: Mapping[str, Any]) -> str | None:
    """The one-line record beside ``report_path`` when there is one, None otherwise.

    Raises :class:`~mlposture.scanner.attestation.verify.RecordFileError` when a record is there but is not an
    envelope, or is about another report than ``report`` (its embedded report must be the same document).
    """
    path = record_path_beside(report_path)
    if not path.is_file():
        return None
    data = read_record(path)
    try:
        envelope = from_dict(data["dsseEnvelope"] if is_bundle(data) else data)
        statement = json.loads(decode(envelope.payload, "the payload"))
    except (EnvelopeError, EncodingError, ValueError) as exc:
        raise RecordFileError(str(path), f"not an audit record ({exc})") from None
    embedded = statement.get("predicate", {}).get("report") if isinstance(statement, dict) else None
    if embedded != report:
        raise RecordFileError(str(path), f"the record beside {report_path.name} is about another report")
    return path.read_text("utf-8").strip()
