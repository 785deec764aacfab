"""A stored JSON report turned back into the scan values the HTML writer renders.

The fleet database keeps each scan's whole JSON report (schema_version 1), not the HTML. Rebuilding the
:class:`~mlposture.scanner.results.ScanResult` lets the dashboard show the very report ``mlposture scan -f html``
would have written, with the scanner's own writer, instead of a second rendering of the same data. Reports may have
been imported from elsewhere, so every field is read defensively: a missing or mistyped field becomes empty text,
never an exception half-way through a page.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

from mlposture.scanner.answers import Answer, RiskException
from mlposture.scanner.catalog import Catalog, Category, Control, Mappings
from mlposture.scanner.gate import _unblock_control
from mlposture.scanner.gitinfo import GitInfo
from mlposture.scanner.probe import Effect, Evidence, Finding, Location, Note, ProbeInfo, ProbeRun, Severity
from mlposture.scanner.results import (
    Blocker,
    CategoryScore,
    ControlResult,
    GateResult,
    RecordedEvidence,
    RecordedFinding,
    RepoSetting,
    ScanResult,
    Scores,
    Status,
    Target,
)

SEVERITY = {s.value: s for s in Severity}
STATUS = {s.value: s for s in Status}
EFFECT = {e.value: e for e in Effect}


@dataclass(frozen=True)
class StoredFinding(RecordedFinding):
    """A finding whose fingerprint is the one stored in the report (its content hash input is not kept)."""

    stored_fingerprint: str = ""

    @property
    def fingerprint(self) -> str:
        """The fingerprint as the scan computed it."""
        return self.stored_fingerprint


def _text(data: Any, key: str) -> str:
    value = data.get(key) if isinstance(data, dict) else None
    return value if isinstance(value, str) else ""


def _opt_text(data: Any, key: str) -> str | None:
    value = data.get(key) if isinstance(data, dict) else None
    return value if isinstance(value, str) else None


def _int(data: Any, key: str) -> int | None:
    value = data.get(key) if isinstance(data, dict) else None
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def _num(data: Any, key: str) -> float:
    value = data.get(key) if isinstance(data, dict) else None
    return float(value) if isinstance(value, (int, float)) and not isinstance(value, bool) else 0.0


def _list(data: Any, key: str) -> list[Any]:
    value = data.get(key) if isinstance(data, dict) else None
    return value if isinstance(value, list) else []


def _bool(data: Any, key: str, default: bool) -> bool:
    value = data.get(key) if isinstance(data, dict) else None
    return value if isinstance(value, bool) else default


def _dict(data: Any, key: str) -> dict[str, Any]:
    value = data.get(key) if isinstance(data, dict) else None
    return value if isinstance(value, dict) else {}


def _date(value: Any) -> dt.date:
    try:
        return dt.date.fromisoformat(value) if isinstance(value, str) else dt.date.min
    except ValueError:
        return dt.date.min


def _strings(value: Any) -> tuple[str, ...]:
    return tuple(str(v) for v in value) if isinstance(value, list) else ()


def _control(raw: dict[str, Any], known: Catalog) -> Control:
    """The catalog's own control when the id and definition match; otherwise one built from the report."""
    cid = _text(raw, "id")
    mappings = _dict(raw, "mappings")
    maps = Mappings(*(_strings(mappings.get(k)) for k in ("owasp", "atlas", "nist", "eu_ai_act")))
    own = known.get(cid)
    if own is not None and own.title == _text(raw, "title") and own.category == _text(raw, "category"):
        return own
    return Control(id=cid, title=_text(raw, "title"), description="", category=_text(raw, "category"),
                   severity=SEVERITY.get(_text(raw, "severity"), Severity.INFO), lockml_id=_opt_text(raw, "lockml_id"),
                   mappings=maps, automation=(), applicability="always", applies_when="", evidence=(),
                   remediation=own.remediation if own is not None else "")


def _answer(raw: Any, control: str) -> Answer | None:
    if not isinstance(raw, dict):
        return None
    expires = _opt_text(raw, "expires")
    return Answer(control=control, status=_text(raw, "status"), by=_text(raw, "by"), date=_date(raw.get("date")),
                  evidence=_opt_text(raw, "evidence"), expires=_date(expires) if expires else None,
                  note=_opt_text(raw, "note"))


def _control_result(raw: dict[str, Any], known: Catalog) -> ControlResult:
    control = _control(raw, known)
    evidence = tuple(
        RecordedEvidence(_text(ev, "probe"), Evidence(control.id, EFFECT.get(_text(ev, "effect"), Effect.FAIL),
                                                      _text(ev, "message"), _opt_text(ev, "path"), _int(ev, "line"),
                                                      _text(ev, "rule")),
                         _opt_text(ev, "finding"), _text(ev, "context") or "production",
                         _bool(ev, "counted", True))
        for ev in _list(raw, "evidence") if isinstance(ev, dict))
    return ControlResult(control=control, status=STATUS.get(_text(raw, "status"), Status.UNVERIFIED),
                         source=_text(raw, "source") or "none", evidence=evidence,
                         answer=_answer(raw.get("answer"), control.id), reason=_text(raw, "reason"),
                         searched=_strings(raw.get("searched")), contradiction=_opt_text(raw, "contradiction"))


