"""Reverse ETL: each model's snapshot state and claim, the records each of its subscriptions
last sent (id and checksum), and its runs with their counts."""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0019"
down_revision = "0018"


def upgrade() -> None:
    op.create_table(
        "reverse_etl_models",
        sa.Column("workspace_id", sa.String(64), primary_key=True),
        sa.Column("model", sa.String(100), primary_key=True),
        sa.Column("generation", sa.BigInteger, nullable=False),
        sa.Column("key_column", sa.String(200), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("last_started_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("claimed_by", sa.String(128), nullable=True),
        sa.Column("claimed_until", sa.DateTime(timezone=True), nullable=True),
    )
    op.create_table(
        "reverse_etl_records",
        sa.Column("workspace_id", sa.String(64), primary_key=True),
        sa.Column("model", sa.String(100), primary_key=True),
        sa.Column("subscription", sa.String(100), primary_key=True),
        sa.Column("record_id", sa.String(500), primary_key=True),
        sa.Column("checksum", sa.String(32), nullable=False),
    )
    op.create_table(
        "reverse_etl_runs",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("workspace_id", sa.String(64), nullable=False),
        sa.Column("model", sa.String(100), nullable=False),
        sa.Column("trigger", sa.String(20), nullable=False),
        sa.Column("status", sa.String(20), nullable=False),
        sa.Column("started_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("finished_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("rows_read", sa.BigInteger, nullable=False),
        sa.Column("added", sa.BigInteger, nullable=False),
        sa.Column("updated", sa.BigInteger, nullable=False),
        sa.Column("deleted", sa.BigInteger, nullable=False),
        sa.Column("queued", sa.BigInteger, nullable=False),
        sa.Column("subscriptions", sa.JSON, nullable=True),
        sa.Column("error", sa.Text, nullable=True),
    )
    op.create_index(
        "reverse_etl_runs_by_model", "reverse_etl_runs", ["workspace_id", "model", "id"]
    )


def downgrade() -> None:
    op.drop_table("reverse_etl_runs")
    op.drop_table("reverse_etl_records")
    op.drop_table("reverse_etl_models")
