"""The dashboard's reads of the fleet database, on top of the fleet store's own queries.

The store is opened read-only (the fleet store refuses an old schema instead of migrating it) and each connection
is made read-only by the database itself as well: ``PRAGMA query_only`` on SQLite, a read-only session on
PostgreSQL. A bug here can then fail a request, never change a stored scan.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Engine, Select, Text, cast, event, func, select, true
from sqlalchemy.dialects.postgresql import JSONPATH
from sqlalchemy.orm import Session, aliased

from mlposture.dashboard.values import CategoryCell, ControlStatus, RepoRow, evidence_lines
from mlposture.fleet.store import RepoStatus, Store, open_store
from mlposture.fleet.store.facts import SERIALIZATION_PREFIX, catalog_digest
from mlposture.fleet.store.models import ControlRow, FindingRow, Repository, Scan
from mlposture.fleet.store.queries import ScanSummary, iso
from mlposture.scanner.catalog import Catalog, load_catalog
from mlposture.scanner.probe import Severity
from mlposture.scanner.results import STATUS_VALUE
from mlposture.scanner.scoring import CAPPED_RISK, risk_label

MAX_REPORTS_PER_PAGE = 5000
CHUNK = 900  # ids per IN (...) list: well under every backend's limit on bound parameters
STATUS_VALUE_BY_NAME = {status.value: value for status, value in STATUS_VALUE.items()}  # not_applicable: absent
UNDER_CAP = ("Secure", "Low Risk", "Medium Risk")  # a failing critical control caps a category at High Risk


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


@dataclass(frozen=True)
class Snapshot:
    """Every repository's latest scan as the overview shows it, and the control counts over those scans."""

    rows: list[RepoRow]
    control_counts: dict[str, dict[str, int]]


def _catalog_digest(catalog: Catalog) -> str:
    """The digest the fleet stores for a scan that ran with exactly this catalog."""
    return catalog_digest([{"id": c.id, "title": c.title, "category": c.category, "severity": c.severity.value,
                            "lockml_id": c.lockml_id, "mappings": c.mappings.as_dict()} for c in catalog])


