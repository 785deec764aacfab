"""Making a record: the statement of one scan (or of an existing JSON report), signed, written atomically."""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

from mlposture.scanner import __version__
from mlposture.scanner.atomicfile import write_atomic
from mlposture.scanner.attestation import PAYLOAD_TYPE
from mlposture.scanner.attestation.dsse import Envelope, Signature, encode, pae
from mlposture.scanner.attestation.keys import SigningKey
from mlposture.scanner.attestation.statement import build_statement, canonical, catalog_digest
from mlposture.scanner.attestation.subjects import (
    FileDigest,
    Head,
    SubjectError,
    answers_digest,
    model_digests,
    read_head,
    walked_model_files,
)
from mlposture.scanner.catalog import Catalog
from mlposture.scanner.settings import Settings

MAX_REPORT_BYTES = 256 * 1024 * 1024
GATE_SETTINGS = ("fail_on", "fail_under", "allow_unverified", "allow_probe_errors", "contexts")


class Signer(Protocol):
    """Turns the statement's bytes into the one line written to the record file."""

    @property
    def description(self) -> str:
        """Who signs, for messages."""

    def sign_statement(self, payload: bytes) -> str:
        """One line of JSON: a DSSE envelope (or a Sigstore bundle holding one)."""


@dataclass(frozen=True)
class KeySigner:
    """Signs with a local key: a DSSE envelope with one signature."""

    key: SigningKey

    @property
    def description(self) -> str:
        """The key id and algorithm."""
        return f"key {self.key.keyid[:16]} ({self.key.algorithm})"

    def sign_statement(self, payload: bytes) -> str:
        """The envelope around ``payload``, signed over its pre-authentication encoding."""
        sig = self.key.sign(pae(PAYLOAD_TYPE, payload))
        return Envelope(PAYLOAD_TYPE, encode(payload), (Signature(self.key.keyid, encode(sig)),)).to_json()


@dataclass(frozen=True)
class Written:
    """What was written, for the command's message and for the fleet database."""

    path: Path
    head: Head
    models: tuple[FileDigest, ...]
    answers: FileDigest | None
    size: int
    line: str


def gate_settings(settings: Settings, baseline: bool | None, source: str) -> dict[str, Any]:
    """The settings that decided the recorded gate (those this version has), and where they came from."""
    out: dict[str, Any] = {}
    for name in GATE_SETTINGS:
        if hasattr(settings, name):
            value = getattr(settings, name)
            out[name] = value.value if hasattr(value, "value") else (list(value) if isinstance(value, tuple)
                                                                     else value)
    out["baseline"] = baseline
    out["source"] = source
    return out


def make_record(report: Mapping[str, Any], root: Path, settings: Settings, catalog: Catalog, answers: Path | None,
                gate: Mapping[str, Any], signer: Signer, url: str | None = None) -> tuple[str, Head,
                                                                                         list[FileDigest],
                                                                                         FileDigest | None]:
    """The signed line for ``report`` of the folder ``root``, with its subjects."""
    if not root.is_dir():
        raise SubjectError(str(root), "an audit record is made for a folder (a repository checkout), not one file")
    head = read_head(root, url)
    models = model_digests(root, walked_model_files(root, settings), report)
    answered = answers_digest(root, answers)
    statement = build_statement(report, head, models, answered, catalog_digest(catalog), gate, __version__)
    return signer.sign_statement(canonical(statement)), head, models, answered


def record(report: Mapping[str, Any], root: Path, settings: Settings, catalog: Catalog, answers: Path | None,
           gate: Mapping[str, Any], signer: Signer, dest: Path, url: str | None = None) -> Written:
    """Sign and write the record of ``report``."""
    line, head, models, answered = make_record(report, root, settings, catalog, answers, gate, signer, url)
    text = line + "\n"
    write_atomic(dest, text)
    return Written(dest, head, tuple(models), answered, len(text.encode("utf-8")), line)


def load_report(path: Path) -> dict[str, Any]:
    """A JSON report (schema_version 1) from a file; raises :class:`SubjectError` when it is not one."""
    try:
        with path.open("rb") as fh:
            raw = fh.read(MAX_REPORT_BYTES + 1)
    except OSError as exc:
        raise SubjectError(str(path), f"cannot read: {exc.strerror or exc}") from None
    if len(raw) > MAX_REPORT_BYTES:
        raise SubjectError(str(path), "larger than 256 MB: not a mlposture report")
    try:
        data = json.loads(raw)
    except ValueError as exc:
        raise SubjectError(str(path), f"not JSON ({exc})") from None
    if not isinstance(data, dict) or data.get("schema_version") != 1 or not isinstance(data.get("controls"), list):
        raise SubjectError(str(path), "not a mlposture JSON report with schema_version 1")
    return data


def check_report_matches(report: Mapping[str, Any], report_path: Path, root: Path, catalog: Catalog) -> None:
    """Refuse a report that is not of ``root``'s HEAD, or that names controls this catalog does not have."""
    head = read_head(root, named=False)
    git = (report.get("target") or {}).get("git") or {}
    commit = git.get("commit")
    if not commit:
        raise SubjectError(str(report_path), "the report names no git commit: attest a scan of a git checkout")
    if commit != head.commit:
        raise SubjectError(str(report_path), f"the report is of commit {commit}, but HEAD of {root} is {head.commit}: "
                                             "check out that commit or scan again")
    if git.get("dirty") is True:
        raise SubjectError(str(report_path), "the report was made from a working tree with uncommitted changes, so "
                                             "the commit does not describe what was scanned")
    known = {c.id for c in catalog}
    unknown = sorted({str(c.get("id")) for c in report["controls"]} - known)
    if unknown:
        raise SubjectError(str(report_path), f"controls not in this catalog: {', '.join(unknown[:5])} (a report made "
                                             "with other controls: attest with the same version and extra_controls)")
