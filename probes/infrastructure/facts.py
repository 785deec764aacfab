"""Facts the format readers produce, before :mod:`mlposture.probes.infrastructure.judge` turns them into evidence.

Two kinds: a :class:`Retention` is a raw number (days logs are kept) whose verdict depends on the thresholds in
``Settings``, so it is judged in one place for every format; a :class:`Signal` is a fact whose meaning for its
control does not depend on settings (an encrypted volume, a wildcard IAM action), read from the format with the
value that decided it.
"""

from __future__ import annotations

from dataclasses import dataclass

from mlposture.scanner.probe import Effect, Severity

RULE_PREFIX = "infrastructure."


@dataclass(frozen=True)
class Retention:
    """How long a log store keeps request logs, where that was set, and in which words.

    ``days`` is None when the logs never expire (CloudWatch without ``retention_in_days``, Loki without the
    compactor's retention, an ILM policy without a delete phase). ``setting`` is the text shown to the
    reviewer ("retention_in_days = 14"); ``subject`` names what it applies to ("aws_cloudwatch_log_group.api").
    """

    source: str
    subject: str
    setting: str
    days: float | None
    path: str
    line: int
    note: str = ""


@dataclass(frozen=True)
class Signal:
    """One judged observation for one control.

    ``effect`` FAIL becomes a :class:`~mlposture.scanner.probe.Finding` (so a user can accept it as a risk) with
    ``severity`` and ``content`` as its fingerprint basis; PASS and PARTIAL become plain evidence.
    """

    control: str
    effect: Effect
    rule: str
    message: str
    path: str
    line: int
    content: str = ""
    severity: Severity = Severity.HIGH

    @property
    def rule_id(self) -> str:
        """Fully qualified rule id (``infrastructure.<rule>``)."""
        return self.rule if self.rule.startswith(RULE_PREFIX) else RULE_PREFIX + self.rule


def sig(control: str, effect: Effect, rule: str, message: str, path: str, line: int, content: str = "",
        severity: Severity = Severity.HIGH) -> Signal:
    """Shorthand used by the readers."""
    return Signal(control, effect, rule, message, path, line, content or message, severity)


def logged(message: str, path: str, line: int) -> Signal:
    """INF-08 request-logging evidence, partial on its own.

    The catalog passes INF-08 only with logging *and* retention of at least 90 days ("logging without any
    retention setting = PARTIAL"); retention is judged on the log store, so logging alone says partial and a
    retention that meets the threshold lifts the control to pass.
    """
    return Signal("INF-08", Effect.PARTIAL, RULE_PREFIX + "request-logging",
                  f"{message} (retention is judged on the log store)", path, line, message)


PASS = Effect.PASS
PARTIAL = Effect.PARTIAL
FAIL = Effect.FAIL
