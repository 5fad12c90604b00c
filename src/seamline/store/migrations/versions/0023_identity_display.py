"""Identifiers keep the text they were first sent as beside the normalised value they match on.

Segment matches a phone number on its normalised form but shows it as it was sent; `sent_value`
holds that spelling when it differs from `value`. Identifiers stored before this migration keep
NULL and show their normalised value.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0023"
down_revision = "0022"


def upgrade() -> None:
    with op.batch_alter_table("identities") as table:
        table.add_column(sa.Column("sent_value", sa.String(1000), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("identities") as table:
        table.drop_column("sent_value")
