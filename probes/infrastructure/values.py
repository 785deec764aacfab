"""Small value readers shared by every format: durations, TLS versions, booleans, public-access words."""

from __future__ import annotations

import re
from typing import Any

_DURATION_PART = re.compile(r"(?<![\d.])(\d{1,18}(?:\.\d{1,18})?)\s*(ms|s|m|h|d|w|y)", re.IGNORECASE)
_UNIT_DAYS = {"ms": 1 / 86_400_000, "s": 1 / 86400, "m": 1 / 1440, "h": 1 / 24, "d": 1.0, "w": 7.0, "y": 365.0}


def duration_days(value: Any) -> float | None:
    """Days in a Prometheus/Go/Elasticsearch duration (``2160h``, ``90d``, ``1y``, ``26w``, ``4320h0m0s``).

    A bare number is read as days. None when the text is not a duration.
    """
    if isinstance(value, bool) or value is None:
        return None
    if isinstance(value, (int, float)):
        return float(value)
    text = str(value).strip().lower()
    if not text:
        return None
    if re.fullmatch(r"\d+(\.\d+)?", text):
        return float(text)
    pos = 0
    total = 0.0
    for m in _DURATION_PART.finditer(text):
        if m.start() != pos:
            return None
        total += float(m.group(1)) * _UNIT_DAYS[m.group(2).lower()]
        pos = m.end()
    return total if pos == len(text) and pos > 0 else None


def fmt_days(days: float) -> str:
    """``14`` for whole days, ``0.5`` otherwise."""
    return f"{days:g}"


def tls_minimum(value: str) -> tuple[int, int] | None:
    """The lowest TLS version a policy or setting allows, as ``(1, 2)``; None when the text names none.

    Reads ``TLS1_2``, ``TLS_1_0``, ``1.2``, ``TLSv1.2_2021``, ``Policy-Min-TLS-1-2-2019-07``, AWS ELB policy names
    (``ELBSecurityPolicy-TLS13-1-2-2021-06`` allows 1.2; ``ELBSecurityPolicy-2016-08`` allows 1.0).
    """
    text = value.strip()
    low = text.lower()
    if not low:
        return None
    if low.startswith("elbsecuritypolicy"):
        m = re.search(r"tls13-1-(\d)", low)
        if m:
            return (1, int(m.group(1)))
        if "tls13-1-3" in low:
            return (1, 3)
        m = re.search(r"tls-1-(\d)", low)
        if m:
            return (1, int(m.group(1)))
        m = re.search(r"fs-1-(\d)", low)
        if m:
            return (1, int(m.group(1)))
        return (1, 0)  # ELBSecurityPolicy-2016-08, -2015-05, -FS-2018-06 accept TLS 1.0
    if low.startswith("sslv3") or low == "ssl3":
        return (0, 3)
    m = re.search(r"tls\s*v?[-_ ]?1[._-]?(\d)(?!\d)", low)
    if m:
        return (1, int(m.group(1)))
    if re.search(r"tls\s*v?1(?![.\d])", low):  # TLSv1, TLSv1_2016 (CloudFront): TLS 1.0
        return (1, 0)
    m = re.fullmatch(r"1[._](\d)", low)
    if m:
        return (1, int(m.group(1)))
    return None


def ssl_protocols_minimum(value: str) -> tuple[int, int] | None:
    """Lowest version in an nginx-style protocol list (``TLSv1 TLSv1.1 TLSv1.2``)."""
    found: list[tuple[int, int]] = []
    for token in re.split(r"[\s,:]+", value):
        t = token.strip().lower()
        if not t:
            continue
        if t in ("sslv2", "sslv3"):
            found.append((0, int(t[-1])))
        elif t == "tlsv1":
            found.append((1, 0))
        else:
            m = re.fullmatch(r"tlsv1\.(\d)", t)
            if m:
                found.append((1, int(m.group(1))))
    return min(found) if found else None


def tls_label(version: tuple[int, int]) -> str:
    """``TLS 1.2`` (``SSL 3`` below TLS)."""
    return f"SSL {version[1]}" if version[0] == 0 else f"TLS 1.{version[1]}"


def boolish(value: Any) -> bool | None:
    """YAML/HCL/CFN booleans, including ``"true"``, ``"On"`` (Fluent Bit) and ``"Enabled"``."""
    if isinstance(value, bool):
        return value
    if isinstance(value, str):
        low = value.strip().lower()
        if low in ("true", "on", "yes", "enabled", "1"):
            return True
        if low in ("false", "off", "no", "disabled", "0"):
            return False
    return None


PUBLIC_ACLS = frozenset({"public-read", "public-read-write", "publicread", "publicreadwrite"})
PUBLIC_MEMBERS = ("allusers", "allauthenticatedusers")
LOOPBACK = re.compile(r"^(localhost|127\.\d+\.\d+\.\d+|0\.0\.0\.0|\[::1\]|::1|host\.docker\.internal)$", re.I)