class FleetData:
    """What the pages and the API read, as dashboard values."""

    def __init__(self, store: Store, catalog: Catalog | None = None) -> None:
        self.store = store
        self.catalog = catalog or load_catalog()
        self.digest = _catalog_digest(self.catalog)
        self.categories = self.catalog.categories
        position = {c.id: i for i, c in enumerate(self.categories)}
        self.weights = {c.id: (position[c.category], c.weight, c.severity is Severity.CRITICAL)
                        for c in self.catalog if c.category in position}

    @classmethod
    def open(cls, url: str | None) -> FleetData:
        """Open the database at ``url`` (default: ``MLPOSTURE_DB`` or the fleet's SQLite file) read-only."""
        store = open_store(url, readonly=True)
        _read_only(store.engine)
        return cls(store)

    def close(self) -> None:
        """Release the connections."""
        self.store.engine.dispose()

    # ------------------------------------------------------------------ the overview and /api/repos
    def statuses(self) -> list[RepoStatus]:
        """One ``fleet status`` row per repository (the objects of ``/api/repos``), sorted by name."""
        with self.store.session() as session:
            return [s for s, _prev in self._statuses(session)]

    def snapshot(self, only: str | None = None) -> Snapshot:
        """Every repository (or the one named ``only``) with its latest scan, category scores and previous score,
        and the control counts over those scans."""
        with self.store.session() as session:
            statuses = self._statuses(session, only)
            ok_ids = [s.scan_id for s, _ in statuses if s.scan_id is not None]
            categories, counts = self._categories(session, ok_ids)
        rows = [RepoRow(status=s.as_dict(), scan_id=s.scan_id, lockml_score=s.lockml_score, lockml_risk=s.lockml_risk,
                        previous_score=previous,
                        categories=categories.get(s.scan_id, ()) if s.scan_id is not None else ())
                for s, previous in statuses]
        return Snapshot(rows, counts)

    def repos(self) -> list[RepoRow]:
        """Every repository with its latest scan, its category scores and its previous score."""
        return self.snapshot().rows

    def repo(self, name: str) -> RepoRow | None:
        """One repository's row (None when the name is unknown)."""
        return next(iter(self.snapshot(only=name).rows), None)

    def _statuses(self, session: Session, only: str | None = None) -> list[tuple[RepoStatus, float | None]]:
        """``fleet status`` rows with the score of the scan before the latest one with a report.

        The same rows as the fleet store's ``latest_per_repo``, found with one index lookup per repository
        (``ix_scans_repository_finished``) instead of a window over every scan, and without reading the scans'
        report column: on SQLite the columns stored after it (``dangerous_artifacts``) cost a read of the whole
        report, so the count of dangerous model files comes from the findings, by the fleet's own definition.
        """
        s = aliased(Scan)
        order = (s.finished_at.desc(), s.id.desc())
        mine = s.repository_id == Repository.id
        ok = select(s.id).where(mine, s.error.is_(None)).order_by(*order).limit(1).scalar_subquery()
        prev = select(s.id).where(mine, s.error.is_(None)).order_by(*order).limit(1).offset(1).scalar_subquery()
        last = select(s.id).where(mine).order_by(*order).limit(1).scalar_subquery()
        count = select(func.count(s.id)).where(mine).scalar_subquery()
        query = select(Repository.name, Repository.source, ok, prev, last, count).order_by(Repository.name)
        if only is not None:
            query = query.where(Repository.name == only)
        heads = session.execute(query).all()
        wanted = {i for row in heads for i in row[2:5] if i is not None}
        scans: dict[int, Any] = {}
        for chunk in _chunks(sorted(wanted)):
            for row in session.execute(select(Scan.id, Scan.commit, Scan.score, Scan.risk, Scan.coverage,
                                              Scan.gate_passed, Scan.finished_at, Scan.lockml_score,
                                              Scan.lockml_risk, Scan.error).where(Scan.id.in_(chunk))):
                scans[row[0]] = row
        dangerous: dict[int, int] = {}
        for chunk in _chunks(sorted({row[2] for row in heads if row[2] is not None})):
            query = (select(FindingRow.scan_id, func.count(func.distinct(FindingRow.path)))
                     .where(FindingRow.scan_id.in_(chunk), FindingRow.rule.startswith(SERIALIZATION_PREFIX),
                            FindingRow.severity == "critical").group_by(FindingRow.scan_id))
            dangerous.update({scan_id: int(n) for scan_id, n in session.execute(query)})
        out = []
        for name, source, ok_id, prev_id, last_id, n in heads:
            good, newest = scans.get(ok_id), scans.get(last_id)
            failed_last = last_id is not None and last_id != ok_id
            before = scans.get(prev_id)
            status = RepoStatus(
                repo=name, source=source, commit=good[1] if good else None, score=good[2] if good else None,
                risk=good[3] if good else None, coverage=good[4] if good else None,
                gate_passed=good[5] if good else None,
                dangerous_artifacts=dangerous.get(ok_id, 0) if good else None, scans=int(n or 0),
                scanned_at=iso(good[6] if good else (newest[6] if newest else None)),
                error=newest[9] if failed_last and newest else None, scan_id=ok_id,
                lockml_score=good[7] if good else None, lockml_risk=good[8] if good else None)
            out.append((status, float(before[2]) if before is not None and before[2] is not None else None))
        return out

    def _categories(self, session: Session, scan_ids: list[int]
                    ) -> tuple[dict[int, tuple[CategoryCell, ...]], dict[str, dict[str, int]]]:
        """Category cells of each scan and, over all of them, control id -> status -> count.

        A scan that ran with the installed catalog (same digest) gets its category scores from its stored control
        statuses and the scanner's own scoring, which is what the scan computed; any other scan's are read from
        its report (a JSON path evaluated by the database), which costs a read of the report.
        """
        statuses: dict[int, list[tuple[str, str]]] = {}
        counts: dict[str, dict[str, int]] = {}
        digests: dict[int, str | None] = {}
        table = ControlRow.__table__.c  # Core columns: 65 rows per scan, no ORM row processing
        connection = session.connection()
        for chunk in _chunks(scan_ids):
            digests.update(session.execute(select(Scan.id, Scan.catalog_digest).where(Scan.id.in_(chunk))).all())
            for scan_id, control_id, status in connection.execute(
                    select(table.scan_id, table.control_id, table.status).where(table.scan_id.in_(chunk))):
                statuses.setdefault(scan_id, []).append((control_id, status))
                per = counts.setdefault(control_id, {})
                per[status] = per.get(status, 0) + 1
        cells: dict[int, tuple[CategoryCell, ...]] = {}
        others = []
        for scan_id in scan_ids:
            if digests.get(scan_id) == self.digest:
                cells[scan_id] = self._scored(statuses.get(scan_id, []))
            else:
                others.append(scan_id)
        for chunk in _chunks(others):
            for scan_id, cats in session.execute(select(Scan.id, Scan.report["categories"]).where(Scan.id.in_(chunk))):
                cells[scan_id] = tuple(
                    CategoryCell(str(c.get("id") or ""), str(c.get("name") or ""), _num(c.get("score")),
                                 c.get("risk") if isinstance(c.get("risk"), str) else None)
                    for c in (cats if isinstance(cats, list) else []) if isinstance(c, dict))
        return cells, counts

    def _scored(self, statuses: list[tuple[str, str]]) -> tuple[CategoryCell, ...]:
        """The scanner's category scores (``scanner.scoring``) from (control id, status) pairs.

        The same sums as ``compute_scores``, over precomputed weights: building a control result per control
        and scan would take most of the overview's time on a large fleet. The tests compare the two.
        """
        n = len(self.categories)
        total, earned, capped = [0.0] * n, [0.0] * n, [False] * n
        for control_id, status in statuses:
            info = self.weights.get(control_id)
            value = STATUS_VALUE_BY_NAME.get(status)
            if info is None or value is None:  # unknown control, not applicable, or not a status
                continue
            index, weight, critical = info
            total[index] += weight
            earned[index] += weight * value
            if critical and status == "fail":
                capped[index] = True
        cells = []
        for i, category in enumerate(self.categories):
            score = round(100.0 * earned[i] / total[i], 1) if total[i] else 100.0
            label = risk_label(score)
            if capped[i] and label in UNDER_CAP:
                label = CAPPED_RISK
            cells.append(CategoryCell(category.id, category.name, score, label))
        return tuple(cells)

    # ------------------------------------------------------------------ one repository, one control
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
            for chunk in _chunks(ids):
                for scan_id, commit, finished, control in session.execute(_control_objects(session, control_id,
                                                                                           chunk)):
                    if isinstance(control, str):  # SQLite hands JSON back as text
                        control = json.loads(control)
                    details[scan_id] = (commit, finished, control if isinstance(control, dict) else {})
        out = []
        for r in rows:
            commit, finished, control = details.get(r.scan_id, (None, None, {}))
            out.append(ControlStatus(repo=r.repo, status=r.status, source=r.source, scan_id=r.scan_id,
                                     commit=commit, scanned_at=iso(finished), evidence=evidence_lines(control),
                                     reason=str(control.get("reason") or "")))
        return out

    def control_counts(self) -> dict[str, dict[str, int]]:
        """control id -> status -> repositories with that status in their latest scan."""
        return self.snapshot().control_counts


