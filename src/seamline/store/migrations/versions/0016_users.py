"""Users and their login sessions and login attempts.

Filled in by the work that owns it; empty until then."""

from __future__ import annotations

revision = "0016"
down_revision = "0015"


def upgrade() -> None:
    pass


def downgrade() -> None:
    pass
