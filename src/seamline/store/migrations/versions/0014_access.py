"""Tokens carry role grants and the PII access flag; the unused `scopes` column goes.

Tokens made before are workspace owners' tokens with PII access, as they could do everything.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0014"
down_revision = "0013"

OWNER = [{"role": "workspace-owner", "resources": None}]


def upgrade() -> None:
    op.add_column("tokens", sa.Column("roles", sa.JSON, nullable=True))
    op.add_column(
        "tokens", sa.Column("pii_access", sa.Boolean, nullable=False, server_default=sa.true())
    )
    tokens = sa.table("tokens", sa.column("roles", sa.JSON))
    op.execute(tokens.update().values(roles=OWNER))
    with op.batch_alter_table("tokens") as table:
        table.alter_column("roles", existing_type=sa.JSON, nullable=False)
        table.drop_column("scopes")


def downgrade() -> None:
    with op.batch_alter_table("tokens") as table:
        table.add_column(sa.Column("scopes", sa.JSON, nullable=True))
        table.drop_column("pii_access")
        table.drop_column("roles")
