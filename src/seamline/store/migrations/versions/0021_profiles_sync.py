"""Profiles Sync: reserved in the chain so that parallel work lands in order; tables added here."""

from __future__ import annotations

revision = "0021"
down_revision = "0020"


def upgrade() -> None:
    pass


def downgrade() -> None:
    pass
