"""Retention: what the expiry job removed, per workspace.

Filled in by the work that owns it; empty until then."""

from __future__ import annotations

revision = "0017"
down_revision = "0016"


def upgrade() -> None:
    pass


def downgrade() -> None:
    pass
