"""Reading the fleet database: the latest scan of every repository, a repository's history, organisation facts.

"Latest" is by the time a scan finished (the report's ``generated_at`` for imported reports), then by insertion,
so importing an old report never hides a newer scan. Values (score, risk...) come from the latest scan that
produced a report; a newer failed attempt shows as ``error`` beside them. The JSON report column is loaded only
when asked for (:meth:`StoreQueries.report_of`): it is by far the largest.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from contextlib import AbstractContextManager
from dataclasses import asdict, dataclass
from typing import Any

from sqlalchemy import ColumnElement, Subquery, func, select
from sqlalchemy.orm import Session, aliased

from mlposture.fleet.store.models import ControlRow, FindingRow, Repository, Scan

STATUS_FIELDS = ("repo", "source", "commit", "score", "risk", "coverage", "gate_passed", "dangerous_artifacts",
                 "scans", "scanned_at", "error")


def iso(value: dt.datetime | None) -> str | None:
    """UTC time as ``YYYY-MM-DDTHH:MM:SSZ`` (SQLite returns naive values; they were stored as UTC)."""
    if value is None:
        return None
    if value.tzinfo is not None:
        value = value.astimezone(dt.timezone.utc).replace(tzinfo=None)
    return value.replace(microsecond=0).isoformat() + "Z"


@dataclass(frozen=True)
class RepoStatus:
    """One row of ``fleet status``: a repository and its latest scan."""

    repo: str
    source: str
    commit: str | None
    score: float | None
    risk: str | None
    coverage: float | None
    gate_passed: bool | None
    dangerous_artifacts: int | None
    scans: int
    scanned_at: str | None
    error: str | None
    scan_id: int | None  # the latest scan with a report (None when every attempt failed)
    lockml_score: int | None
    lockml_risk: str | None

    def as_dict(self) -> dict[str, Any]:
        """The public fields, in the documented order (the JSON of ``fleet status`` and ``/api/repos``)."""
        return {name: getattr(self, name) for name in STATUS_FIELDS}


@dataclass(frozen=True)
class ScanSummary:
    """One stored scan without its report."""

    id: int
    repo: str
    origin: str
    source: str
    ref: str | None
    commit: str | None
    started_at: str | None
    finished_at: str | None
    tool_version: str | None
    catalog_digest: str | None
    score: float | None
    risk: str | None
    coverage: float | None
    lockml_score: int | None
    lockml_risk: str | None
    gate_passed: bool | None
    dangerous_artifacts: int | None
    error: str | None
    attested: bool

    def as_dict(self) -> dict[str, Any]:
        """Plain data for JSON."""
        return asdict(self)


@dataclass(frozen=True)
class ControlStatus:
    """One repository's status for one control in its latest scan."""

    repo: str
    status: str
    source: str
    scan_id: int


@dataclass(frozen=True)
class ArtifactRow:
    """A dangerous model artifact (critical serialization finding) in a repository's latest scan."""

    repo: str
    path: str
    rule: str


@dataclass(frozen=True)
class ScorePoint:
    """A scan's score at a time (every scan with a report)."""

    repo: str
    finished_at: dt.datetime
    score: float


def _ranked(only_reports: bool) -> Subquery:
    """(repository_id, scan id, rank): rank 1 is the newest scan of each repository."""
    order = (Scan.finished_at.desc(), Scan.id.desc())
    query = select(Scan.repository_id, Scan.id,
                   func.row_number().over(partition_by=Scan.repository_id, order_by=order).label("rank"))
    if only_reports:
        query = query.where(Scan.error.is_(None))
    return query.subquery()


def latest_report_ids() -> Subquery:
    """(repository_id, id) of every repository's latest scan with a report."""
    ranked = _ranked(True)
    return select(ranked.c.repository_id, ranked.c.id).where(ranked.c.rank == 1).subquery()


