"""JSON report, schema_version 1 (docs/contracts.md, "JSON report"): the audit record and the input of ``diff``."""

from __future__ import annotations

import json
from typing import Any

from mlposture.scanner.answers import Answer, RiskException
from mlposture.scanner.report.interface import Writer
from mlposture.scanner.results import ControlResult, RecordedFinding, ScanResult

SCHEMA_VERSION = 1


def _answer(answer: Answer | None) -> dict[str, Any] | None:
    if answer is None:
        return None
    return {
        "status": answer.status, "by": answer.by, "date": answer.date.isoformat(),
        "expires": answer.expires.isoformat() if answer.expires else None,
        "evidence": answer.evidence, "note": answer.note,
    }


def _exception(exc: RiskException | None) -> dict[str, Any] | None:
    if exc is None:
        return None
    return {"by": exc.by, "date": exc.date.isoformat(), "reason": exc.reason,
            "expires": exc.expires.isoformat() if exc.expires else None,
            "fingerprint": exc.fingerprint, "rule": exc.rule, "path": exc.path_glob}


def control_dict(r: ControlResult) -> dict[str, Any]:
    """One control in the JSON contract."""
    c = r.control
    return {
        "id": c.id, "title": c.title, "category": c.category, "severity": c.severity.value,
        "status": r.status.value, "source": r.source, "lockml_id": c.lockml_id,
        "evidence": [
            {"probe": e.probe, "effect": e.evidence.effect.value, "path": e.evidence.path,
             "line": e.evidence.line, "message": e.evidence.message, "rule": e.evidence.rule or None,
             "finding": e.finding, "context": e.context, "counted": e.counted}
            for e in r.evidence
        ],
        "answer": _answer(r.answer),
        "mappings": c.mappings.as_dict(),
        "reason": r.reason or None,
        "searched": list(r.searched),
        "contradiction": r.contradiction,
    }


def finding_dict(f: RecordedFinding) -> dict[str, Any]:
    """One finding in the JSON contract."""
    x = f.finding
    return {
        "rule": x.rule, "probe": f.probe, "severity": x.severity.value, "path": x.path, "line": x.line,
        "message": x.message, "controls": list(x.controls), "fingerprint": f.fingerprint,
        "accepted": _exception(f.accepted),
        "context": f.context, "counted": f.counted,
        "locations": ([{"line": loc.line, "message": loc.message} for loc in x.locations] if x.locations
                      else [{"line": x.line, "message": x.message}]),
    }


def to_dict(result: ScanResult) -> dict[str, Any]:
    """The whole report as plain data."""
    git = result.target.git
    s = result.scores
    return {
        "schema_version": SCHEMA_VERSION,
        "tool": {"name": "mlposture", "version": result.tool_version},
        "target": {
            "path": result.target.path,
            "url": result.target.url,
            "git": None if git is None else {"commit": git.commit, "ref": git.ref, "dirty": git.dirty},
        },
        "generated_at": result.generated_at,
        "score": s.score, "risk": s.risk, "coverage": s.coverage,
        "lockml": {"score": s.lockml_score, "risk": s.lockml_risk},
        "categories": [
            {"id": c.id, "name": c.name, "score": c.score, "risk": c.risk, "counts": dict(c.counts)}
            for c in s.categories
        ],
        "context": {"counted": list(result.counted_contexts), "sources": list(result.context_sources)},
        "controls": [control_dict(r) for r in result.controls],
        "findings": [finding_dict(f) for f in result.findings],
        "probes": [
            {"name": p.info.name, "version": p.info.version, "status": "ok" if p.ok else "error",
             "error": p.error, "seconds": round(p.seconds, 3)}
            for p in result.probes
        ] + [
            {"name": e.name, "version": "", "status": "error", "error": f"not loaded: {e.error}", "seconds": 0.0}
            for e in result.load_errors
        ],
        "sources": [{"name": name, "seconds": round(secs, 3)} for name, secs in result.sources],
        "notes": [{"path": n.path, "line": n.line, "message": n.message} for n in result.notes],
        "warnings": list(result.warnings),
        "repo_config_lowers_gate": [
            {"setting": r.name, "value": r.value, "path": r.path, "line": r.line, "why": r.why}
            for r in result.repo_config
        ],
        "gate": {
            "fail_on": result.gate.fail_on, "passed": result.gate.passed,
            "blocking": result.gate.blocking_controls,
            "blocking_findings": [b.id for b in result.gate.blockers if b.kind == "finding"],
            "blocking_probes": [b.id for b in result.gate.blockers if b.kind == "probe"],
            "score_below_floor": any(b.kind == "score" for b in result.gate.blockers),
        },
    }


class JsonWriter(Writer):
    """``--format json``."""

    name = "json"
    extension = "json"

    def render(self, result: ScanResult) -> str:
        """Pretty-printed JSON, keys in contract order."""
        return json.dumps(to_dict(result), indent=2, ensure_ascii=False) + "\n"
