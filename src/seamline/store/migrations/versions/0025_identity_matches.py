"""Probabilistic matching: proposals (pairs of profiles with their match probability and the
comparisons behind it), each profile's evidence digest as the matching job last read it, the
job's runs with the model it trained, and the kind and score of a merge (see
store/identity_matches_sql.py)."""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0025"
down_revision = "0024"


def upgrade() -> None:
    op.create_table(
        "identity_match_proposals",
        sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True),
        sa.Column("workspace_id", sa.String(64), nullable=False),
        sa.Column("left_profile", sa.String(64), nullable=False),
        sa.Column("right_profile", sa.String(64), nullable=False),
        sa.Column("probability", sa.Double(), nullable=False),
        sa.Column("comparisons", sa.JSON(), nullable=False),
        sa.Column("status", sa.String(20), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("decided_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("decided_by", sa.String(200), nullable=True),
        sa.Column("merge_id", sa.Integer(), nullable=True),
        sa.UniqueConstraint("workspace_id", "left_profile", "right_profile"),
    )
    op.create_index(
        "ix_identity_match_proposals_status",
        "identity_match_proposals",
        ["workspace_id", "status", "id"],
    )
    op.create_table(
        "identity_match_records",
        sa.Column("workspace_id", sa.String(64), primary_key=True),
        sa.Column("profile_id", sa.String(64), primary_key=True),
        sa.Column("digest", sa.String(64), nullable=False),
    )
    op.create_table(
        "identity_matching_runs",
        sa.Column("workspace_id", sa.String(64), primary_key=True),
        sa.Column("claimed_until", sa.DateTime(timezone=True), nullable=True),
        sa.Column("finished_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("status", sa.String(20), nullable=True),
        sa.Column("counts", sa.JSON(), nullable=True),
        sa.Column("error", sa.Text(), nullable=True),
        sa.Column("model", sa.JSON(), nullable=True),
    )
    with op.batch_alter_table("merges") as table:
        table.add_column(
            sa.Column("kind", sa.String(20), nullable=False, server_default="deterministic")
        )
        table.add_column(sa.Column("score", sa.Double(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("merges") as table:
        table.drop_column("score")
        table.drop_column("kind")
    op.drop_table("identity_matching_runs")
    op.drop_table("identity_match_records")
    op.drop_index("ix_identity_match_proposals_status", "identity_match_proposals")
    op.drop_table("identity_match_proposals")
