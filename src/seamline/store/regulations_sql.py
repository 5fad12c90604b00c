"""Regulations in the state store, and the claim a worker takes on one while it runs it."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Engine, func, insert, or_, select, update

from seamline.store.state import as_utc, regulations

Row = dict[str, Any]
"""A regulation as the table holds it; `privacy.regulations` converts to and from it."""


class SqlRegulationStore:
    def __init__(self, engine: Engine) -> None:
        self._engine = engine

    def add(self, row: Row) -> None:
        with self._engine.begin() as conn:
            conn.execute(insert(regulations).values(**row))

    def save(self, row: Row) -> None:
        changed = {k: v for k, v in row.items() if k not in ("id", "created_at")}
        with self._engine.begin() as conn:
            conn.execute(update(regulations).where(regulations.c.id == row["id"]).values(**changed))

    def get(self, workspace_id: str, regulation_id: str) -> Row | None:
        with self._engine.connect() as conn:
            row = conn.execute(
                select(regulations).where(
                    regulations.c.id == regulation_id, regulations.c.workspace_id == workspace_id
                )
            ).first()
        return None if row is None else _plain(row)

    def list(
        self,
        workspace_id: str,
        *,
        source_id: str | None = None,
        status: str | None = None,
        types: list[str] | None = None,
        limit: int = 100,
        before: datetime | None = None,
    ) -> list[Row]:
        query = select(regulations).where(regulations.c.workspace_id == workspace_id)
        if source_id is not None:
            query = query.where(regulations.c.source_id == source_id)
        if status is not None:
            query = query.where(regulations.c.overall_status == status)
        if types:
            query = query.where(regulations.c.regulation_type.in_(types))
        if before is not None:
            query = query.where(regulations.c.created_at < before)
        query = query.order_by(regulations.c.created_at.desc(), regulations.c.id.desc()).limit(
            limit
        )
        with self._engine.connect() as conn:
            return [_plain(row) for row in conn.execute(query)]

    def claim(self, now: datetime, hold: timedelta, ended: frozenset[str]) -> Row | None:
        """Take the oldest regulation that has work due and nobody holds; None if none."""
        with self._engine.begin() as conn:
            candidates = (
                conn.execute(
                    select(regulations.c.id)
                    .where(
                        regulations.c.overall_status.not_in(sorted(ended)),
                        or_(
                            regulations.c.next_attempt_at.is_(None),
                            regulations.c.next_attempt_at <= now,
                        ),
                        or_(
                            regulations.c.claimed_until.is_(None), regulations.c.claimed_until < now
                        ),
                    )
                    .order_by(regulations.c.created_at)
                    .limit(5)
                )
                .scalars()
                .all()
            )
            for regulation_id in candidates:
                # Compare-and-set: two workers racing for one regulation, one wins.
                taken = conn.execute(
                    update(regulations)
                    .where(
                        regulations.c.id == regulation_id,
                        or_(
                            regulations.c.claimed_until.is_(None), regulations.c.claimed_until < now
                        ),
                    )
                    .values(claimed_until=now + hold)
                ).rowcount
                if taken:
                    row = conn.execute(
                        select(regulations).where(regulations.c.id == regulation_id)
                    ).one()
                    return _plain(row)
        return None

    def release(self, regulation_id: str, next_attempt_at: datetime | None) -> None:
        with self._engine.begin() as conn:
            conn.execute(
                update(regulations)
                .where(regulations.c.id == regulation_id)
                .values(claimed_until=None, next_attempt_at=next_attempt_at)
            )

    def pending(self, ended: frozenset[str]) -> int:
        query = select(func.count()).where(regulations.c.overall_status.not_in(sorted(ended)))
        with self._engine.connect() as conn:
            return int(conn.execute(query).scalar_one())


def _plain(row: Any) -> Row:
    found = dict(row._mapping)
    for key in ("created_at", "finished_at", "next_attempt_at", "claimed_until"):
        if found.get(key) is not None:
            found[key] = as_utc(found[key])
    return found
