"""Source and destination functions: reserved in the chain while they were built in parallel;
they keep their code in the workspace's `function` resources and need no table of their own,
so this revision changes nothing."""

from __future__ import annotations

revision = "0022"
down_revision = "0021"


def upgrade() -> None:
    pass


def downgrade() -> None:
    pass
