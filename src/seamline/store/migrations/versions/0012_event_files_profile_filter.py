"""The event store's catalog keeps a Bloom filter of each file's profile ids.

Files listed before keep NULL and are read for every profile, as before.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0012"
down_revision = "0011"


def upgrade() -> None:
    with op.batch_alter_table("event_files") as table:
        table.add_column(sa.Column("profile_filter", sa.LargeBinary, nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("event_files") as table:
        table.drop_column("profile_filter")