def _control_objects(session: Session, control_id: str, scan_ids: list[int]) -> Select[Any]:
    """(scan id, commit, finished, the report's object for ``control_id``) of each scan.

    The database picks the one control out of each report (a JSON path on PostgreSQL, ``json_each`` on SQLite),
    so a page about one control does not move a thousand whole reports into Python.
    """
    if session.get_bind().dialect.name == "postgresql":
        picked = func.jsonb_path_query_first(Scan.report, cast("$.controls[*] ? (@.id == $id)", JSONPATH),
                                             func.jsonb_build_object(cast("id", Text), cast(control_id, Text)))
        return select(Scan.id, Scan.commit, Scan.finished_at, picked).where(Scan.id.in_(scan_ids))
    each = func.json_each(Scan.report, "$.controls").table_valued("value").alias("each")
    return (select(Scan.id, Scan.commit, Scan.finished_at, each.c.value).select_from(Scan).join(each, true())
            .where(Scan.id.in_(scan_ids), func.json_extract(each.c.value, "$.id") == control_id))


def _chunks(ids: list[int], size: int = CHUNK) -> list[list[int]]:
    return [ids[i:i + size] for i in range(0, len(ids), size)]


def _num(value: Any) -> float | None:
    return float(value) if isinstance(value, (int, float)) and not isinstance(value, bool) else None
