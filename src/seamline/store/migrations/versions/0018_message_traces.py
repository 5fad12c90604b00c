"""Message traces: what each stage did to a message (a row per log position and processing,
written by the pipeline) and each delivery attempt (written by the deliver role), kept
`trace_retention_hours`."""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0018"
down_revision = "0017"

# Row ids in insertion order, so pruning takes the oldest rows by id: one index per table (by
# messageId), as each index costs every traced message ~1 µs more. SQLite's rowid must be
# INTEGER; PostgreSQL's ids must outgrow 2^31 (at 20,000 messages/s, 30 hours).
_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "message_traces",
        sa.Column("id", _ID, primary_key=True, autoincrement=True),
        sa.Column("position", sa.BigInteger, nullable=False),
        sa.Column("workspace_id", sa.String(64), nullable=False),
        sa.Column("message_id", sa.String(200), nullable=False),
        sa.Column("profile_id", sa.String(64), nullable=True),
        sa.Column("traced_at", sa.Double, nullable=False),
        sa.Column("body", sa.Text, nullable=False),
        sa.Column("stages", sa.JSON, nullable=False),
    )
    op.create_index("message_traces_message", "message_traces", ["workspace_id", "message_id"])
    op.create_table(
        "message_trace_attempts",
        sa.Column("id", _ID, primary_key=True, autoincrement=True),
        sa.Column("workspace_id", sa.String(64), nullable=False),
        sa.Column("message_id", sa.String(200), nullable=False),
        sa.Column("profile_key", sa.String(300), nullable=True),
        sa.Column("destination", sa.String(300), nullable=False),
        sa.Column("subscription", sa.String(300), nullable=False),
        sa.Column("attempt", sa.Integer, nullable=False),
        sa.Column("outcome", sa.String(20), nullable=False),
        sa.Column("status", sa.Integer, nullable=True),
        sa.Column("error", sa.Text, nullable=True),
        sa.Column("traced_at", sa.Double, nullable=False),
    )
    op.create_index(
        "message_trace_attempts_message", "message_trace_attempts", ["workspace_id", "message_id"]
    )


def downgrade() -> None:
    op.drop_table("message_trace_attempts")
    op.drop_table("message_traces")
