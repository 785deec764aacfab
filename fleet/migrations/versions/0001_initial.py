"""The first schema: repositories, scans (with the whole JSON report), control results and findings.

Revision ID: 0001
Revises:
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects.postgresql import JSONB

revision = "0001"
down_revision: str | None = None
branch_labels: str | None = None
depends_on: str | None = None


def upgrade() -> None:
    """Create the four tables and their indexes."""
    op.create_table(
        "repositories",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("name", sa.String(255), nullable=False),
        sa.Column("source", sa.String(2048), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.UniqueConstraint("name", name="uq_repositories_name"),
        sa.UniqueConstraint("source", name="uq_repositories_source"),
    )
    op.create_table(
        "scans",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("repository_id", sa.Integer(), sa.ForeignKey("repositories.id", ondelete="CASCADE"),
                  nullable=False),
        sa.Column("origin", sa.String(16), nullable=False),
        sa.Column("source", sa.String(2048), nullable=False),
        sa.Column("ref", sa.String(255)),
        sa.Column("commit", sa.String(64)),
        sa.Column("dirty", sa.Boolean()),
        sa.Column("started_at", sa.DateTime(timezone=True)),
        sa.Column("finished_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("tool_version", sa.String(64)),
        sa.Column("catalog_digest", sa.String(64)),
        sa.Column("score", sa.Float()),
        sa.Column("risk", sa.String(32)),
        sa.Column("coverage", sa.Float()),
        sa.Column("lockml_score", sa.Integer()),
        sa.Column("lockml_risk", sa.String(32)),
        sa.Column("gate_passed", sa.Boolean()),
        sa.Column("error", sa.Text()),
        sa.Column("report", sa.JSON().with_variant(JSONB(), "postgresql")),
    )
    op.create_index("ix_scans_identity", "scans", ["repository_id", "commit", "tool_version", "catalog_digest"])
    op.create_index("ix_scans_repository_finished", "scans", ["repository_id", "finished_at"])
    op.create_table(
        "control_results",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("scan_id", sa.Integer(), sa.ForeignKey("scans.id", ondelete="CASCADE"), nullable=False),
        sa.Column("control_id", sa.String(64), nullable=False),
        sa.Column("status", sa.String(32), nullable=False),
        sa.Column("source", sa.String(32), nullable=False),
    )
    op.create_index("ix_control_results_scan_id", "control_results", ["scan_id"])
    op.create_index("ix_control_results_control_status", "control_results", ["control_id", "status"])
    op.create_table(
        "findings",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("scan_id", sa.Integer(), sa.ForeignKey("scans.id", ondelete="CASCADE"), nullable=False),
        sa.Column("rule", sa.String(255), nullable=False),
        sa.Column("severity", sa.String(16), nullable=False),
        sa.Column("path", sa.Text(), nullable=False),
        sa.Column("line", sa.Integer()),
        sa.Column("fingerprint", sa.String(128), nullable=False),
    )
    op.create_index("ix_findings_scan_id", "findings", ["scan_id"])
    op.create_index("ix_findings_fingerprint", "findings", ["fingerprint"])


def downgrade() -> None:
    """Drop everything."""
    for table in ("findings", "control_results", "scans", "repositories"):
        op.drop_table(table)
