"""The event store's catalog says how each file's rows are ordered (profile id or log order).

Files listed before this migration keep NULL: their rows are in log order, which is true of
every file written until then; compaction re-sorts the large ones by profile id.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0010"
down_revision = "0009"


def upgrade() -> None:
    with op.batch_alter_table("event_files") as table:
        table.add_column(sa.Column("sorted_by", sa.String(40), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("event_files") as table:
        table.drop_column("sorted_by")
