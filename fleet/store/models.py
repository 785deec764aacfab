"""The fleet database's tables as SQLAlchemy 2 declarative models.

The schema itself is created and changed only by the Alembic migrations in ``mlposture/fleet/migrations``; these
classes must describe the head revision (``tests/fleet/test_migrations.py`` compares them).
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import JSON, Boolean, DateTime, Float, ForeignKey, Index, Integer, String, Text
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship

REPORT_JSON = JSON().with_variant(JSONB(), "postgresql")  # JSONB on PostgreSQL: queryable and compact


class Base(DeclarativeBase):
    """Declarative base of the fleet schema."""


class Repository(Base):
    """One scanned repository, identified by its source (a masked URL or an absolute local path)."""

    __tablename__ = "repositories"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(255), unique=True)  # last path component of the source, made unique
    source: Mapped[str] = mapped_column(String(2048), unique=True)
    created_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True))

    scans: Mapped[list[Scan]] = relationship(back_populates="repository", order_by="Scan.id")


class Scan(Base):
    """One scan attempt: the report's headline values and the whole JSON report, or the error that stopped it."""

    __tablename__ = "scans"
    __table_args__ = (
        Index("ix_scans_identity", "repository_id", "commit", "tool_version", "catalog_digest"),
        Index("ix_scans_repository_finished", "repository_id", "finished_at"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    repository_id: Mapped[int] = mapped_column(ForeignKey("repositories.id", ondelete="CASCADE"))
    origin: Mapped[str] = mapped_column(String(16))  # "fleet" (scanned by fleet scan) or "import"
    source: Mapped[str] = mapped_column(String(2048))
    ref: Mapped[str | None] = mapped_column(String(255))
    commit: Mapped[str | None] = mapped_column(String(64))
    dirty: Mapped[bool | None] = mapped_column(Boolean)
    started_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True))
    finished_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True))
    tool_version: Mapped[str | None] = mapped_column(String(64))
    catalog_digest: Mapped[str | None] = mapped_column(String(64))
    score: Mapped[float | None] = mapped_column(Float)
    risk: Mapped[str | None] = mapped_column(String(32))
    coverage: Mapped[float | None] = mapped_column(Float)
    lockml_score: Mapped[int | None] = mapped_column(Integer)
    lockml_risk: Mapped[str | None] = mapped_column(String(32))
    gate_passed: Mapped[bool | None] = mapped_column(Boolean)
    dangerous_artifacts: Mapped[int | None] = mapped_column(Integer)
    error: Mapped[str | None] = mapped_column(Text)
    report: Mapped[dict[str, Any] | None] = mapped_column(REPORT_JSON)
    attestation: Mapped[str | None] = mapped_column(Text)

    repository: Mapped[Repository] = relationship(back_populates="scans")
    controls: Mapped[list[ControlRow]] = relationship(back_populates="scan", cascade="all, delete-orphan",
                                                      passive_deletes=True)
    findings: Mapped[list[FindingRow]] = relationship(back_populates="scan", cascade="all, delete-orphan",
                                                      passive_deletes=True)


class ControlRow(Base):
    """The status of one control in one scan."""

    __tablename__ = "control_results"
    __table_args__ = (Index("ix_control_results_control_status", "control_id", "status"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    scan_id: Mapped[int] = mapped_column(ForeignKey("scans.id", ondelete="CASCADE"), index=True)
    control_id: Mapped[str] = mapped_column(String(64))
    status: Mapped[str] = mapped_column(String(32))
    source: Mapped[str] = mapped_column(String(32))  # "evidence" | "answer" | "none"

    scan: Mapped[Scan] = relationship(back_populates="controls")


class FindingRow(Base):
    """One finding of one scan."""

    __tablename__ = "findings"
    __table_args__ = (Index("ix_findings_fingerprint", "fingerprint"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    scan_id: Mapped[int] = mapped_column(ForeignKey("scans.id", ondelete="CASCADE"), index=True)
    rule: Mapped[str] = mapped_column(String(255))
    severity: Mapped[str] = mapped_column(String(16))
    path: Mapped[str] = mapped_column(Text)
    line: Mapped[int | None] = mapped_column(Integer)
    fingerprint: Mapped[str] = mapped_column(String(128))

    scan: Mapped[Scan] = relationship(back_populates="findings")
