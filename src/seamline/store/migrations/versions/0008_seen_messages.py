"""Dedup's remembered message keys, shared by every pipeline worker."""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0008"
down_revision = "0007"


def upgrade() -> None:
    op.create_table(
        "seen_messages",
        sa.Column("source_id", sa.String(64), primary_key=True),
        sa.Column("message_id", sa.String(250), primary_key=True),
        sa.Column("first_offset", sa.BigInteger, nullable=False),
        sa.Column("seen_at", sa.Double, nullable=False),
    )
    op.create_index("ix_seen_messages_seen_at", "seen_messages", ["seen_at"])


def downgrade() -> None:
    op.drop_table("seen_messages")
