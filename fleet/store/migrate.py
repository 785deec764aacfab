"""Bring a fleet database to the newest schema with the Alembic migrations shipped in the package.

No ``alembic.ini`` is needed: the configuration is built here and the connection is handed to the migration
environment. On PostgreSQL an advisory lock serialises two fleet runs that open a new database at the same time;
the whole upgrade runs in one transaction there (PostgreSQL's DDL is transactional), so a run that is stopped
half-way leaves the previous revision.
"""

from __future__ import annotations

from importlib import resources

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Connection, Engine, text

from mlposture.fleet.store.engine import WRITE

ADVISORY_LOCK = 0x6D6C7073  # "mlps": any constant shared by every mlposture process


def alembic_config() -> Config:
    """The Alembic configuration pointing at the migrations inside the installed package."""
    config = Config()
    config.set_main_option("script_location", str(resources.files("mlposture.fleet") / "migrations"))
    return config


def head_revision() -> str:
    """The newest revision shipped with this version."""
    head = ScriptDirectory.from_config(alembic_config()).get_current_head()
    if head is None:  # pragma: no cover - the package always ships migrations
        raise RuntimeError("no fleet migrations found in the package")
    return head


def current_revision(connection: Connection) -> str | None:
    """The revision the database is at (None for an empty database)."""
    return MigrationContext.configure(connection).get_current_revision()


def upgrade(engine: Engine, revision: str = "head") -> None:
    """Apply every migration up to ``revision`` (default: the newest) unless the database is already there."""
    target = head_revision() if revision == "head" else revision
    with engine.connect() as probe:
        if current_revision(probe) == target:
            return
    with engine.connect().execution_options(**{WRITE: True}) as connection, connection.begin():
        if connection.dialect.name == "postgresql":
            connection.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": ADVISORY_LOCK})
        if current_revision(connection) == target:  # another process migrated while we waited for the lock
            return
        config = alembic_config()
        config.attributes["connection"] = connection
        command.upgrade(config, revision)
