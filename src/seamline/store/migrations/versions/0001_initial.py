"""The first schema: workspaces, sources, tokens, the identity graph, traits and accounts.

Frozen here (not imported from `store/state.py`) so later changes to the tables come as new
revisions. Tables that already exist (data directories made before migrations) are kept.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None

_tables = sa.MetaData()
sa.Table(
    "workspaces",
    _tables,
    sa.Column("id", sa.String(64), primary_key=True),
    sa.Column("name", sa.String(200), nullable=False),
    sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
)
sa.Table(
    "sources",
    _tables,
    sa.Column("id", sa.String(64), primary_key=True),
    sa.Column("workspace_id", sa.String(64), sa.ForeignKey("workspaces.id"), nullable=False),
    sa.Column("name", sa.String(200), nullable=False),
    sa.Column("write_key", sa.String(200), nullable=False, unique=True),
    sa.Column("enabled", sa.Boolean, nullable=False),
    sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
)
sa.Table(
    "profiles",
    _tables,
    sa.Column("id", sa.String(64), primary_key=True),
    sa.Column("workspace_id", sa.String(64), nullable=False),
    sa.Column("canonical_id", sa.String(64), nullable=False, index=True),
    sa.Column("merged_into", sa.String(64), nullable=True),
    sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("first_message_id", sa.String(200), nullable=True),
)
sa.Table(
    "identities",
    _tables,
    sa.Column("workspace_id", sa.String(64), primary_key=True),
    sa.Column("type", sa.String(100), primary_key=True),
    sa.Column("value", sa.String(1000), primary_key=True),
    sa.Column("profile_id", sa.String(64), nullable=False, index=True),
    sa.Column("first_seen", sa.DateTime(timezone=True), nullable=False),
    sa.Column("last_seen", sa.DateTime(timezone=True), nullable=False),
    sa.Column("first_message_id", sa.String(200), nullable=True),
)
sa.Table(
    "merges",
    _tables,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("workspace_id", sa.String(64), nullable=False),
    sa.Column("from_profile", sa.String(64), nullable=False, index=True),
    sa.Column("into_profile", sa.String(64), nullable=False, index=True),
    sa.Column("message_id", sa.String(200), nullable=False),
    sa.Column("identifiers", sa.JSON, nullable=False),
    sa.Column("merged_at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("undone_at", sa.DateTime(timezone=True), nullable=True),
)
sa.Table(
    "separations",
    _tables,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("workspace_id", sa.String(64), nullable=False),
    sa.Column("profile_a", sa.String(64), nullable=False, index=True),
    sa.Column("profile_b", sa.String(64), nullable=False, index=True),
    sa.Column("merge_id", sa.Integer, nullable=True),
    sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
)
sa.Table(
    "profile_traits",
    _tables,
    sa.Column("profile_id", sa.String(64), primary_key=True),
    sa.Column("name", sa.String(300), primary_key=True),
    sa.Column("value", sa.JSON, nullable=True),
    sa.Column("removed", sa.Boolean, nullable=False),
    sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("source_id", sa.String(64), nullable=True),
    sa.Column("message_id", sa.String(200), nullable=True),
)
sa.Table(
    "accounts",
    _tables,
    sa.Column("id", sa.String(64), primary_key=True),
    sa.Column("workspace_id", sa.String(64), nullable=False),
    sa.Column("group_id", sa.String(1000), nullable=False),
    sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    sa.UniqueConstraint("workspace_id", "group_id"),
)
sa.Table(
    "account_members",
    _tables,
    sa.Column("account_id", sa.String(64), primary_key=True),
    sa.Column("profile_id", sa.String(64), primary_key=True),
    sa.Column("first_seen", sa.DateTime(timezone=True), nullable=False),
    sa.Column("source_id", sa.String(64), nullable=True),
)
sa.Table(
    "tokens",
    _tables,
    sa.Column("id", sa.String(64), primary_key=True),
    sa.Column("workspace_id", sa.String(64), sa.ForeignKey("workspaces.id"), nullable=False),
    sa.Column("name", sa.String(200), nullable=False),
    sa.Column("digest", sa.String(64), nullable=False, unique=True),
    sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
)


def upgrade() -> None:
    _tables.create_all(op.get_bind(), checkfirst=True)
