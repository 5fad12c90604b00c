"""The audit trail: an append-only, hash-chained table.

Filled in by the work that owns it; empty until then."""

from __future__ import annotations

revision = "0015"
down_revision = "0014"


def upgrade() -> None:
    pass


def downgrade() -> None:
    pass