def _finding(raw: dict[str, Any]) -> StoredFinding:
    accepted = raw.get("accepted")
    exception = None
    if isinstance(accepted, dict):
        expires = _opt_text(accepted, "expires")
        exception = RiskException(by=_text(accepted, "by"), date=_date(accepted.get("date")),
                                  reason=_text(accepted, "reason"), fingerprint=_opt_text(accepted, "fingerprint"),
                                  rule=_opt_text(accepted, "rule"), path_glob=_opt_text(accepted, "path"),
                                  expires=_date(expires) if expires else None)
    line, message = _int(raw, "line"), _text(raw, "message")
    locations = tuple(Location(_int(loc, "line"), _text(loc, "message"))
                      for loc in _list(raw, "locations") if isinstance(loc, dict))
    if len(locations) == 1 and locations[0].line == line and locations[0].message == message:
        locations = ()  # the writer lists a single place as the finding itself
    finding = Finding(rule=_text(raw, "rule"), severity=SEVERITY.get(_text(raw, "severity"), Severity.INFO),
                      message=message, path=_opt_text(raw, "path"), line=line,
                      controls=_strings(raw.get("controls")), locations=locations)
    return StoredFinding(_text(raw, "probe"), finding, exception, _text(raw, "context") or "production",
                         _bool(raw, "counted", True), stored_fingerprint=_text(raw, "fingerprint"))


def _gate(raw: dict[str, Any], controls: tuple[ControlResult, ...], findings: tuple[StoredFinding, ...],
          score: float) -> GateResult:
    by_id = {r.control.id: r for r in controls}
    by_print = {f.fingerprint: f for f in findings}
    blockers: list[Blocker] = []
    for probe in _strings(raw.get("blocking_probes")):
        blockers.append(Blocker("probe", probe, "critical", f"built-in probe {probe} did not run to completion",
                                "fix the installation or the crash and scan again, or pass --allow-probe-errors "
                                "to accept a scan without this probe"))
    for cid in _strings(raw.get("blocking")):
        r = by_id.get(cid)
        if r is not None:
            blockers.append(Blocker("control", cid, r.control.severity.value,
                                    f"{r.control.title}: {r.status.value}", _unblock_control(r)))
    for fp in _strings(raw.get("blocking_findings")):
        f = by_print.get(fp)
        if f is not None:
            x = f.finding
            where = f"{x.path or '.'}{':' + str(x.line) if x.line else ''}"
            blockers.append(Blocker("finding", fp, x.severity.value, f"{x.rule} at {where}: {x.message}",
                                    f"remove or fix it, or accept the risk with an exception (fingerprint: {fp[:16]})"))
    if raw.get("score_below_floor") is True:
        blockers.append(Blocker("score", "score", "", f"score {score} is below the --fail-under floor",
                                "raise the score: fix failing controls first"))
    passed = raw.get("passed") is True
    return GateResult(_text(raw, "fail_on") or "critical", passed, tuple(blockers))


def result_from_report(report: dict[str, Any], known: Catalog) -> ScanResult:
    """The scan values of one stored report; ``known`` supplies the control text the JSON does not carry."""
    categories_raw = [c for c in _list(report, "categories") if isinstance(c, dict)]
    controls = tuple(_control_result(c, known) for c in _list(report, "controls") if isinstance(c, dict))
    categories = tuple(Category(_text(c, "id"), _text(c, "name")) for c in categories_raw)
    catalog = Catalog(categories, tuple(r.control for r in controls))
    findings = tuple(_finding(f) for f in _list(report, "findings") if isinstance(f, dict))
    lockml = _dict(report, "lockml")
    score = _num(report, "score")
    scores = Scores(score=score, risk=_text(report, "risk"), coverage=_num(report, "coverage"),
                    lockml_score=_int(lockml, "score") or 0, lockml_risk=_text(lockml, "risk"),
                    categories=tuple(CategoryScore(_text(c, "id"), _text(c, "name"), _num(c, "score"),
                                                   _text(c, "risk"),
                                                   {k: v for k, v in _dict(c, "counts").items()
                                                    if isinstance(v, int)})
                                     for c in categories_raw))
    target = _dict(report, "target")
    git_raw = target.get("git")
    git = None
    if isinstance(git_raw, dict):
        dirty = git_raw.get("dirty")
        git = GitInfo(commit=_opt_text(git_raw, "commit"), ref=_opt_text(git_raw, "ref"),
                      dirty=dirty if isinstance(dirty, bool) else None, tracked=None)
    probes = tuple(
        ProbeRun(ProbeInfo(_text(p, "name"), _text(p, "version"), "", ()),
                 error=None if _text(p, "status") == "ok" else (_text(p, "error") or "error"),
                 seconds=_num(p, "seconds"))
        for p in _list(report, "probes") if isinstance(p, dict))
    context = _dict(report, "context")
    notes = tuple(Note(_text(n, "message"), _opt_text(n, "path"), _int(n, "line"))
                  for n in _list(report, "notes") if isinstance(n, dict))
    return ScanResult(
        tool_version=_text(_dict(report, "tool"), "version"),
        target=Target(path=_text(target, "path"), git=git, url=_opt_text(target, "url")),
        generated_at=_text(report, "generated_at"),
        catalog=catalog,
        controls=controls,
        findings=findings,
        probes=probes,
        load_errors=(),
        notes=notes,
        warnings=_strings(report.get("warnings")),
        scores=scores,
        gate=_gate(_dict(report, "gate"), controls, findings, score),
        counted_contexts=_strings(context.get("counted")) if "counted" in context else ("production",),
        context_sources=_strings(context.get("sources")),
        sources=tuple((_text(t, "name"), _num(t, "seconds")) for t in _list(report, "sources") if isinstance(t, dict)),
        repo_config=tuple(RepoSetting(_text(r, "setting"), _text(r, "value"), _text(r, "path"), _int(r, "line"),
                                      _text(r, "why"))
                          for r in _list(report, "repo_config_lowers_gate") if isinstance(r, dict)),
    )