class StoreQueries:
    """Read methods of the store (mixed into :class:`mlposture.fleet.store.Store`)."""

    def session(self) -> AbstractContextManager[Session]:  # pragma: no cover - provided by Store
        raise NotImplementedError

    def latest_per_repo(self) -> list[RepoStatus]:
        """One :class:`RepoStatus` per repository, sorted by name."""
        ok_ids, last_ids = latest_report_ids(), _ranked(False)
        ok, last = aliased(Scan), aliased(Scan)
        counts = select(Scan.repository_id, func.count(Scan.id).label("n")).group_by(Scan.repository_id).subquery()
        query = (
            select(Repository.name, Repository.source, ok.id, ok.commit, ok.score, ok.risk, ok.coverage,
                   ok.gate_passed, ok.dangerous_artifacts, ok.finished_at, ok.lockml_score, ok.lockml_risk,
                   last.id, last.error, last.finished_at, counts.c.n)
            .outerjoin(ok_ids, ok_ids.c.repository_id == Repository.id)
            .outerjoin(ok, ok.id == ok_ids.c.id)
            .outerjoin(last_ids, (last_ids.c.repository_id == Repository.id) & (last_ids.c.rank == 1))
            .outerjoin(last, last.id == last_ids.c.id)
            .outerjoin(counts, counts.c.repository_id == Repository.id)
            .order_by(Repository.name)
        )
        rows = []
        with self.session() as session:
            for (name, source, ok_id, commit, score, risk, coverage, gate, dangerous, ok_at, lockml, lockml_risk,
                 last_id, last_error, last_at, n) in session.execute(query):
                failed_last = last_id is not None and last_id != ok_id
                rows.append(RepoStatus(
                    repo=name, source=source, commit=commit, score=score, risk=risk, coverage=coverage,
                    gate_passed=gate, dangerous_artifacts=dangerous, scans=int(n or 0),
                    scanned_at=iso(ok_at if ok_id is not None else last_at),
                    error=last_error if failed_last else None, scan_id=ok_id, lockml_score=lockml,
                    lockml_risk=lockml_risk))
        return rows

    def scans_of(self, repo: str) -> list[ScanSummary]:
        """Every stored scan of the repository named ``repo``, oldest first (empty when unknown)."""
        return self._summaries(Repository.name == repo)

    def scan(self, scan_id: int) -> ScanSummary | None:
        """One stored scan without its report."""
        found = self._summaries(Scan.id == scan_id)
        return found[0] if found else None

    def _summaries(self, where: ColumnElement[bool]) -> list[ScanSummary]:
        query = (
            select(Scan.id, Repository.name, Scan.origin, Scan.source, Scan.ref, Scan.commit, Scan.started_at,
                   Scan.finished_at, Scan.tool_version, Scan.catalog_digest, Scan.score, Scan.risk, Scan.coverage,
                   Scan.lockml_score, Scan.lockml_risk, Scan.gate_passed, Scan.dangerous_artifacts, Scan.error,
                   Scan.attestation.is_not(None))
            .join(Repository, Repository.id == Scan.repository_id).where(where)
            .order_by(Scan.finished_at, Scan.id)
        )
        with self.session() as session:
            return [ScanSummary(
                id=r[0], repo=r[1], origin=r[2], source=r[3], ref=r[4], commit=r[5], started_at=iso(r[6]),
                finished_at=iso(r[7]), tool_version=r[8], catalog_digest=r[9], score=r[10], risk=r[11],
                coverage=r[12], lockml_score=r[13], lockml_risk=r[14], gate_passed=r[15], dangerous_artifacts=r[16],
                error=r[17], attested=bool(r[18])) for r in session.execute(query)]

    def report_of(self, scan_id: int) -> dict[str, Any] | None:
        """The whole JSON report of a scan (None for a failed attempt or an unknown id)."""
        with self.session() as session:
            return session.scalar(select(Scan.report).where(Scan.id == scan_id))

    def attestation_of(self, scan_id: int) -> str | None:
        """The signed audit record stored with a scan, if any."""
        with self.session() as session:
            return session.scalar(select(Scan.attestation).where(Scan.id == scan_id))

    def control_statuses(self, control_id: str) -> list[ControlStatus]:
        """Every repository's status for ``control_id`` in its latest scan with a report, sorted by name."""
        ids = latest_report_ids()
        query = (
            select(Repository.name, ControlRow.status, ControlRow.source, ControlRow.scan_id)
            .join(ids, ids.c.repository_id == Repository.id)
            .join(ControlRow, ControlRow.scan_id == ids.c.id)
            .where(ControlRow.control_id == control_id)
            .order_by(Repository.name)
        )
        with self.session() as session:
            return [ControlStatus(*row) for row in session.execute(query)]

    def control_counts(self, statuses: tuple[str, ...] = ("fail", "unverified")) -> dict[str, dict[str, int]]:
        """control id -> status -> how many repositories have it in their latest scan."""
        ids = latest_report_ids()
        query = (
            select(ControlRow.control_id, ControlRow.status, func.count())
            .join(ids, ids.c.id == ControlRow.scan_id)
            .where(ControlRow.status.in_(statuses))
            .group_by(ControlRow.control_id, ControlRow.status)
        )
        counts: dict[str, dict[str, int]] = {}
        with self.session() as session:
            for control_id, status, n in session.execute(query):
                counts.setdefault(control_id, {})[status] = int(n)
        return counts

    def dangerous_artifacts(self) -> list[ArtifactRow]:
        """Dangerous model artifacts of every repository's latest scan, by repository then path."""
        ids = latest_report_ids()
        query = (
            select(Repository.name, FindingRow.path, func.min(FindingRow.rule))
            .join(ids, ids.c.repository_id == Repository.id)
            .join(FindingRow, FindingRow.scan_id == ids.c.id)
            .where(FindingRow.rule.startswith("serialization."), FindingRow.severity == "critical")
            .group_by(Repository.name, FindingRow.path)
            .order_by(Repository.name, FindingRow.path)
        )
        with self.session() as session:
            return [ArtifactRow(*row) for row in session.execute(query)]

    def score_points(self) -> Iterator[ScorePoint]:
        """Every scan with a report: repository, time, score (oldest first)."""
        query = (select(Repository.name, Scan.finished_at, Scan.score)
                 .join(Repository, Repository.id == Scan.repository_id)
                 .where(Scan.error.is_(None), Scan.score.is_not(None))
                 .order_by(Scan.finished_at, Scan.id))
        with self.session() as session:
            for name, finished, score in session.execute(query):
                if score is not None:
                    yield ScorePoint(name, finished, float(score))

    def previous_and_latest(self) -> list[tuple[str, ScanSummary, ScanSummary]]:
        """(repo, previous, latest) for every repository with at least two scans that produced a report."""
        ranked = _ranked(True)
        pairs = select(ranked.c.id).where(ranked.c.rank <= 2)
        by_repo: dict[str, list[ScanSummary]] = {}
        for summary in self._summaries(Scan.id.in_(pairs)):
            by_repo.setdefault(summary.repo, []).append(summary)
        return [(repo, scans[0], scans[1]) for repo, scans in sorted(by_repo.items()) if len(scans) == 2]
