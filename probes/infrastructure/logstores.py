"""Log stores and shippers whose retention is configured outside a cloud resource.

* logrotate: ``daily|weekly|monthly|yearly`` (or ``hourly``) x ``rotate N``; ``maxage N`` caps it. Global
  directives apply to every block that does not override them (logrotate(8)).
* Grafana Loki: ``limits_config.retention_period`` is enforced only when ``compactor.retention_enabled`` is
  true; without the flag Loki keeps logs forever (Loki docs, "Log retention").
* Elasticsearch ILM: ``policy.phases.delete.min_age`` with a ``delete`` action; no delete phase = kept
  indefinitely. OpenSearch ISM: the ``min_index_age`` of the transition into a state whose actions delete.
* Fluent Bit: the ``cloudwatch_logs`` output's ``log_retention_days`` (classic ``[OUTPUT]`` sections or the
  YAML ``pipeline.outputs`` list); it applies to groups the plugin creates (``auto_create_group``).
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

from mlposture.probes.infrastructure.facts import Retention
from mlposture.probes.infrastructure.structured import as_list
from mlposture.probes.infrastructure.values import boolish, duration_days, fmt_days
from mlposture.scanner.yamlsafe import dig, line_of

FREQUENCY_DAYS = {"hourly": 1 / 24, "daily": 1.0, "weekly": 7.0, "monthly": 30.0, "yearly": 365.0}


# --------------------------------------------------------------------------- logrotate
@dataclass
class _Rotate:
    frequency: tuple[str, int] | None = None
    rotate: tuple[int, int] | None = None
    maxage: tuple[int, int] | None = None


@dataclass(frozen=True)
class LogrotateBlock:
    """One logrotate stanza (``/var/log/api/*.log { ... }``) with the directives in force for it."""

    files: str
    line: int
    frequency: str | None
    frequency_line: int | None
    rotate: int | None
    rotate_line: int | None
    maxage: int | None
    maxage_line: int | None


def parse_logrotate(text: str) -> list[LogrotateBlock]:
    """Stanzas of a logrotate configuration, with the global directives folded in.

    The format is line based: ``#`` comments, directives ``name [value]``, stanzas ``paths {`` ... ``}``.
    Unknown directives are ignored; scripts (``postrotate`` ... ``endscript``) are skipped.
    """
    glob = _Rotate()
    blocks: list[LogrotateBlock] = []
    current: _Rotate | None = None
    current_files = ""
    current_line = 0
    in_script = False
    for no, raw in enumerate(text.splitlines(), start=1):
        line = raw.split("#", 1)[0].strip()
        if not line:
            continue
        if in_script:
            if line == "endscript":
                in_script = False
            continue
        if line.endswith("{"):
            current = _Rotate()
            current_files = line[:-1].strip()
            current_line = no
            continue
        if line == "}":
            if current is not None:
                freq = current.frequency or glob.frequency
                rot = current.rotate or glob.rotate
                age = current.maxage or glob.maxage
                blocks.append(LogrotateBlock(
                    current_files, current_line,
                    freq[0] if freq else None, freq[1] if freq else None,
                    rot[0] if rot else None, rot[1] if rot else None,
                    age[0] if age else None, age[1] if age else None))
            current = None
            continue
        target = current if current is not None else glob
        words = line.split()
        name = words[0].lower()
        if name in ("postrotate", "prerotate", "firstaction", "lastaction", "preremove"):
            in_script = True
        elif name in FREQUENCY_DAYS:
            target.frequency = (name, no)
        elif name == "rotate" and len(words) > 1 and re.fullmatch(r"-?\d+", words[1]):
            target.rotate = (int(words[1]), no)
        elif name == "maxage" and len(words) > 1 and words[1].isdigit():
            target.maxage = (int(words[1]), no)
    return blocks


def looks_like_logrotate(path: str, text: str) -> bool:
    """``/etc/logrotate.d``-style files: named ``logrotate*`` or under a ``logrotate.d`` folder, with a stanza."""
    low = path.lower()
    named = "logrotate" in low.rsplit("/", 1)[-1] or "/logrotate.d/" in "/" + low
    return named and re.search(r"^\s*(rotate\s+\d+|maxage\s+\d+)", text, re.M) is not None


def logrotate_retention(text: str, path: str) -> Iterator[Retention]:
    """Retention of each stanza: frequency x rotate, capped by maxage."""
    for b in parse_logrotate(text):
        parts = []
        days: float | None = None
        line = b.line
        if b.rotate is not None:
            if b.rotate < 0:  # rotate -1: old logs are never removed
                yield Retention("logrotate", b.files, "rotate -1", None, path, b.rotate_line or line,
                                "rotated logs are never removed")
                continue
            freq = b.frequency or "daily"
            per = FREQUENCY_DAYS[freq]
            days = per * b.rotate
            parts.append(f"{freq}{'' if b.frequency else ' (assumed)'} x rotate {b.rotate}")
            line = b.rotate_line or line
        if b.maxage is not None:
            if days is None or b.maxage < days:
                days = float(b.maxage)
                line = b.maxage_line or line
            parts.append(f"maxage {b.maxage}")
        if days is None:
            continue
        yield Retention("logrotate", b.files, f"{', '.join(parts)} = {fmt_days(days)} days",
                        days, path, line)


# --------------------------------------------------------------------------- Loki
def loki_config(doc: Any) -> Any:
    """The Loki configuration inside a document (top level, or under ``loki:`` in Helm values)."""
    if not isinstance(doc, dict):
        return None
    for candidate in (doc, doc.get("loki")):
        if isinstance(candidate, dict) and ("limits_config" in candidate or "compactor" in candidate) and (
                any(k in candidate for k in ("schema_config", "storage_config", "ingester", "common", "server",
                                             "auth_enabled", "storage", "schemaConfig"))
                or candidate is not doc):
            return candidate
    return None


def loki_retention(cfg: dict[Any, Any], path: str) -> Iterator[Retention]:
    """Loki's global retention, with the compactor flag that decides whether it is enforced."""
    limits = cfg.get("limits_config")
    compactor = cfg.get("compactor")
    enabled = boolish(dig(compactor, "retention_enabled")) is True
    period = dig(limits, "retention_period")
    if period is None:
        if enabled:
            yield Retention("loki", "limits_config", "retention_period not set (default 0s: no deletion)", None, path,
                            line_of(compactor, "retention_enabled"),
                            "compactor retention on, but no period: logs are kept forever")
        return
    days = duration_days(period)
    at = line_of(limits, "retention_period")
    if days is None:
        return
    if not enabled:
        yield Retention("loki", "limits_config", f"retention_period = {period}", None, path, at,
                        f"not enforced: compactor.retention_enabled is not true, so Loki keeps logs forever; "
                        f"{fmt_days(days)} days would apply once it is")
        return
    if days == 0:
        yield Retention("loki", "limits_config", f"retention_period = {period}", None, path, at,
                        "0 disables deletion")
        return
    yield Retention("loki", "limits_config", f"retention_period = {period} ({fmt_days(days)} days) with "
                    "compactor.retention_enabled = true", days, path, at)


# --------------------------------------------------------------------------- ILM / ISM
def lifecycle_retention(doc: Any, path: str) -> Iterator[Retention]:
    """Elasticsearch ILM ``phases.delete.min_age`` or OpenSearch ISM delete transition ``min_index_age``."""
    if not isinstance(doc, dict):
        return
    policy = doc.get("policy", doc)
    if not isinstance(policy, dict):
        return
    phases = policy.get("phases")
    if isinstance(phases, dict):
        delete = phases.get("delete")
        if isinstance(delete, dict) and "delete" in (delete.get("actions") or {}):
            age = delete.get("min_age", "0ms")
            days = duration_days(age)
            if days is not None:
                yield Retention("elasticsearch-ilm", "ILM policy", f"phases.delete.min_age = {age}", days, path,
                                line_of(delete, "min_age", line_of(phases, "delete")))
        else:
            yield Retention("elasticsearch-ilm", "ILM policy", "no delete phase", None, path,
                            line_of(policy, "phases"), "indices are kept until deleted by hand")
        return
    states = policy.get("states")
    if isinstance(states, list) and states:
        deleting = {str(s.get("name")) for s in states if isinstance(s, dict)
                    and any(isinstance(a, dict) and "delete" in a for a in as_list(s.get("actions")))}
        found = False
        for s in states:
            if not isinstance(s, dict):
                continue
            for t in as_list(s.get("transitions")):
                if isinstance(t, dict) and str(t.get("state_name")) in deleting:
                    age = dig(t, "conditions", "min_index_age")
                    days = duration_days(age)
                    if days is not None:
                        found = True
                        yield Retention("opensearch-ism", "ISM policy",
                                        f"transition to {t.get('state_name')} at min_index_age = {age}", days, path,
                                        line_of(t.get("conditions"), "min_index_age", line_of(t)))
        if not found and not deleting:
            yield Retention("opensearch-ism", "ISM policy", "no delete state", None, path, line_of(policy, "states"),
                            "indices are kept until deleted by hand")


def is_lifecycle_policy(doc: Any) -> bool:
    """An ILM (``phases``) or ISM (``states``) policy body."""
    if not isinstance(doc, dict):
        return False
    policy = doc.get("policy", doc)
    if not isinstance(policy, dict):
        return False
    phases = policy.get("phases")
    if isinstance(phases, dict) and any(k in phases for k in ("hot", "warm", "cold", "frozen", "delete")):
        return True
    return isinstance(policy.get("states"), list) and "default_state" in policy


# --------------------------------------------------------------------------- Fluent Bit
@dataclass(frozen=True)
class FluentSection:
    """A classic-mode section (``[OUTPUT]``) with its keys (lower-cased) and their lines."""

    name: str
    line: int
    keys: dict[str, str] = field(default_factory=dict)
    lines: dict[str, int] = field(default_factory=dict)


def parse_fluentbit_classic(text: str, first_line: int = 1) -> list[FluentSection]:
    """Sections of a Fluent Bit classic configuration (``[SECTION]`` headers, indented ``key value`` lines)."""
    sections: list[FluentSection] = []
    current: FluentSection | None = None
    for i, raw in enumerate(text.splitlines()):
        line = raw.strip()
        no = first_line + i
        if not line or line.startswith("#") or line.startswith("@"):
            continue
        m = re.fullmatch(r"\[([A-Za-z_]+)\]", line)
        if m:
            current = FluentSection(m.group(1).upper(), no)
            sections.append(current)
            continue
        if current is not None:
            parts = line.split(None, 1)
            key = parts[0].lower()
            current.keys[key] = parts[1].strip() if len(parts) > 1 else ""
            current.lines[key] = no
    return sections


def _cw_output(name: str) -> bool:
    return name.lower() in ("cloudwatch_logs", "cloudwatch")


def fluentbit_classic_retention(text: str, path: str, first_line: int = 1) -> Iterator[Retention]:
    """``log_retention_days`` of the ``cloudwatch_logs`` outputs in classic mode."""
    for s in parse_fluentbit_classic(text, first_line):
        if s.name != "OUTPUT" or not _cw_output(s.keys.get("name", "")):
            continue
        yield from _fluent_output(s.keys, s.lines, s.line, path)


def _fluent_output(keys: dict[str, Any], lines: dict[str, int], line: int, path: str) -> Iterator[Retention]:
    group = str(keys.get("log_group_name", keys.get("log_group_template", "?")))
    value = keys.get("log_retention_days")
    auto = boolish(keys.get("auto_create_group"))
    if value is None:
        if auto:
            yield Retention("fluent-bit", f"cloudwatch_logs output {group}", "log_retention_days not set", None,
                            path, line, "groups created by the plugin never expire")
        return
    days = duration_days(value)
    if days is None or days <= 0:
        return
    note = "" if auto else "applies only to groups the plugin creates (auto_create_group is not on)"
    yield Retention("fluent-bit", f"cloudwatch_logs output {group}", f"log_retention_days = {fmt_days(days)}", days,
                    path, lines.get("log_retention_days", line), note)


def fluentbit_yaml_retention(doc: Any, path: str) -> Iterator[Retention]:
    """The YAML format: ``pipeline: outputs: [{name: cloudwatch_logs, log_retention_days: 90}]``."""
    outputs = dig(doc, "pipeline", "outputs")
    for out in as_list(outputs):
        if isinstance(out, dict) and _cw_output(str(out.get("name", ""))):
            keys = {str(k).lower(): v for k, v in out.items()}
            lines = {str(k).lower(): line_of(out, k) for k in out}
            yield from _fluent_output(keys, lines, line_of(out), path)


def looks_like_fluentbit_classic(text: str) -> bool:
    """Classic-mode text with an ``[OUTPUT]`` section."""
    return re.search(r"^\s*\[OUTPUT\]\s*$", text, re.M | re.I) is not None
