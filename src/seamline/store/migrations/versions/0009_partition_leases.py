"""Which pipeline worker processes which log partition, while its lease lasts."""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0009"
down_revision = "0008"


def upgrade() -> None:
    op.create_table(
        "partition_leases",
        sa.Column("consumer", sa.String(64), primary_key=True),
        sa.Column("log_partition", sa.Integer, primary_key=True),
        sa.Column("owner", sa.String(128), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
    )


def downgrade() -> None:
    op.drop_table("partition_leases")
