"""Profiles Sync: each target's snapshot of what it was last given (the graph, identifiers,
traits) and its runs (see store/profiles_sync_sql.py)."""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0021"
down_revision = "0020"


def upgrade() -> None:
    op.create_table(
        "profiles_sync_graph",
        sa.Column("target", sa.String(200), primary_key=True),
        sa.Column("profile_id", sa.String(64), primary_key=True),
        sa.Column("workspace_id", sa.String(64), nullable=False),
        sa.Column("canonical_id", sa.String(64), nullable=False),
    )
    op.create_table(
        "profiles_sync_ids",
        sa.Column("target", sa.String(200), primary_key=True),
        sa.Column("type", sa.String(100), primary_key=True),
        sa.Column("value", sa.String(1000), primary_key=True),
        sa.Column("profile_id", sa.String(64), nullable=False),
    )
    op.create_table(
        "profiles_sync_traits",
        sa.Column("target", sa.String(200), primary_key=True),
        sa.Column("profile_id", sa.String(64), primary_key=True),
        sa.Column("name", sa.String(300), primary_key=True),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_table(
        "profiles_sync_runs",
        sa.Column("target", sa.String(200), primary_key=True),
        sa.Column("workspace_id", sa.String(64), nullable=False),
        sa.Column("claimed_until", sa.DateTime(timezone=True), nullable=True),
        sa.Column("finished_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("status", sa.String(20), nullable=True),
        sa.Column("counts", sa.JSON(), nullable=True),
        sa.Column("error", sa.Text(), nullable=True),
    )


def downgrade() -> None:
    for table in (
        "profiles_sync_runs",
        "profiles_sync_traits",
        "profiles_sync_ids",
        "profiles_sync_graph",
    ):
        op.drop_table(table)
