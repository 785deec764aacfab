"""Database engines for the fleet store: SQLite (default) or PostgreSQL through psycopg 3.

SQLite is put in WAL mode (a reader such as the dashboard never blocks a fleet run) with foreign keys on, and its
transactions are begun explicitly so that they cover DDL and savepoints like PostgreSQL's do (the pysqlite
driver's own transaction handling does not). Writing transactions (a connection with the execution option
``WRITE`` set) begin with ``BEGIN IMMEDIATE``, so two processes writing one file wait for each other instead of
failing half-way; reading ones take no lock.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, create_engine, event
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError

DEFAULT_URL = "sqlite:///.mlposture/fleet.db"
ENV_VAR = "MLPOSTURE_DB"
SQLITE_BUSY_MS = 60_000
WRITE = "mlposture_write"  # execution option of a connection that will write


class StoreError(Exception):
    """A database URL or database that cannot be used (the message says why)."""


def default_url(environ: Mapping[str, str] = os.environ) -> str:
    """``MLPOSTURE_DB`` when set, else the SQLite file ``.mlposture/fleet.db`` in the current folder."""
    return environ.get(ENV_VAR) or DEFAULT_URL


def masked(url: str) -> str:
    """The URL with its password hidden, for messages."""
    try:
        return make_url(url).render_as_string(hide_password=True)
    except ArgumentError:
        return "<unparsable database URL>"


def sqlite_path(url: str) -> Path | None:
    """The file behind a SQLite URL (None for in-memory databases and other dialects)."""
    parsed = make_url(url)
    if parsed.get_backend_name() != "sqlite" or not parsed.database or parsed.database == ":memory:":
        return None
    return Path(parsed.database)


def create_store_engine(url: str, *, readonly: bool = False) -> Engine:
    """An engine for ``url``; raises :class:`StoreError` for an unsupported URL or a missing driver."""
    try:
        parsed = make_url(url)
    except ArgumentError as exc:
        raise StoreError(f"not a database URL: {exc}") from None
    backend = parsed.get_backend_name()
    if backend not in ("sqlite", "postgresql"):
        raise StoreError(f"{masked(url)}: only sqlite:/// and postgresql+psycopg:// databases are supported")
    if backend == "postgresql" and parsed.get_driver_name() != "psycopg":
        parsed = parsed.set(drivername="postgresql+psycopg")
    if backend == "sqlite":
        path = sqlite_path(url)
        if path is not None:
            if readonly and not path.is_file():
                raise StoreError(f"{masked(url)}: no fleet database there yet (run `mlposture fleet scan` first)")
            path.parent.mkdir(parents=True, exist_ok=True)
        engine = create_engine(parsed, connect_args={"timeout": SQLITE_BUSY_MS / 1000})
        _sqlite_transactions(engine, readonly)
        return engine
    try:
        return create_engine(parsed, pool_pre_ping=True)
    except ImportError as exc:  # pragma: no cover - psycopg is part of the extra
        raise StoreError(f"PostgreSQL needs psycopg 3 (install mlposture[fleet]): {exc}") from None


def _sqlite_transactions(engine: Engine, readonly: bool) -> None:
    @event.listens_for(engine, "connect")
    def _connect(dbapi_connection: Any, _record: Any) -> None:
        dbapi_connection.isolation_level = None  # the driver opens no transaction by itself
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_MS}")
        if not readonly:  # switching the journal mode writes the file header
            cursor.execute("PRAGMA journal_mode=WAL")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _begin(connection: Any) -> None:
        write = connection.get_execution_options().get(WRITE) and not readonly
        connection.exec_driver_sql("BEGIN IMMEDIATE" if write else "BEGIN")
