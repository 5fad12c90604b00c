"""Privacy regulations and their per-store, per-destination statuses.

Filled in by the work that owns it; empty until then."""

from __future__ import annotations

revision = "0013"
down_revision = "0012"


def upgrade() -> None:
    pass


def downgrade() -> None:
    pass
