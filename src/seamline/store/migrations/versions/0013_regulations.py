"""Privacy regulations, and suppressions kept as keyed digests, optionally per source.

`suppressed` replaces `suppressions` (plain identifiers): the digests need the workspace's
salt, which SQL cannot reach, so `suppressions` rows are moved by the application when it
starts (`SqlSuppressionList.rehash`), not here.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0013"
down_revision = "0012"


def upgrade() -> None:
    op.create_table(
        "regulations",
        sa.Column("id", sa.String(64), primary_key=True),
        sa.Column("workspace_id", sa.String(64), nullable=False),
        sa.Column("source_id", sa.String(64), nullable=True),
        sa.Column("regulation_type", sa.String(40), nullable=False),
        sa.Column("subject_type", sa.String(20), nullable=False),
        sa.Column("subject_ids", sa.JSON, nullable=True),
        sa.Column("subject_count", sa.Integer, nullable=False),
        sa.Column("person", sa.JSON, nullable=True),
        sa.Column("overall_status", sa.String(20), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("finished_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("targets", sa.JSON, nullable=False),
        sa.Column("actor", sa.String(200), nullable=False),
        sa.Column("next_attempt_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("claimed_until", sa.DateTime(timezone=True), nullable=True),
    )
    op.create_index("regulations_by_workspace", "regulations", ["workspace_id", "created_at"])
    op.create_table(
        "suppressed",
        sa.Column("workspace_id", sa.String(64), primary_key=True),
        sa.Column("source_id", sa.String(64), primary_key=True),
        sa.Column("digest", sa.String(64), primary_key=True),
        sa.Column("regulation_id", sa.String(64), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    )


def downgrade() -> None:
    op.drop_table("suppressed")
    op.drop_index("regulations_by_workspace", table_name="regulations")
    op.drop_table("regulations")
