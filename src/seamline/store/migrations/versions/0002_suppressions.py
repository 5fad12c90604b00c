"""Suppressions: identifiers whose events are dropped (Segment's SUPPRESS_ONLY regulation)."""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"


def upgrade() -> None:
    op.create_table(
        "suppressions",
        sa.Column("workspace_id", sa.String(64), primary_key=True),
        sa.Column("type", sa.String(100), primary_key=True),
        sa.Column("value", sa.String(1000), primary_key=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    )
