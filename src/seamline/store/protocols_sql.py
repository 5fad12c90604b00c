"""Violations and held messages in the state store."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Engine, delete, func, insert, select, update

from seamline.protocols.records import HeldMessage, ViolationCount, ViolationRecord
from seamline.store.state import as_utc, held_events, violations


class SqlProtocolsStore:
    def __init__(self, engine: Engine) -> None:
        self._engine = engine

    def record(self, found: list[ViolationRecord], held: list[HeldMessage]) -> None:
        if not found and not held:
            return
        with self._engine.begin() as conn:
            if found:
                conn.execute(insert(violations), [_row(v) for v in found])
            if held:
                conn.execute(
                    insert(held_events),
                    [{k: v for k, v in _row(h).items() if k != "id"} for h in held],
                )

    def truncate_from(self, start: int, end: int | None = None) -> None:
        with self._engine.begin() as conn:
            for table in (violations, held_events):
                where = table.c.log_offset >= start
                if end is not None:
                    where = where & (table.c.log_offset < end)
                conn.execute(delete(table).where(where))

    def violations(
        self,
        workspace_id: str,
        *,
        source_id: str | None = None,
        event_name: str | None = None,
        rule: str | None = None,
        limit: int = 100,
        before_id: int | None = None,
    ) -> list[tuple[int, ViolationRecord]]:
        """Newest first, with each row's id for paging (`before_id`)."""
        query = select(violations).where(violations.c.workspace_id == workspace_id)
        if source_id is not None:
            query = query.where(violations.c.source_id == source_id)
        if event_name is not None:
            query = query.where(violations.c.event_name == event_name)
        if rule is not None:
            query = query.where(violations.c.rule == rule)
        if before_id is not None:
            query = query.where(violations.c.id < before_id)
        query = query.order_by(violations.c.id.desc()).limit(limit)
        with self._engine.connect() as conn:
            return [(row.id, _violation(row._mapping)) for row in conn.execute(query)]

    def violation_counts(
        self, workspace_id: str, *, source_id: str | None = None
    ) -> list[ViolationCount]:
        columns = (violations.c.source_id, violations.c.event_name, violations.c.rule)
        query = (
            select(*columns, func.count(), func.max(violations.c.recorded_at))
            .where(violations.c.workspace_id == workspace_id)
            .group_by(*columns)
            .order_by(func.count().desc(), *columns)
        )
        if source_id is not None:
            query = query.where(violations.c.source_id == source_id)
        with self._engine.connect() as conn:
            return [
                ViolationCount(
                    source_id=source,
                    event_name=event,
                    rule=rule,
                    count=int(count),
                    last_seen=as_utc(last),
                )
                for source, event, rule, count, last in conn.execute(query)
            ]

    def held(
        self,
        workspace_id: str,
        *,
        source_id: str | None = None,
        pending_only: bool = True,
        ids: list[int] | None = None,
        limit: int = 1000,
    ) -> list[HeldMessage]:
        query = select(held_events).where(held_events.c.workspace_id == workspace_id)
        if source_id is not None:
            query = query.where(held_events.c.source_id == source_id)
        if pending_only:
            query = query.where(held_events.c.rerun_at.is_(None))
        if ids is not None:
            query = query.where(held_events.c.id.in_(ids))
        with self._engine.connect() as conn:
            rows = conn.execute(query.order_by(held_events.c.id).limit(limit))
            return [_held(row._mapping) for row in rows]

    def mark_rerun(self, ids: list[int]) -> None:
        if ids:
            with self._engine.begin() as conn:
                conn.execute(
                    update(held_events)
                    .where(held_events.c.id.in_(ids))
                    .values(rerun_at=datetime.now(UTC))
                )

    def count_held(self, workspace_id: str) -> dict[str, int]:
        query = (
            select(held_events.c.disposition, func.count())
            .where(held_events.c.workspace_id == workspace_id)
            .group_by(held_events.c.disposition)
        )
        with self._engine.connect() as conn:
            return {disposition: int(n) for disposition, n in conn.execute(query)}


def _row(record: ViolationRecord | HeldMessage) -> dict[str, Any]:
    return {field: getattr(record, field) for field in record.__struct_fields__}


def _violation(row: Any) -> ViolationRecord:
    data = {k: row[k] for k in ViolationRecord.__struct_fields__}
    data["recorded_at"] = as_utc(data["recorded_at"])
    return ViolationRecord(**data)


def _held(row: Any) -> HeldMessage:
    data = {k: row[k] for k in HeldMessage.__struct_fields__}
    data["held_at"] = as_utc(data["held_at"])
    if data["rerun_at"] is not None:
        data["rerun_at"] = as_utc(data["rerun_at"])
    return HeldMessage(**data)
