"""Turn facts into the items the engine reads: retention against the thresholds, signals as evidence/findings.

Retention thresholds come from ``Settings``: ``log_retention_days`` (90, LockML) always, and
``eu_log_retention_days`` (183, six months: EU AI Act Art. 19(1) and 26(6)) when the repository records an EU
high-risk tier (``Settings.eu_risk_tier``). Below the first is a failure (a finding the user can accept as a
risk); between the two on a high-risk system is partial; logs that never expire meet both.
"""

from __future__ import annotations

from dataclasses import dataclass

from mlposture.probes.infrastructure.facts import Retention, Signal
from mlposture.probes.infrastructure.values import fmt_days
from mlposture.scanner.probe import Effect, Evidence, Finding, Severity
from mlposture.scanner.settings import Settings

RETENTION_RULE = "infrastructure.log-retention"


@dataclass(frozen=True)
class Thresholds:
    """Minimum retention in days, and the EU tier's when it applies."""

    base: int
    eu: int | None

    @staticmethod
    def of(settings: Settings) -> Thresholds:
        """Thresholds of a run."""
        tier = (settings.eu_risk_tier or "").strip().lower().replace("_", "-")
        eu = settings.eu_log_retention_days if tier in ("high", "high-risk") else None
        return Thresholds(settings.log_retention_days, eu)


def judge_retention(r: Retention, t: Thresholds) -> Evidence | Finding:
    """INF-08 verdict of one retention value."""
    note = f" ({r.note})" if r.note else ""
    where = f"{r.subject}: " if r.subject else ""
    if r.days is None:
        meets = f"meets {t.base}" + (f" and {t.eu} (EU AI Act Art. 19/26)" if t.eu else "")
        return Evidence("INF-08", Effect.PASS, f"{where}{r.setting}, logs never expire, {meets}{note}", r.path,
                        r.line, RETENTION_RULE)
    if r.days < t.base:
        return Finding(RETENTION_RULE, Severity.HIGH, f"{where}{r.setting}, below {t.base}{note}", r.path, r.line,
                       ("INF-08",), content=f"{r.source} {r.subject} {fmt_days(r.days)}")
    if t.eu is not None and r.days < t.eu:
        return Evidence("INF-08", Effect.PARTIAL,
                        f"{where}{r.setting} meets {t.base} (LockML), not {t.eu} (EU AI Act Art. 19/26){note}",
                        r.path, r.line, RETENTION_RULE)
    meets = f"meets {t.base}" + (f" and {t.eu} (EU AI Act Art. 19/26)" if t.eu else "")
    return Evidence("INF-08", Effect.PASS, f"{where}{r.setting}, {meets}{note}", r.path, r.line, RETENTION_RULE)


def judge_signal(s: Signal) -> Evidence | Finding:
    """A failing signal becomes a finding (acceptable as a risk); others become evidence."""
    if s.effect is Effect.FAIL:
        return Finding(s.rule_id, s.severity, s.message, s.path, s.line, (s.control,), content=s.content)
    return Evidence(s.control, s.effect, s.message, s.path, s.line, s.rule_id)
