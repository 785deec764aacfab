"""Typed, frozen settings built once per run and handed to every probe.

Defaults come from the sources the checklist cites (docs/contracts.md, "Thresholds": log retention 90 days, EU tier
183 days, DP epsilon < 10, red-team age 92 days, audit age 365 days). ``mlposture.scanner.config`` layers the
repository's file, the environment and flags on top of these defaults.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, fields


class FailOn(str, enum.Enum):
    """Gate threshold: the lowest severity that blocks."""

    CRITICAL = "critical"
    HIGH = "high"
    MEDIUM = "medium"
    LOW = "low"
    NONE = "none"


@dataclass(frozen=True)
class Settings:
    """Every knob of a scan. Probes read thresholds from here, never from their own globals."""

    # repository view
    exclude: tuple[str, ...] = ()
    include_vendored: bool = False
    max_text_bytes: int = 4 * 1024 * 1024
    # thresholds (docs/contracts.md, "Thresholds")
    log_retention_days: int = 90
    eu_log_retention_days: int = 183
    dp_epsilon_max: float = 10.0
    redteam_max_age_days: int = 92
    audit_max_age_days: int = 365
    compliance_doc_max_age_days: int = 365
    # EU AI Act risk tier recorded in the repository (``eu_ai_act: {risk_tier: ...}``)
    eu_risk_tier: str | None = None
    # vulnerability audit
    no_vulns: bool = False
    vuln_db: str | None = None
    # model files
    history: bool = False
    max_model_bytes_scanned: int = 0  # 0: no cap; the opcode reader streams
    model_scan_budget_seconds: float = 600.0  # all files of one scan together; past it the rest is not analysed
    model_scan_budget_bytes: int = 64 << 30  # bytes of all files scanned together, same rule
    model_limit_severity: str = "critical"  # severity of "not fully analysed" (a cap reached): blocks by default
    # catalog and probes
    extra_controls: tuple[str, ...] = ()
    disabled_probes: tuple[str, ...] = ()
    probe_timeout_seconds: float = 900.0  # a probe running longer is stopped and reported; 0 = no limit
    jobs: int = 0  # worker processes for the probes; 0 = one per core
    # gate and output
    fail_on: FailOn = FailOn.CRITICAL
    fail_under: float | None = None
    allow_unverified: bool = False
    allow_probe_errors: bool = False  # a built-in probe that fails to load or crashes only warns
    # contexts counted besides production (test, example, docs, fixture, vendored; see scanner/context.py)
    contexts: tuple[str, ...] = ()

    @classmethod
    def field_names(cls) -> tuple[str, ...]:
        """Names of all settings, for config parsing and ``mlposture config``."""
        return tuple(f.name for f in fields(cls))
