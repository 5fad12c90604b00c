"""Retention: each workspace's setting for the log and the event store, and what every run of
the expiry job removed (`seamline status` and `/metrics` read the runs)."""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0017"
down_revision = "0016"


def upgrade() -> None:
    op.create_table(
        "workspace_retention",
        sa.Column("workspace_id", sa.String(64), primary_key=True),
        sa.Column("retention", sa.String(16), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_table(
        "retention_runs",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("ran_at", sa.DateTime(timezone=True), nullable=False, index=True),
        sa.Column("cutoffs", sa.JSON, nullable=False),
        sa.Column("log_records", sa.BigInteger, nullable=False),
        sa.Column("log_segments", sa.Integer, nullable=False),
        sa.Column("events", sa.BigInteger, nullable=False),
        sa.Column("event_files", sa.Integer, nullable=False),
    )


def downgrade() -> None:
    op.drop_table("retention_runs")
    op.drop_table("workspace_retention")
