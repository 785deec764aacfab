"""Raw facts about a serving stack, produced by the parsers and judged by :mod:`mlposture.probes.serving.judge`.

The parsers (Python handlers, nginx, gateways, policy XML) only say what they saw and where; whether a fact
ticks or fails a control is decided in one place, so that every format is judged by the same rules.
"""

from __future__ import annotations

import enum
import re
from dataclasses import dataclass, field


class KeyKind(str, enum.Enum):
    """What a rate limit counts requests by: the catalog asks for a per-consumer key."""

    CONSUMER = "consumer"  # API key, user, credential, subscription
    IP = "ip"
    GLOBAL = "global"  # one bucket for everybody (Envoy local rate limit, nginx zone keyed on a constant)
    UNKNOWN = "unknown"


@dataclass(frozen=True)
class Scope:
    """Where a fact applies: everywhere, below URL prefixes, or on named routes (``Route.ident``)."""

    kind: str = "all"  # all | prefix | route
    values: tuple[str, ...] = ()

    @staticmethod
    def everywhere() -> Scope:
        """Scope covering every route behind the component."""
        return Scope("all")

    def covers(self, route: Route) -> bool:
        """True when this scope includes the route."""
        if self.kind == "all":
            return True
        if self.kind == "route":
            return route.ident in self.values
        return any(_prefix_matches(p, route.url) for p in self.values)


def _prefix_matches(prefix: str, url: str) -> bool:
    if prefix.startswith("="):
        return url.rstrip("/") == prefix[1:].strip().rstrip("/")
    if prefix.startswith("~"):
        literal = re.sub(r"^[~*\s]+\^?", "", prefix)
        literal = re.split(r"[\\.()\[\]{}*+?|$]", literal, maxsplit=1)[0]
        return bool(literal) and url.startswith(literal)
    p = prefix.lstrip("^~ ").strip()
    if not p or p == "/":
        return True
    if url.startswith(p):
        return True
    # a route template such as /models/{name}/predict is covered by a prefix ending inside a parameter
    return url.rstrip("/") == p.rstrip("/")


@dataclass(frozen=True)
class Window:
    """``count`` requests per ``seconds`` (count unknown when the format does not say)."""

    seconds: int
    count: float | None = None

    def label(self) -> str:
        """Human form: ``5/minute``."""
        unit = {1: "second", 60: "minute", 3600: "hour", 86400: "day", 604800: "week", 2592000: "month",
                2678400: "month", 31536000: "year"}.get(self.seconds, f"{self.seconds}s")
        count = "" if self.count is None else f"{self.count:g}/"
        return f"{count}{unit}"


@dataclass(frozen=True)
class RateLimit:
    """A request-rate limit or a quota, where it was set, and what it counts by."""

    source: str  # nginx, slowapi, kong, ...
    path: str
    line: int
    key: KeyKind
    key_detail: str
    windows: tuple[Window, ...]
    detail: str
    scope: Scope = field(default_factory=Scope.everywhere)
    quota: bool = False  # a budget (Azure APIM quota-by-key, usage plan) rather than a rate


@dataclass(frozen=True)
class AuthFact:
    """Authentication (or its explicit absence, ``ok=False``) in front of some routes."""

    source: str
    path: str
    line: int
    detail: str
    scope: Scope = field(default_factory=Scope.everywhere)
    ok: bool = True


@dataclass(frozen=True)
class Guard:
    """A resource guard for INF-10 (body size, timeout, connection cap, autoscaling bound), or its removal."""

    kind: str  # body-size | timeout | connections | autoscaling
    path: str
    line: int
    detail: str
    ok: bool = True


@dataclass(frozen=True)
class LogFact:
    """Request logging seen in a config (for INF-08; retention is judged elsewhere)."""

    path: str
    line: int
    detail: str
    ok: bool = True


@dataclass(frozen=True)
class Route:
    """One HTTP handler found in Python code, with what its code shows."""

    framework: str  # fastapi | flask | drf | django
    method: str
    url: str
    handler: str
    path: str
    line: int
    is_model: bool
    model_call: str = ""
    auth: tuple[str, ...] = ()  # descriptions of what protects it
    auth_denied: str = ""  # explicit anonymous access (AllowAny), with the deciding value
    auth_line: int = 0
    validation: str = "none"  # validated | typed | raw | none
    validation_detail: str = ""
    validation_line: int = 0
    output: str = "none"  # exposes | minimised | none
    output_detail: str = ""
    output_line: int = 0
    output_path: str = ""
    limits: tuple[RateLimit, ...] = ()
    exempt: bool = False  # excluded from default limits (slowapi/flask-limiter ``exempt``)

    @property
    def ident(self) -> str:
        """Stable identity used by route scopes."""
        return f"{self.path}:{self.handler}:{self.url}:{self.method}"

    def label(self) -> str:
        """``POST /predict (app/main.py:42)``."""
        return f"{self.method} {self.url} ({self.path}:{self.line})"


@dataclass
class Facts:
    """Everything the parsers gathered, per kind."""

    routes: list[Route] = field(default_factory=list)
    limits: list[RateLimit] = field(default_factory=list)
    auth: list[AuthFact] = field(default_factory=list)
    guards: list[Guard] = field(default_factory=list)
    logs: list[LogFact] = field(default_factory=list)
    validation: list[tuple[str, int, str]] = field(default_factory=list)  # payload caps seen in configs

    def extend(self, other: Facts) -> None:
        """Merge another parser's facts into this one."""
        self.routes.extend(other.routes)
        self.limits.extend(other.limits)
        self.auth.extend(other.auth)
        self.guards.extend(other.guards)
        self.logs.extend(other.logs)
        self.validation.extend(other.validation)


UNITS = {
    "s": 1, "sec": 1, "second": 1, "seconds": 1,
    "m": 60, "min": 60, "minute": 60, "minutes": 60,
    "h": 3600, "hour": 3600, "hours": 3600,
    "d": 86400, "day": 86400, "days": 86400,
    "w": 604800, "week": 604800, "weeks": 604800,
    "month": 2592000, "months": 2592000,
    "y": 31536000, "year": 31536000, "years": 31536000,
}

_LIMIT_ITEM = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(?:/|per)\s*(\d+)?\s*([a-zA-Z]+)\s*$")


def parse_limit_string(text: str, drf: bool = False) -> tuple[Window, ...]:
    """Windows of a limits-library string (``"5/minute; 100 per day"``) or a DRF/django-ratelimit rate.

    DRF reads only the first letter of the period (``100/day``, ``5/m``); django-ratelimit allows
    ``5/10m``. Unknown items are skipped: the caller reports an empty result. With ``drf`` the period is read
    the way DRF's ``SimpleRateThrottle.parse_rate`` reads it, by its first letter only: ``"1000/month"`` is
    1000 per *minute* there.
    """
    out: list[Window] = []
    for item in re.split(r"[;,]", text[:500]):
        m = _LIMIT_ITEM.match(item)
        if not m:
            m2 = re.match(r"^\s*(\d+)\s*/\s*(\d+)([smhd])\s*$", item)
            if m2:
                out.append(Window(int(m2.group(2)) * UNITS[m2.group(3)], float(m2.group(1))))
            continue
        count, mult, unit = float(m.group(1)), int(m.group(2) or 1), m.group(3).lower()
        seconds = None if drf else UNITS.get(unit)
        if seconds is None and unit[:1] in "smhd":
            seconds = UNITS[unit[:1]]  # DRF: only the first letter counts
        if seconds is None:
            continue
        if drf:
            mult = 1
        out.append(Window(seconds * mult, count))
    return tuple(out)
