"""Webhook sources: a source's secret URL token (hashed), its source function and settings."""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0020"
down_revision = "0019"


def upgrade() -> None:
    op.create_table(
        "webhook_sources",
        sa.Column("source_id", sa.String(64), sa.ForeignKey("sources.id"), primary_key=True),
        sa.Column("workspace_id", sa.String(64), nullable=False),
        sa.Column("token_hash", sa.String(64), nullable=False, unique=True),
        sa.Column("function", sa.String(300), nullable=True),
        sa.Column("settings", sa.JSON, nullable=False),
        sa.Column("template", sa.String(50), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
    )


def downgrade() -> None:
    op.drop_table("webhook_sources")
