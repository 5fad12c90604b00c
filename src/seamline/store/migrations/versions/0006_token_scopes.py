"""Tokens: scopes (NULL = full access, narrowed by roles later), last use and revocation."""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"


def upgrade() -> None:
    # Nullable columns with no default: a plain ADD COLUMN on both SQLite and PostgreSQL, and
    # existing tokens keep full access.
    op.add_column("tokens", sa.Column("scopes", sa.JSON, nullable=True))
    op.add_column("tokens", sa.Column("last_used_at", sa.DateTime(timezone=True), nullable=True))
    op.add_column("tokens", sa.Column("revoked_at", sa.DateTime(timezone=True), nullable=True))
