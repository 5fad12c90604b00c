"""Access tokens in the state store."""

from __future__ import annotations

from sqlalchemy import Engine, insert, select

from seamline.access.tokens import Token
from seamline.store.state import as_utc, tokens


class SqlTokenStore:
    def __init__(self, engine: Engine) -> None:
        self._engine = engine

    def add(self, token: Token, digest: str) -> None:
        with self._engine.begin() as conn:
            conn.execute(
                insert(tokens).values(
                    id=token.id,
                    workspace_id=token.workspace_id,
                    name=token.name,
                    digest=digest,
                    created_at=token.created_at,
                )
            )

    def by_digest(self, digest: str) -> Token | None:
        with self._engine.connect() as conn:
            row = conn.execute(select(tokens).where(tokens.c.digest == digest)).first()
        if row is None:
            return None
        return Token(
            id=row.id,
            workspace_id=row.workspace_id,
            name=row.name,
            created_at=as_utc(row.created_at),
        )
