"""Delivery: the outbox, dead letters and per-minute delivery counts."""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"


def upgrade() -> None:
    op.create_table(
        "outbox",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("workspace_id", sa.String(64), nullable=False),
        sa.Column("destination", sa.String(300), nullable=False),
        sa.Column("subscription", sa.String(300), nullable=False),
        sa.Column("delivery_key", sa.String(300), nullable=False),
        sa.Column("message_id", sa.String(200), nullable=False),
        sa.Column("profile_key", sa.String(300), nullable=True),
        sa.Column("payload", sa.JSON, nullable=False),
        sa.Column("enqueued_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("attempts", sa.Integer, nullable=False),
        sa.Column("next_attempt_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("claimed_until", sa.DateTime(timezone=True), nullable=True),
        sa.Column("last_error", sa.Text, nullable=True),
        sa.UniqueConstraint("workspace_id", "subscription", "delivery_key"),
    )
    op.create_index("outbox_ready", "outbox", ["destination", "next_attempt_at", "id"])
    op.create_table(
        "dead_letters",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("workspace_id", sa.String(64), nullable=False),
        sa.Column("destination", sa.String(300), nullable=False, index=True),
        sa.Column("subscription", sa.String(300), nullable=False),
        sa.Column("message_id", sa.String(200), nullable=False),
        sa.Column("payload", sa.JSON, nullable=False),
        sa.Column("error", sa.Text, nullable=False),
        sa.Column("status", sa.Integer, nullable=True),
        sa.Column("request", sa.Text, nullable=True),
        sa.Column("response", sa.Text, nullable=True),
        sa.Column("attempts", sa.Integer, nullable=False),
        sa.Column("failed_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("replayed_at", sa.DateTime(timezone=True), nullable=True),
    )
    op.create_table(
        "delivery_counts",
        sa.Column("workspace_id", sa.String(64), primary_key=True),
        sa.Column("destination", sa.String(300), primary_key=True),
        sa.Column("subscription", sa.String(300), primary_key=True),
        sa.Column("minute", sa.DateTime(timezone=True), primary_key=True),
        sa.Column("outcome", sa.String(30), primary_key=True),
        sa.Column("reason", sa.String(300), primary_key=True),
        sa.Column("count", sa.BigInteger, nullable=False),
    )
