"""Engage: per-profile feature states, computed values and memberships, hydrated features."""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"


def upgrade() -> None:
    op.create_table(
        "engage_states",
        sa.Column("workspace_id", sa.String(64), primary_key=True),
        sa.Column("profile_id", sa.String(64), primary_key=True),
        sa.Column("states", sa.JSON, nullable=False),
    )
    op.create_table(
        "engage_values",
        sa.Column("workspace_id", sa.String(64), primary_key=True),
        sa.Column("profile_id", sa.String(64), primary_key=True),
        sa.Column("key", sa.String(100), primary_key=True),
        sa.Column("value", sa.JSON, nullable=True),
        sa.Column("version", sa.Integer, nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_index("engage_values_by_key", "engage_values", ["workspace_id", "key"])
    op.create_table(
        "engage_rechecks",
        sa.Column("workspace_id", sa.String(64), primary_key=True),
        sa.Column("profile_id", sa.String(64), primary_key=True),
        sa.Column("recheck_at", sa.BigInteger, nullable=False, index=True),
    )
    op.create_table(
        "engage_features",
        sa.Column("workspace_id", sa.String(64), primary_key=True),
        sa.Column("feature_key", sa.String(40), primary_key=True),
        sa.Column("hydrated_through", sa.BigInteger, nullable=False),
    )


def downgrade() -> None:
    for name in ("engage_features", "engage_rechecks", "engage_values", "engage_states"):
        op.drop_table(name)
