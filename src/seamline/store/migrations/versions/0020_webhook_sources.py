"""Webhook sources and pixel: reserved in the chain so that parallel work lands in order; tables added here."""

from __future__ import annotations

revision = "0020"
down_revision = "0019"


def upgrade() -> None:
    pass


def downgrade() -> None:
    pass
