"""The fleet store: open (and migrate) a database, record scans and failures, import reports.

Every scan is written in one transaction: the scan row, its control results and its findings appear together or
not at all, so an interrupted run (Ctrl-C, a killed process) never leaves half a scan behind. Reads live in
:mod:`mlposture.fleet.store.queries`.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, select, text
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from mlposture.fleet.store import migrate
from mlposture.fleet.store.engine import WRITE, StoreError, create_store_engine, default_url, masked
from mlposture.fleet.store.facts import ReportError, ReportFacts, read_facts
from mlposture.fleet.store.models import ControlRow, FindingRow, Repository, Scan
from mlposture.fleet.store.names import base_name, canonical_source, unique_name
from mlposture.fleet.store.queries import StoreQueries

REPO_LOCK = 0x6D6C7074  # advisory-lock class of "one repository's scans" on PostgreSQL
MAX_REPORT_BYTES = 64 * 1024 * 1024


def utcnow() -> dt.datetime:
    """Now, in UTC, to the second."""
    return dt.datetime.now(dt.timezone.utc).replace(microsecond=0)


def parse_time(value: str | None) -> dt.datetime | None:
    """An ISO-8601 time (``Z`` allowed) as an aware UTC datetime, or None."""
    if not value:
        return None
    try:
        parsed = dt.datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None
    return parsed.replace(tzinfo=dt.timezone.utc) if parsed.tzinfo is None else parsed.astimezone(dt.timezone.utc)


@dataclass(frozen=True)
class Recorded:
    """What :meth:`Store.record_scan` did: ``stored``, ``unchanged`` (same commit, tool and catalog) or ``error``."""

    repo: str
    outcome: str
    scan_id: int | None


class Store(StoreQueries):
    """A migrated fleet database. Create with :func:`open_store`."""

    def __init__(self, engine: Engine, url: str) -> None:
        self.engine = engine
        self.url = masked(url)

    def close(self) -> None:
        """Release the connections."""
        self.engine.dispose()

    def __enter__(self) -> Store:
        return self

    def __exit__(self, *_exc: object) -> None:
        self.close()

    @contextmanager
    def session(self) -> Iterator[Session]:
        """A session for reading; closed on exit."""
        with Session(self.engine, expire_on_commit=False) as session:
            yield session

    @contextmanager
    def writing(self) -> Iterator[Session]:
        """A session in one writing transaction: committed on success, rolled back on any exception."""
        with Session(self.engine, expire_on_commit=False) as session, session.begin():
            session.connection(execution_options={WRITE: True})
            yield session

    # ------------------------------------------------------------------ repositories
    def repository(self, source: str) -> Repository:
        """The repository of ``source``, created (with a unique name) when new; safe against concurrent writers."""
        canonical = canonical_source(source)
        for _attempt in range(50):
            try:
                with self.writing() as session:
                    found = session.scalar(select(Repository).where(Repository.source == canonical))
                    if found is not None:
                        return found
                    base = base_name(canonical)
                    taken = set(session.scalars(select(Repository.name).where(
                        Repository.name.startswith(base, autoescape=True))))
                    repo = Repository(name=unique_name(base, taken), source=canonical, created_at=utcnow())
                    session.add(repo)
                    session.flush()
                    return repo
            except IntegrityError:  # another run created this source or took the name first: look again
                continue
        raise StoreError(f"could not register repository {canonical} (too many concurrent writers)")

    # ------------------------------------------------------------------ writing
    def record_scan(self, report: dict[str, Any], *, source: str, ref: str | None = None,
                    started_at: dt.datetime | None = None, finished_at: dt.datetime | None = None,
                    force: bool = False, origin: str = "fleet", attestation: str | None = None) -> Recorded:
        """Store one JSON report of ``source``; nothing new when that commit was already scanned alike.

        Raises :class:`ReportError` for a document that is not a schema_version 1 report.
        """
        facts = read_facts(report)
        repo = self.repository(source)
        finished = finished_at or parse_time(report.get("generated_at")) or utcnow()
        with self.writing() as session:
            self._lock_repository(session, repo.id)
            if not force and facts.deduplicable and self._already_scanned(session, repo.id, facts):
                return Recorded(repo.name, "unchanged", None)
            scan = _scan_row(repo, facts, report, origin=origin, source=repo.source, ref=ref or facts.ref,
                             started_at=started_at, finished_at=finished, attestation=attestation)
            session.add(scan)
            session.flush()
            return Recorded(repo.name, "stored", scan.id)

    def record_failure(self, *, source: str, error: str, ref: str | None = None,
                       started_at: dt.datetime | None = None, finished_at: dt.datetime | None = None) -> Recorded:
        """Store a scan attempt that produced no report (clone error, scanner failure, timeout)."""
        repo = self.repository(source)
        with self.writing() as session:
            scan = Scan(repository_id=repo.id, origin="fleet", source=repo.source, ref=ref, started_at=started_at,
                        finished_at=finished_at or utcnow(), error=error[:20_000])
            session.add(scan)
            session.flush()
            return Recorded(repo.name, "error", scan.id)

    def set_attestation(self, scan_id: int, attestation: str) -> None:
        """Attach a signed audit record (one DSSE envelope line) to a stored scan."""
        with self.writing() as session:
            scan = session.get(Scan, scan_id)
            if scan is None:
                raise StoreError(f"no scan with id {scan_id}")
            scan.attestation = attestation

    def import_report(self, path: str | Path, *, source: str | None = None, force: bool = False,
                      attestation: str | None = None) -> Recorded:
        """Add a JSON report written elsewhere (a CI job, another machine) to the database.

        The repository is ``source`` when given, else the report's URL, else its target path when absolute. A signed
        audit record written beside the report (``report.intoto.jsonl`` by ``scan --attest``) is stored with it.
        Raises :class:`ReportError` naming the file when it is unreadable or not a report.
        """
        file = Path(path)
        try:
            if file.stat().st_size > MAX_REPORT_BYTES:
                raise ReportError(f"{file}: larger than {MAX_REPORT_BYTES // (1024 * 1024)} MB")
            report = json.loads(file.read_text("utf-8"))
        except OSError as exc:
            raise ReportError(f"{file}: cannot read: {exc.strerror or exc}") from None
        except (UnicodeDecodeError, ValueError) as exc:
            raise ReportError(f"{file}: not JSON: {exc}") from None
        try:
            facts = read_facts(report)
        except ReportError as exc:
            raise ReportError(f"{file}: {exc}") from None
        if attestation is None:
            attestation = _record_beside(file, report)
        chosen = source or facts.url or (facts.path if Path(facts.path).is_absolute() else None)
        if not chosen:
            raise ReportError(f"{file}: the report does not say which repository it is (target path "
                              f"{facts.path!r}); pass --source")
        return self.record_scan(report, source=chosen, force=force, origin="import", attestation=attestation)

    # ------------------------------------------------------------------ helpers
    @staticmethod
    def _lock_repository(session: Session, repo_id: int) -> None:
        """Serialise writers of one repository on PostgreSQL (SQLite's BEGIN IMMEDIATE already does)."""
        if session.get_bind().dialect.name == "postgresql":
            session.execute(text("SELECT pg_advisory_xact_lock(:cls, :id)"), {"cls": REPO_LOCK, "id": repo_id})

    @staticmethod
    def _already_scanned(session: Session, repo_id: int, facts: ReportFacts) -> bool:
        return session.scalar(select(Scan.id).where(
            Scan.repository_id == repo_id, Scan.commit == facts.commit, Scan.tool_version == facts.tool_version,
            Scan.catalog_digest == facts.catalog_digest, Scan.error.is_(None)).limit(1)) is not None


def _record_beside(file: Path, report: dict[str, Any]) -> str | None:
    """The audit record beside ``file`` when it embeds this very report; a record about another one is refused."""
    from mlposture.scanner.attestation.beside import record_for_report
    from mlposture.scanner.errors import InputError

    try:
        return record_for_report(file, report)
    except InputError as exc:
        raise ReportError(str(exc)) from None


def _scan_row(repo: Repository, facts: ReportFacts, report: dict[str, Any], *, origin: str, source: str,
              ref: str | None, started_at: dt.datetime | None, finished_at: dt.datetime,
              attestation: str | None) -> Scan:
    scan = Scan(
        repository_id=repo.id, origin=origin, source=source, ref=ref, commit=facts.commit, dirty=facts.dirty,
        started_at=started_at, finished_at=finished_at, tool_version=facts.tool_version,
        catalog_digest=facts.catalog_digest, score=facts.score, risk=facts.risk, coverage=facts.coverage,
        lockml_score=facts.lockml_score, lockml_risk=facts.lockml_risk, gate_passed=facts.gate_passed,
        dangerous_artifacts=facts.dangerous_artifacts, report=report, attestation=attestation,
    )
    scan.controls = [ControlRow(control_id=c.control_id, status=c.status, source=c.source) for c in facts.controls]
    scan.findings = [FindingRow(rule=f.rule, severity=f.severity, path=f.path, line=f.line, fingerprint=f.fingerprint)
                     for f in facts.findings]
    return scan


def open_store(url: str | None = None, *, readonly: bool = False) -> Store:
    """Open the fleet database at ``url`` (default: ``MLPOSTURE_DB`` or ``sqlite:///.mlposture/fleet.db``).

    A writable store is migrated to the newest schema first (an empty database gets every table). A ``readonly``
    store (the dashboard) never writes: it refuses a database that is not at the newest schema.
    Raises :class:`StoreError`.
    """
    url = url or default_url()
    engine = create_store_engine(url, readonly=readonly)
    try:
        if readonly:
            with engine.connect() as connection:
                current = migrate.current_revision(connection)
            if current != migrate.head_revision():
                raise StoreError(f"{masked(url)}: schema revision {current or 'none'}, this mlposture needs "
                                 f"{migrate.head_revision()} (run `mlposture fleet migrate --db URL`)")
        else:
            migrate.upgrade(engine)
    except StoreError:
        engine.dispose()
        raise
    except Exception as exc:  # connection refused, authentication, a file that is not a database...
        engine.dispose()
        raise StoreError(f"{masked(url)}: {type(exc).__name__}: {_first_line(exc)}") from None
    return Store(engine, url)


def _first_line(exc: Exception) -> str:
    lines = str(exc).strip().splitlines()
    return lines[0] if lines else ""


__all__ = ["Recorded", "ReportError", "Store", "StoreError", "open_store"]
