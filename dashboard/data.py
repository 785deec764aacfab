"""The dashboard's reads of the fleet database, on top of the fleet store's own queries.

The store is opened read-only (the fleet store refuses an old schema instead of migrating it) and each connection
is made read-only by the database itself as well: ``PRAGMA query_only`` on SQLite, a read-only session on
PostgreSQL. A bug here can then fail a request, never change a stored scan.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import Engine, event, func, select

from mlposture.dashboard.values import CategoryCell, ControlStatus, RepoRow, evidence_lines
from mlposture.fleet.store import Store, open_store
from mlposture.fleet.store.models import Repository, Scan
from mlposture.fleet.store.queries import ScanSummary, iso, latest_report_ids

MAX_REPORTS_PER_PAGE = 5000


def _read_only(engine: Engine) -> None:
    """Every new connection refuses writes; pooled connections made before are dropped."""
    dialect = engine.dialect.name

    @event.listens_for(engine, "connect")
    def _connect(dbapi_connection: Any, _record: Any) -> None:
        cursor = dbapi_connection.cursor()
        if dialect == "sqlite":
            cursor.execute("PRAGMA query_only=ON")
        elif dialect == "postgresql":
            cursor.execute("SET SESSION CHARACTERISTICS AS TRANSACTION READ ONLY")
        cursor.close()
        if dialect == "postgresql":
            dbapi_connection.commit()

    engine.dispose()


class FleetData:
    """What the pages and the API read, as dashboard values."""

    def __init__(self, store: Store) -> None:
        self.store = store

    @classmethod
    def open(cls, url: str | None) -> FleetData:
        """Open the database at ``url`` (default: ``MLPOSTURE_DB`` or the fleet's SQLite file) read-only."""
        store = open_store(url, readonly=True)
        _read_only(store.engine)
        return cls(store)

    def close(self) -> None:
        """Release the connections."""
        self.store.engine.dispose()

    def repos(self) -> list[RepoRow]:
        """Every repository with its latest scan, its category scores and its previous score."""
        statuses = self.store.latest_per_repo()
        categories = self._categories()
        previous = self._previous_scores()
        return [RepoRow(status=s.as_dict(), scan_id=s.scan_id, lockml_score=s.lockml_score,
                        lockml_risk=s.lockml_risk, previous_score=previous.get(s.repo),
                        categories=categories.get(s.scan_id, ()) if s.scan_id is not None else ())
                for s in statuses]

    def repo(self, name: str) -> RepoRow | None:
        """One repository's row (None when the name is unknown)."""
        return next((r for r in self.repos() if r.repo == name), None)

    def scans(self, name: str) -> list[ScanSummary]:
        """Every stored scan of a repository, oldest first."""
        return self.store.scans_of(name)

    def report(self, scan_id: int) -> dict[str, Any] | None:
        """The whole JSON report of one scan."""
        report = self.store.report_of(scan_id)
        return report if isinstance(report, dict) else None

    def control_statuses(self, control_id: str) -> list[ControlStatus]:
        """Every repository's status for one control in its latest scan, with that scan's evidence for it."""
        rows = self.store.control_statuses(control_id)
        ids = [r.scan_id for r in rows][:MAX_REPORTS_PER_PAGE]
        details: dict[int, tuple[Any, Any, dict[str, Any]]] = {}
        with self.store.session() as session:
            query = select(Scan.id, Scan.commit, Scan.finished_at, Scan.report).where(Scan.id.in_(ids))
            for scan_id, commit, finished, report in session.execute(query):
                control = next((c for c in (report or {}).get("controls") or ()
                                if isinstance(c, dict) and c.get("id") == control_id), {})
                details[scan_id] = (commit, finished, control)
        out = []
        for r in rows:
            commit, finished, control = details.get(r.scan_id, (None, None, {}))
            out.append(ControlStatus(repo=r.repo, status=r.status, source=r.source, scan_id=r.scan_id,
                                     commit=commit, scanned_at=iso(finished), evidence=evidence_lines(control),
                                     reason=str(control.get("reason") or "")))
        return out

    def control_counts(self) -> dict[str, dict[str, int]]:
        """control id -> status -> repositories with that status in their latest scan."""
        return self.store.control_counts(("pass", "partial", "fail", "unverified", "not_applicable"))

    def _categories(self) -> dict[int, tuple[CategoryCell, ...]]:
        """scan id -> category cells, for every repository's latest scan with a report.

        Read from the report's own ``categories`` (a JSON path the database evaluates), so the heatmap shows
        exactly what the scan computed, whatever catalog it ran with.
        """
        ids = latest_report_ids()
        query = select(Scan.id, Scan.report["categories"]).join(ids, ids.c.id == Scan.id)
        out: dict[int, tuple[CategoryCell, ...]] = {}
        with self.store.session() as session:
            for scan_id, cats in session.execute(query):
                out[scan_id] = tuple(
                    CategoryCell(str(c.get("id") or ""), str(c.get("name") or ""), _num(c.get("score")),
                                 c.get("risk") if isinstance(c.get("risk"), str) else None)
                    for c in (cats if isinstance(cats, list) else []) if isinstance(c, dict))
        return out

    def _previous_scores(self) -> dict[str, float]:
        """repo -> score of the scan before its latest one with a report."""
        order = (Scan.finished_at.desc(), Scan.id.desc())
        ranked = (select(Scan.repository_id, Scan.score,
                         func.row_number().over(partition_by=Scan.repository_id, order_by=order).label("rank"))
                  .where(Scan.error.is_(None)).subquery())
        query = (select(Repository.name, ranked.c.score).join(ranked, ranked.c.repository_id == Repository.id)
                 .where(ranked.c.rank == 2))
        with self.store.session() as session:
            return {name: float(score) for name, score in session.execute(query) if score is not None}


def _num(value: Any) -> float | None:
    return float(value) if isinstance(value, (int, float)) and not isinstance(value, bool) else None

