"""Accounts (group profiles) and their members in the state store."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import Engine, select
from sqlalchemy.dialects import postgresql, sqlite

from seamline.profiles.accounts import Membership
from seamline.store.state import account_members, accounts, profiles


class SqlAccountStore:
    def __init__(self, engine: Engine) -> None:
        self._engine = engine
        self._insert = postgresql.insert if engine.dialect.name == "postgresql" else sqlite.insert

    def add_members(self, memberships: Sequence[Membership]) -> None:
        if not memberships:
            return
        with self._engine.begin() as conn:
            conn.execute(
                self._insert(accounts).on_conflict_do_nothing(),
                [
                    {
                        "id": m.account_id,
                        "workspace_id": m.workspace_id,
                        "group_id": m.group_id,
                        "created_at": m.at,
                    }
                    for m in memberships
                ],
            )
            conn.execute(
                self._insert(account_members).on_conflict_do_nothing(),
                [
                    {
                        "account_id": m.account_id,
                        "profile_id": m.profile_id,
                        "first_seen": m.at,
                        "source_id": m.source_id,
                    }
                    for m in memberships
                ],
            )

    def accounts_of(self, canonical_id: str) -> list[dict[str, Any]]:
        """The accounts any profile merged into `canonical_id` joined, oldest first."""
        with self._engine.connect() as conn:
            rows = conn.execute(
                select(
                    accounts.c.id,
                    accounts.c.group_id,
                    account_members.c.source_id,
                    account_members.c.first_seen,
                )
                .join(account_members, account_members.c.account_id == accounts.c.id)
                .join(profiles, profiles.c.id == account_members.c.profile_id)
                .where(profiles.c.canonical_id == canonical_id)
                .order_by(account_members.c.first_seen, accounts.c.group_id)
            )
            seen: dict[str, dict[str, Any]] = {}
            for row in rows:
                seen.setdefault(row.id, dict(row._mapping))
            return list(seen.values())

    def exists(self, account_id: str) -> bool:
        with self._engine.connect() as conn:
            row = conn.execute(select(accounts.c.id).where(accounts.c.id == account_id)).first()
        return row is not None

    def members_of(self, account_id: str) -> list[dict[str, Any]]:
        """The (canonical) people linked to an account, by when they joined."""
        with self._engine.connect() as conn:
            rows = conn.execute(
                select(
                    profiles.c.canonical_id,
                    account_members.c.source_id,
                    account_members.c.first_seen,
                )
                .join(profiles, profiles.c.id == account_members.c.profile_id)
                .where(account_members.c.account_id == account_id)
                .order_by(account_members.c.first_seen, profiles.c.canonical_id)
            )
            seen: dict[str, dict[str, Any]] = {}
            for row in rows:
                seen.setdefault(row.canonical_id, dict(row._mapping))
            return list(seen.values())
