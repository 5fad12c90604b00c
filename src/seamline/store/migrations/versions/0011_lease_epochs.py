"""Each partition lease carries an epoch that grows on every takeover (fencing tokens).

A lease taken over gets a higher epoch than its last holder's; the log's committed offset
stores the epoch it was committed under and refuses a commit from a lower one, so a worker
that stalled past its lease cannot write an old offset over its successor's. Leases that
exist now start at 0.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0011"
down_revision = "0010"


def upgrade() -> None:
    with op.batch_alter_table("partition_leases") as table:
        table.add_column(
            sa.Column("epoch", sa.BigInteger, nullable=False, server_default=sa.text("0"))
        )


def downgrade() -> None:
    with op.batch_alter_table("partition_leases") as table:
        table.drop_column("epoch")
