"""The event store's file catalog: which Parquet files hold the event history."""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0006"


def upgrade() -> None:
    op.create_table(
        "event_files",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("path", sa.String(400), nullable=False, unique=True),
        sa.Column("log_partition", sa.Integer, nullable=False),
        sa.Column("first_position", sa.BigInteger, nullable=False),
        sa.Column("last_position", sa.BigInteger, nullable=False),
        sa.Column("rows", sa.BigInteger, nullable=False),
        sa.Column("bytes", sa.BigInteger, nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("retired_at", sa.DateTime(timezone=True), nullable=True),
    )
    op.create_index("ix_event_files_retired_at", "event_files", ["retired_at"])
    op.create_index("ix_event_files_partition", "event_files", ["log_partition", "first_position"])


def downgrade() -> None:
    op.drop_table("event_files")
