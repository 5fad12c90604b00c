"""The suppression list in the state store."""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import Engine, select
from sqlalchemy.dialects import postgresql, sqlite

from seamline.identity.identifiers import Identifier
from seamline.store.state import suppressions


class SqlSuppressionList:
    def __init__(self, engine: Engine) -> None:
        self._engine = engine
        self._insert = postgresql.insert if engine.dialect.name == "postgresql" else sqlite.insert

    def add(self, workspace_id: str, identifier: Identifier) -> None:
        with self._engine.begin() as conn:
            conn.execute(
                self._insert(suppressions)
                .values(
                    workspace_id=workspace_id,
                    type=identifier.type,
                    value=identifier.value,
                    created_at=datetime.now(UTC),
                )
                .on_conflict_do_nothing()
            )

    def listed(self, workspace_id: str) -> set[Identifier]:
        with self._engine.connect() as conn:
            rows = conn.execute(
                select(suppressions.c.type, suppressions.c.value).where(
                    suppressions.c.workspace_id == workspace_id
                )
            )
            return {Identifier(id_type, value) for id_type, value in rows}
