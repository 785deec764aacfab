"""Scans gain the signed audit record (``attestation``) and a count of dangerous model artifacts.

The count is filled for scans stored under the first schema from their findings: a model artifact is dangerous
when the serialization probe reported a critical finding for it (loading it can run code).

Revision ID: 0002
Revises: 0001
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision: str | None = "0001"
branch_labels: str | None = None
depends_on: str | None = None

BACKFILL = """
UPDATE scans SET dangerous_artifacts = (
    SELECT COUNT(DISTINCT findings.path) FROM findings
    WHERE findings.scan_id = scans.id AND findings.rule LIKE 'serialization.%' AND findings.severity = 'critical'
) WHERE report IS NOT NULL
"""


def upgrade() -> None:
    """Add the two columns and backfill the count."""
    with op.batch_alter_table("scans") as batch:
        batch.add_column(sa.Column("attestation", sa.Text()))
        batch.add_column(sa.Column("dangerous_artifacts", sa.Integer()))
    op.execute(BACKFILL)


def downgrade() -> None:
    """Remove the two columns."""
    with op.batch_alter_table("scans") as batch:
        batch.drop_column("dangerous_artifacts")
        batch.drop_column("attestation")
