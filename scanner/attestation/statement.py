"""The in-toto Statement v1 of an audit record: subjects and predicate, built and read back.

Subjects are what the record is about: the git commit (``gitCommit``), then each model artifact and the answers file
(``sha256``). The predicate (type :data:`~mlposture.scanner.attestation.PREDICATE_TYPE`) carries the JSON report
(schema_version 1) and what produced it: tool version, catalog digest, answers digest and gate settings.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from mlposture.scanner.attestation import PREDICATE_TYPE, STATEMENT_TYPE
from mlposture.scanner.attestation.subjects import COMMIT, FileDigest, Head

if TYPE_CHECKING:
    from mlposture.scanner.catalog import Catalog

HEX64 = frozenset("0123456789abcdef")


class StatementError(ValueError):
    """A signed payload that is not a well-formed mlposture audit statement."""


def catalog_digest(catalog: Catalog) -> dict[str, Any]:
    """SHA-256 of the catalog's content (every control's text, severity, rules and mappings, in canonical JSON).

    Taken from the loaded controls rather than the YAML bytes, so formatting does not change it while any change of
    wording, severity or mapping does.
    """
    rows = [{
        "id": c.id, "title": c.title, "description": c.description, "category": c.category,
        "severity": c.severity.value, "lockml_id": c.lockml_id, "mappings": c.mappings.as_dict(),
        "automation": list(c.automation), "applicability": c.applicability, "applies_when": c.applies_when,
        "evidence": list(c.evidence), "remediation": c.remediation,
    } for c in sorted(catalog, key=lambda c: c.id)]
    text = json.dumps(rows, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return {"sha256": hashlib.sha256(text.encode("utf-8")).hexdigest(), "controls": len(rows)}


def build_statement(report: Mapping[str, Any], head: Head, models: Sequence[FileDigest],
                    answers: FileDigest | None, catalog: Mapping[str, Any], gate: Mapping[str, Any],
                    tool_version: str) -> dict[str, Any]:
    """The statement as plain data, ready for canonical JSON."""
    subjects: list[dict[str, Any]] = [{"name": head.name, "digest": {"gitCommit": head.commit}}]
    subjects += [{"name": m.path, "digest": {"sha256": m.sha256}} for m in models]
    if answers is not None:
        subjects.append({"name": answers.path, "digest": {"sha256": answers.sha256}})
    return {
        "_type": STATEMENT_TYPE,
        "subject": subjects,
        "predicateType": PREDICATE_TYPE,
        "predicate": {
            "tool": {"name": "mlposture", "version": tool_version},
            "repository": {"name": head.name, "commit": head.commit, "path": head.prefix},
            "models": [{"path": m.path, "size": m.size, "sha256": m.sha256} for m in models],
            "answers": None if answers is None else {"path": answers.path, "size": answers.size,
                                                     "sha256": answers.sha256},
            "catalog": dict(catalog),
            "gate": dict(gate),
            "report": dict(report),
        },
    }


def canonical(statement: Mapping[str, Any]) -> bytes:
    """The payload bytes: compact JSON, UTF-8, keys in the order built."""
    return json.dumps(statement, separators=(",", ":"), ensure_ascii=False).encode("utf-8")


@dataclass(frozen=True)
class Record:
    """A statement read back and checked for shape."""

    repository: str
    commit: str
    path: str
    models: tuple[FileDigest, ...]
    answers: FileDigest | None
    report: Mapping[str, Any]
    gate: Mapping[str, Any]
    tool_version: str
    catalog: Mapping[str, Any]


def _digest(item: Any, where: str) -> FileDigest:
    if not isinstance(item, dict) or not isinstance(item.get("path"), str) or not isinstance(item.get("sha256"), str):
        raise StatementError(f"{where}: an object with 'path' and 'sha256' is expected")
    if len(item["sha256"]) != 64 or not set(item["sha256"]) <= HEX64:
        raise StatementError(f"{where}: 'sha256' is not 64 lowercase hex digits")
    size = item.get("size")
    return FileDigest(item["path"], size if isinstance(size, int) else -1, item["sha256"])


def parse_statement(payload: bytes) -> Record:
    """The record in a verified payload; raises :class:`StatementError` saying what is malformed."""
    try:
        data = json.loads(payload)
    except ValueError as exc:
        raise StatementError(f"the payload is not JSON ({exc})") from None
    if not isinstance(data, dict):
        raise StatementError("the payload is not a JSON object")
    if data.get("_type") != STATEMENT_TYPE:
        raise StatementError(f"'_type' is {data.get('_type')!r}, expected {STATEMENT_TYPE!r}")
    if data.get("predicateType") != PREDICATE_TYPE:
        raise StatementError(f"'predicateType' is {data.get('predicateType')!r}, expected {PREDICATE_TYPE!r}")
    subjects, pred = data.get("subject"), data.get("predicate")
    if not isinstance(subjects, list) or not subjects or not isinstance(pred, dict):
        raise StatementError("'subject' (a non-empty list) and 'predicate' (an object) are required")
    named: dict[str, dict[str, Any]] = {}
    for n, s in enumerate(subjects, 1):
        if not isinstance(s, dict) or not isinstance(s.get("name"), str) or not isinstance(s.get("digest"), dict):
            raise StatementError(f"subject {n}: an object with 'name' and 'digest' is expected")
        named.setdefault(s["name"], {}).update(s["digest"])
    repo = pred.get("repository")
    if not isinstance(repo, dict) or not isinstance(repo.get("name"), str) or not isinstance(repo.get("commit"), str):
        raise StatementError("predicate.repository: 'name' and 'commit' are required")
    commit = repo["commit"]
    if not COMMIT.match(commit) or named.get(repo["name"], {}).get("gitCommit") != commit:
        raise StatementError("the commit subject is missing or differs from predicate.repository.commit")
    models = pred.get("models")
    if not isinstance(models, list):
        raise StatementError("predicate.models: a list is expected")
    digests = tuple(_digest(m, f"predicate.models[{i}]") for i, m in enumerate(models))
    answers = None if pred.get("answers") is None else _digest(pred["answers"], "predicate.answers")
    for d in (*digests, *([answers] if answers else [])):
        if named.get(d.path, {}).get("sha256") != d.sha256:
            raise StatementError(f"{d.path}: no subject with the digest the predicate records")
    report = pred.get("report")
    if not isinstance(report, dict) or report.get("schema_version") != 1:
        raise StatementError("predicate.report: a JSON report with schema_version 1 is expected")
    scanned = ((report.get("target") or {}).get("git") or {}).get("commit")
    if scanned is not None and scanned != commit:
        raise StatementError(f"the report inside is of commit {scanned}, the record attests {commit}")
    for key in ("controls", "findings"):
        if not isinstance(report.get(key), list):
            raise StatementError(f"predicate.report.{key}: a list is expected")
    tool, gate, catalog = pred.get("tool"), pred.get("gate"), pred.get("catalog")
    if not isinstance(tool, dict) or not isinstance(gate, dict) or not isinstance(catalog, dict):
        raise StatementError("predicate: 'tool', 'gate' and 'catalog' objects are required")
    return Record(repo["name"], commit, str(repo.get("path") or ""), digests, answers, report, gate,
                  str(tool.get("version", "")), catalog)
