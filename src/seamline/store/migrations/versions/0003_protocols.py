"""Protocols and data controls: workspace resources, violations, held events, the data
inventory, profile consent and workspace secrets."""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"


def upgrade() -> None:
    op.create_table(
        "resources",
        sa.Column("workspace_id", sa.String(64), primary_key=True),
        sa.Column("kind", sa.String(64), primary_key=True),
        sa.Column("name", sa.String(300), primary_key=True),
        sa.Column("document", sa.JSON, nullable=False),
        sa.Column("version", sa.Integer, nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_table(
        "resource_versions",
        sa.Column("workspace_id", sa.String(64), primary_key=True),
        sa.Column("kind", sa.String(64), primary_key=True),
        sa.Column("name", sa.String(300), primary_key=True),
        sa.Column("version", sa.Integer, primary_key=True),
        sa.Column("document", sa.JSON, nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_table(
        "config_revisions",
        sa.Column("workspace_id", sa.String(64), primary_key=True),
        sa.Column("revision", sa.Integer, nullable=False),
    )
    op.create_table(
        "violations",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("workspace_id", sa.String(64), nullable=False),
        sa.Column("source_id", sa.String(64), nullable=False),
        sa.Column("log_offset", sa.BigInteger, nullable=False, index=True),
        sa.Column("message_id", sa.String(200), nullable=True),
        sa.Column("message_type", sa.String(20), nullable=True),
        sa.Column("event_name", sa.String(500), nullable=True),
        sa.Column("path", sa.String(500), nullable=False),
        sa.Column("rule", sa.String(100), nullable=False),
        sa.Column("expected", sa.String(500), nullable=False),
        sa.Column("actual", sa.String(500), nullable=False),
        sa.Column("recorded_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_index("violations_by_source", "violations", ["workspace_id", "source_id", "id"])
    op.create_table(
        "held_events",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("workspace_id", sa.String(64), nullable=False),
        sa.Column("source_id", sa.String(64), nullable=False),
        sa.Column("log_offset", sa.BigInteger, nullable=False, index=True),
        sa.Column("message_id", sa.String(200), nullable=True),
        sa.Column("disposition", sa.String(20), nullable=False),
        sa.Column("reason", sa.Text, nullable=False),
        sa.Column("message", sa.Text, nullable=False),
        sa.Column("held_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("rerun_at", sa.DateTime(timezone=True), nullable=True),
    )
    op.create_index("held_by_source", "held_events", ["workspace_id", "source_id", "id"])
    op.create_table(
        "data_inventory",
        sa.Column("workspace_id", sa.String(64), primary_key=True),
        sa.Column("source_id", sa.String(64), primary_key=True),
        sa.Column("path", sa.String(500), primary_key=True),
        sa.Column("classification", sa.String(10), nullable=False),
        sa.Column("kind", sa.String(50), nullable=True),
        sa.Column("first_seen", sa.DateTime(timezone=True), nullable=False),
        sa.Column("last_seen", sa.DateTime(timezone=True), nullable=False),
        sa.Column("count", sa.BigInteger, nullable=False),
        sa.Column("last_offset", sa.BigInteger, nullable=False),
    )
    op.create_table(
        "profile_consent",
        sa.Column("workspace_id", sa.String(64), primary_key=True),
        sa.Column("profile_id", sa.String(64), primary_key=True),
        sa.Column("preferences", sa.JSON, nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("message_id", sa.String(200), nullable=True),
        sa.Column("log_offset", sa.BigInteger, nullable=False),
    )
    op.create_table(
        "workspace_secrets",
        sa.Column("workspace_id", sa.String(64), primary_key=True),
        sa.Column("name", sa.String(100), primary_key=True),
        sa.Column("value", sa.String(500), nullable=False),
    )
