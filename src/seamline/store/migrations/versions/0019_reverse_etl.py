"""Reverse ETL: models' snapshots and runs: reserved in the chain so that parallel work lands in order; tables added here."""

from __future__ import annotations

revision = "0019"
down_revision = "0018"


def upgrade() -> None:
    pass


def downgrade() -> None:
    pass
