"""Access tokens in the state store, with their role grants and PII flag."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import msgspec
from sqlalchemy import Connection, Engine, insert, select, update

from seamline.access.principal import Grant
from seamline.access.tokens import Token
from seamline.store.state import as_utc, tokens


class SqlTokenStore:
    def __init__(self, engine: Engine) -> None:
        self._engine = engine

    def add(self, token: Token, digest: str) -> None:
        with self._engine.begin() as conn:
            _insert(conn, token, digest)

    def by_digest(self, digest: str) -> Token | None:
        # Read on every request, never cached: a token revoked by another process (the CLI)
        # gets 401 on its very next request.
        with self._engine.connect() as conn:
            row = conn.execute(select(tokens).where(tokens.c.digest == digest)).first()
        return None if row is None else _token(row)

    def in_workspace(self, workspace_id: str) -> list[Token]:
        """The workspace's tokens, revoked ones included, oldest first."""
        query = (
            select(tokens)
            .where(tokens.c.workspace_id == workspace_id)
            .order_by(tokens.c.created_at, tokens.c.id)
        )
        with self._engine.connect() as conn:
            return [_token(row) for row in conn.execute(query)]

    def revoke(self, token_ids: list[str], at: datetime) -> None:
        with self._engine.begin() as conn:
            _revoke(conn, token_ids, at)

    def replace(self, old_id: str, token: Token, digest: str, at: datetime) -> None:
        with self._engine.begin() as conn:
            _revoke(conn, [old_id], at)
            _insert(conn, token, digest)

    def touch(self, token_id: str, at: datetime) -> None:
        with self._engine.begin() as conn:
            conn.execute(update(tokens).where(tokens.c.id == token_id).values(last_used_at=at))


def _insert(conn: Connection, token: Token, digest: str) -> None:
    conn.execute(
        insert(tokens).values(
            id=token.id,
            workspace_id=token.workspace_id,
            name=token.name,
            digest=digest,
            created_at=token.created_at,
            roles=msgspec.to_builtins(token.grants),
            pii_access=token.pii_access,
        )
    )


def _revoke(conn: Connection, token_ids: list[str], at: datetime) -> None:
    conn.execute(
        update(tokens)
        .where(tokens.c.id.in_(token_ids), tokens.c.revoked_at.is_(None))
        .values(revoked_at=at)
    )


def _token(row: Any) -> Token:
    return Token(
        id=row.id,
        workspace_id=row.workspace_id,
        name=row.name,
        created_at=as_utc(row.created_at),
        grants=msgspec.convert(row.roles, tuple[Grant, ...]),
        pii_access=bool(row.pii_access),
        last_used_at=None if row.last_used_at is None else as_utc(row.last_used_at),
        revoked_at=None if row.revoked_at is None else as_utc(row.revoked_at),
    )
