"""The verifier's policy over a recorded result: would the gate pass at ``--fail-on LEVEL``?

The rule is the scan's own, applied to the report inside the record: a control at or above the level that is
``fail`` or ``unverified`` (unless unverified controls are allowed), a finding at or above it that no accepted-risk
exception covers and that the scan counted (a non-production finding the scan left out is left out here too), or a
probe that did not complete (unless probe errors are allowed) blocks. The verifier chooses
the level, not the attester; a record whose own gate failed at a level at least as lenient also fails, which covers
blockers this rule cannot see in the report (a score floor, rules of a later version).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

SEVERITY_RANK = {"critical": 4, "high": 3, "medium": 2, "low": 1, "info": 0}
LENIENCY = {"none": 5, **SEVERITY_RANK}  # a higher level lets more through


def _where(item: Mapping[str, Any]) -> str:
    path = item.get("path") or "."
    return f"{path}:{item['line']}" if item.get("line") else str(path)


def blockers(report: Mapping[str, Any], fail_on: str, allow_unverified: bool = False,
             allow_probe_errors: bool = False, recorded: Mapping[str, Any] | None = None) -> list[str]:
    """Why the recorded result fails the policy, one line per reason; empty when it passes.

    ``recorded`` holds the gate settings of the attested run (the predicate's ``gate``).
    """
    if fail_on == "none":
        return []
    threshold = SEVERITY_RANK[fail_on]
    out: list[str] = []
    for c in report.get("controls") or []:
        rank = SEVERITY_RANK.get(str(c.get("severity")), 4)
        status = c.get("status")
        if rank < threshold or status not in ("fail", "unverified"):
            continue
        if status == "unverified" and allow_unverified:
            continue
        out.append(f"control {c.get('id')} ({c.get('severity')}) is {status}: {c.get('title')}")
    for f in report.get("findings") or []:
        rank = SEVERITY_RANK.get(str(f.get("severity")), 4)
        if f.get("accepted") or f.get("counted") is False or rank == 0 or rank < threshold:
            continue
        out.append(f"finding {f.get('rule')} ({f.get('severity')}) at {_where(f)}: {f.get('message')}")
    if not allow_probe_errors:
        for p in report.get("probes") or []:
            if p.get("status") != "ok":
                out.append(f"probe {p.get('name')} did not complete: {p.get('error')}")
    gate = report.get("gate") or {}
    level = str(gate.get("fail_on"))
    settings = recorded or {}
    as_strict = (LENIENCY.get(level, -1) >= LENIENCY[fail_on]
                 and (not allow_unverified or settings.get("allow_unverified") is True)
                 and (not allow_probe_errors or settings.get("allow_probe_errors") is True))
    if not out and gate.get("passed") is False and as_strict:
        blocking = ", ".join(str(b) for b in gate.get("blocking") or []) or "see the report"
        floor = " (score below the floor)" if gate.get("score_below_floor") else ""
        out.append(f"the recorded gate failed at --fail-on {level}{floor}: {blocking}")
    return out
