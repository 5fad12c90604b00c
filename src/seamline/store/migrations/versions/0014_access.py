"""Token roles and the PII access flag on tokens.

Filled in by the work that owns it; empty until then."""

from __future__ import annotations

revision = "0014"
down_revision = "0013"


def upgrade() -> None:
    pass


def downgrade() -> None:
    pass
