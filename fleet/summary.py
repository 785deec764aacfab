"""The organisation summary of ``fleet report``, computed from the latest scan of every repository.

Sections: repositories by risk; the controls most often failing, then most often unverified; dangerous model
artifacts by repository; the mean score per ISO week over every stored scan; repositories whose score dropped
between their two latest scans.
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from dataclasses import asdict, dataclass
from typing import Any

from mlposture.fleet.store import RepoStatus, Store

RISK_ORDER = ("Critical Risk", "High Risk", "Medium Risk", "Low Risk", "Secure")
TOP_CONTROLS = 20


@dataclass(frozen=True)
class RiskGroup:
    """The repositories at one risk level."""

    risk: str
    repos: tuple[str, ...]


@dataclass(frozen=True)
class ControlGap:
    """A control failing or unverified in some repositories."""

    control: str
    title: str
    severity: str
    fail: int
    unverified: int


@dataclass(frozen=True)
class Artifacts:
    """A repository's dangerous model artifacts."""

    repo: str
    paths: tuple[str, ...]


@dataclass(frozen=True)
class Week:
    """Mean score of the scans finished in one ISO week."""

    week: str
    mean_score: float
    scans: int


@dataclass(frozen=True)
class Drop:
    """A repository whose latest score is below the previous one."""

    repo: str
    previous_score: float
    score: float
    previous_commit: str | None
    commit: str | None
    previous_scanned_at: str | None
    scanned_at: str | None


@dataclass(frozen=True)
class FleetSummary:
    """Everything ``fleet report`` shows."""

    repositories: int
    scanned: int
    failing: tuple[str, ...]  # repositories whose latest attempt failed
    by_risk: tuple[RiskGroup, ...]
    controls: tuple[ControlGap, ...]
    artifacts: tuple[Artifacts, ...]
    weeks: tuple[Week, ...]
    drops: tuple[Drop, ...]

    def as_dict(self) -> dict[str, Any]:
        """Plain data for JSON."""
        return asdict(self)


def _control_info() -> dict[str, tuple[str, str]]:
    """id -> (title, severity) from the built-in catalog (ids of other catalogs show without a title)."""
    from mlposture.scanner.catalog import load_catalog

    return {c.id: (c.title, c.severity.value) for c in load_catalog()}


def _by_risk(statuses: list[RepoStatus]) -> tuple[RiskGroup, ...]:
    groups: dict[str, list[str]] = defaultdict(list)
    for row in statuses:
        groups[row.risk or "not scanned"].append(row.repo)
    order = [r for r in RISK_ORDER if r in groups] + sorted(r for r in groups if r not in RISK_ORDER)
    return tuple(RiskGroup(r, tuple(groups[r])) for r in order)


def _weeks(store: Store) -> tuple[Week, ...]:
    sums: dict[str, list[float]] = defaultdict(list)
    for point in store.score_points():
        when = point.finished_at if point.finished_at.tzinfo else point.finished_at.replace(tzinfo=dt.timezone.utc)
        year, week, _ = when.astimezone(dt.timezone.utc).isocalendar()
        sums[f"{year}-W{week:02d}"].append(point.score)
    return tuple(Week(w, round(sum(v) / len(v), 1), len(v)) for w, v in sorted(sums.items()))


def build_summary(store: Store) -> FleetSummary:
    """Compute the summary (a few grouped queries; the JSON reports are not loaded)."""
    statuses = store.latest_per_repo()
    info = _control_info()
    counts = store.control_counts()
    gaps = [ControlGap(cid, *info.get(cid, ("", "")), by.get("fail", 0), by.get("unverified", 0))
            for cid, by in counts.items()]
    gaps.sort(key=lambda g: (-g.fail, -g.unverified, g.control))  # a failing control before an unanswered one
    artifacts: dict[str, list[str]] = defaultdict(list)
    for row in store.dangerous_artifacts():
        artifacts[row.repo].append(row.path)
    drops = [Drop(repo, prev.score, last.score, prev.commit, last.commit, prev.finished_at, last.finished_at)
             for repo, prev, last in store.previous_and_latest()
             if prev.score is not None and last.score is not None and last.score < prev.score]
    drops.sort(key=lambda d: (d.score - d.previous_score, d.repo))
    return FleetSummary(
        repositories=len(statuses),
        scanned=sum(1 for s in statuses if s.scan_id is not None),
        failing=tuple(s.repo for s in statuses if s.error is not None),
        by_risk=_by_risk(statuses),
        controls=tuple(gaps[:TOP_CONTROLS]),
        artifacts=tuple(Artifacts(repo, tuple(paths)) for repo, paths in sorted(artifacts.items())),
        weeks=_weeks(store),
        drops=tuple(drops),
    )
