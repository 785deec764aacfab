"""Verifying a record: signature, statement, (with a checkout) commit and file digests, then the policy.

Every check that can run is run and every failure is named, so one reading says all that is wrong; only a signature
that does not verify stops early, because nothing in an unsigned payload can be trusted enough to report on.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from mlposture.scanner.attestation import PAYLOAD_TYPE, PREDICATE_TYPE
from mlposture.scanner.attestation.dsse import MAX_ENVELOPE_BYTES, EncodingError, Envelope, decode, from_dict, pae
from mlposture.scanner.attestation.keys import VerifyingKey
from mlposture.scanner.attestation.policy import blockers
from mlposture.scanner.attestation.statement import Record, StatementError, parse_statement
from mlposture.scanner.attestation.subjects import FileDigest, digest_of, read_head, sha256_file
from mlposture.scanner.errors import InputError


class RecordFileError(InputError):
    """The record file cannot be read or holds no envelope (unusable input, exit 2)."""


@dataclass(frozen=True)
class Policy:
    """What the verifier requires of the recorded result (the scan's gate options)."""

    fail_on: str = "critical"
    allow_unverified: bool = False
    allow_probe_errors: bool = False


@dataclass(frozen=True)
class Verification:
    """The outcome: verified when ``problems`` is empty; ``checked`` says what held."""

    problems: tuple[str, ...]
    checked: tuple[str, ...]
    record: Record | None

    @property
    def verified(self) -> bool:
        """True when nothing failed."""
        return not self.problems


def read_record(path: Path) -> dict[str, Any]:
    """The one JSON object of a ``.intoto.jsonl`` file (an envelope, or a Sigstore bundle)."""
    try:
        with path.open("rb") as fh:
            raw = fh.read(MAX_ENVELOPE_BYTES + 1)
    except OSError as exc:
        raise RecordFileError(str(path), f"cannot read: {exc.strerror or exc}") from None
    if len(raw) > MAX_ENVELOPE_BYTES:
        raise RecordFileError(str(path), "larger than 64 MB: not an audit record")
    lines = [line for line in raw.splitlines() if line.strip()]
    if len(lines) != 1:
        raise RecordFileError(str(path), f"{len(lines)} non-empty lines: one envelope per file is expected")
    try:
        data = json.loads(lines[0])
    except ValueError as exc:
        raise RecordFileError(str(path), f"not JSON ({exc})") from None
    if not isinstance(data, dict):
        raise RecordFileError(str(path), "not a JSON object")
    return data


def is_bundle(data: dict[str, Any]) -> bool:
    """A Sigstore bundle (keyless record) rather than a bare envelope."""
    return "dsseEnvelope" in data


def check_signature(envelope: Envelope, key: VerifyingKey, key_name: str) -> tuple[bytes | None, str]:
    """(payload, "") when a signature by ``key`` verifies, else (None, why)."""
    try:
        payload = decode(envelope.payload, "the payload")
    except EncodingError as exc:
        return None, f"{exc}: the record was altered or damaged"
    signed = pae(envelope.payload_type, payload)
    mine = [s for s in envelope.signatures if s.keyid in ("", key.keyid)]
    if not mine:
        ids = ", ".join(s.keyid[:16] or "(none)" for s in envelope.signatures)
        return None, (f"signed by another key: the record's signature is by keyid {ids}, the key in {key_name} is "
                      f"keyid {key.keyid[:16]}")
    for s in mine:
        try:
            raw = decode(s.sig, "the signature")
        except EncodingError:
            continue
        if key.verify(raw, signed):
            return payload, ""
    return None, (f"the signature does not match the content (keyid {key.keyid[:16]}, {key.algorithm}): the payload or "
                  "the signature was altered after signing")


def _check_files(record: Record, repo: Path) -> tuple[list[str], list[str]]:
    """Commit and file digests against the checkout ``repo``."""
    from mlposture.scanner.answers import DEFAULT_ANSWERS

    problems: list[str] = []
    checked: list[str] = []
    head = read_head(repo, named=False)
    if head.commit != record.commit:
        problems.append(f"commit: HEAD of {repo} is {head.commit}, the record attests {record.commit} (the checkout "
                        "is at another commit than the one audited)")
    else:
        checked.append(f"commit: HEAD of {repo} is the attested commit {record.commit}")
    root = head.workdir / record.path if record.path else head.workdir
    changed = 0

    def compare(attested: FileDigest, what: str) -> None:
        nonlocal changed
        if Path(attested.path).is_absolute():
            try:
                now: FileDigest | None = FileDigest(attested.path, *sha256_file(Path(attested.path)))
            except OSError:
                now = None
        else:
            now = digest_of(root, attested.path)
        if now is None:
            problems.append(f"{what} {attested.path}: missing (attested sha256 {attested.sha256})")
            changed += 1
        elif now.sha256 != attested.sha256:
            problems.append(f"{what} {attested.path}: changed since the audit (sha256 now {now.sha256}, attested "
                            f"{attested.sha256})")
            changed += 1

    for model in record.models:
        compare(model, "model file")
    if record.answers is not None:
        compare(record.answers, "answers file")
    elif digest_of(root, DEFAULT_ANSWERS) is not None:
        problems.append(f"answers file {DEFAULT_ANSWERS}: present now, but the audit used no answers file")
        changed += 1
    if not changed:
        answers = " and the answers file" if record.answers is not None else ""
        checked.append(f"files: {len(record.models)} model file(s){answers} have their attested SHA-256")
    return problems, checked


def verify_payload(payload: bytes, payload_type: str, signed_by: str, repo: Path | None,
                   policy: Policy) -> Verification:
    """Everything after the signature: statement shape, checkout, policy."""
    problems: list[str] = []
    checked = [f"signature: valid, {signed_by}"]
    if payload_type != PAYLOAD_TYPE:
        return Verification((f"payloadType is {payload_type!r}, expected {PAYLOAD_TYPE!r}",), tuple(checked), None)
    try:
        record = parse_statement(payload)
    except StatementError as exc:
        return Verification((f"statement: {exc}",), tuple(checked), None)
    checked.append(f"statement: in-toto v1, {PREDICATE_TYPE}, mlposture {record.tool_version}, "
                   f"{record.repository} at {record.commit[:12]}")
    if repo is not None:
        more, ok = _check_files(record, repo)
        problems += more
        checked += ok
    found = blockers(record.report, policy.fail_on, policy.allow_unverified, policy.allow_probe_errors, record.gate)
    score = record.report.get("score")
    if found:
        problems += [f"policy --fail-on {policy.fail_on}: {b}" for b in found]
    else:
        checked.append(f"policy: the recorded result (score {score}) passes --fail-on {policy.fail_on}")
    return Verification(tuple(problems), tuple(checked), record)


def verify_with_key(data: dict[str, Any], key: VerifyingKey, key_name: str, repo: Path | None,
                    policy: Policy) -> Verification:
    """Verify a bare DSSE envelope with a public key."""
    envelope = from_dict(data)
    payload, why = check_signature(envelope, key, key_name)
    if payload is None:
        return Verification((f"signature: {why}",), (), None)
    return verify_payload(payload, envelope.payload_type, f"keyid {key.keyid[:16]} ({key.algorithm})", repo, policy)
