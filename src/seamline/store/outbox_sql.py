"""The delivery outbox, dead letters and delivery counts in the state store.

Workers claim ready rows with a lease (`claimed_until`): on PostgreSQL with `FOR UPDATE SKIP
LOCKED`, so several deliver processes share a destination without blocking each other; on
SQLite (one process) with one `UPDATE … RETURNING`. A worker that dies leaves its claim to
expire, and the rows are delivered again: at least once.
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from datetime import datetime, timedelta
from typing import Any

import msgspec
from sqlalchemy import Engine, and_, delete, exists, func, insert, or_, select, update
from sqlalchemy.dialects import postgresql, sqlite

from seamline.store.state import as_utc, chunks, dead_letters, delivery_counts, outbox
from seamline.store.traces_sql import insert_attempts


class OutboxRow(msgspec.Struct, frozen=True, kw_only=True):
    id: int
    workspace_id: str
    destination: str
    subscription: str
    delivery_key: str
    message_id: str
    profile_key: str | None
    payload: dict[str, Any]
    enqueued_at: datetime
    attempts: int


class DeadLetter(msgspec.Struct, frozen=True, kw_only=True):
    id: int
    workspace_id: str
    destination: str
    subscription: str
    message_id: str
    payload: dict[str, Any]
    error: str
    status: int | None
    request: str | None
    response: str | None
    attempts: int
    failed_at: datetime
    replayed_at: datetime | None


def new_delivery(
    workspace_id: str,
    destination: str,
    subscription: str,
    message_id: str,
    payload: dict[str, Any],
    now: datetime,
    *,
    delivery_key: str | None = None,
    profile_key: str | None = None,
) -> dict[str, Any]:
    """An outbox row ready at once. `delivery_key` (default: the message id) is what makes
    enqueueing idempotent; a replay or a requeued dead letter gives its own."""
    return {
        "workspace_id": workspace_id,
        "destination": destination,
        "subscription": subscription,
        "delivery_key": delivery_key or message_id,
        "message_id": message_id,
        "profile_key": profile_key,
        "payload": payload,
        "enqueued_at": now,
        "attempts": 0,
        "next_attempt_at": now,
    }


class SqlOutbox:
    def __init__(self, engine: Engine) -> None:
        self._engine = engine
        self._postgres = engine.dialect.name == "postgresql"
        self._insert = postgresql.insert if self._postgres else sqlite.insert

    def enqueue(self, rows: Sequence[dict[str, Any]]) -> None:
        """Add deliveries; one already queued under the same (subscription, delivery key) is
        kept as it is — enqueueing is idempotent, so replaying the log adds nothing."""
        if rows:
            with self._engine.begin() as conn:
                conn.execute(self._insert(outbox).on_conflict_do_nothing(), list(rows))

    def claim(
        self,
        workspace_id: str,
        destination: str,
        limit: int,
        now: datetime,
        lease: timedelta,
        ordered: Collection[str] = (),
    ) -> list[OutboxRow]:
        """Up to `limit` ready rows of `destination`, oldest first, leased until now + lease.
        For subscriptions in `ordered` only a profile's oldest pending row is ready."""
        ready = and_(
            outbox.c.workspace_id == workspace_id,
            outbox.c.destination == destination,
            outbox.c.next_attempt_at <= now,
            or_(outbox.c.claimed_until.is_(None), outbox.c.claimed_until < now),
        )
        if ordered:
            earlier = outbox.alias("earlier")
            ready = and_(
                ready,
                or_(
                    outbox.c.subscription.notin_(list(ordered)),
                    outbox.c.profile_key.is_(None),
                    ~exists().where(
                        earlier.c.subscription == outbox.c.subscription,
                        earlier.c.profile_key == outbox.c.profile_key,
                        earlier.c.id < outbox.c.id,
                    ),
                ),
            )
        chosen = select(outbox.c.id).where(ready).order_by(outbox.c.id).limit(limit)
        with self._engine.begin() as conn:
            if self._postgres:
                ids = list(conn.execute(chosen.with_for_update(skip_locked=True)).scalars())
                if not ids:
                    return []
                rows = conn.execute(
                    update(outbox)
                    .where(outbox.c.id.in_(ids))
                    .values(claimed_until=now + lease)
                    .returning(*outbox.c)
                )
            else:
                rows = conn.execute(
                    update(outbox)
                    .where(outbox.c.id.in_(chosen.scalar_subquery()))
                    .values(claimed_until=now + lease)
                    .returning(*outbox.c)
                )
            found = [_row(row._mapping) for row in rows]
        return sorted(found, key=lambda row: row.id)

    def release_claims(self) -> int:
        """Free every row's lease; how many were held. Only for an outbox whose one delivery
        worker is the caller: another worker's rows would be delivered twice."""
        with self._engine.begin() as conn:
            released = conn.execute(
                update(outbox).where(outbox.c.claimed_until.is_not(None)).values(claimed_until=None)
            )
        return int(released.rowcount or 0)

    def renew(self, ids: Sequence[int], until: datetime) -> None:
        """Extend the lease of rows a worker still holds."""
        if ids:
            with self._engine.begin() as conn:
                conn.execute(
                    update(outbox).where(outbox.c.id.in_(list(ids))).values(claimed_until=until)
                )

    # `traced`: the attempts' rows for the message trace (`traces_sql.attempt_row`), written
    # in the same transaction as the outcome they describe.
    def delivered(self, ids: Sequence[int], traced: Sequence[dict[str, Any]] = ()) -> None:
        if ids:
            with self._engine.begin() as conn:
                conn.execute(delete(outbox).where(outbox.c.id.in_(list(ids))))
                insert_attempts(conn, traced)

    def retry_later(
        self,
        ids: Sequence[int],
        when: datetime,
        error: str,
        traced: Sequence[dict[str, Any]] = (),
    ) -> None:
        if ids:
            with self._engine.begin() as conn:
                insert_attempts(conn, traced)
                conn.execute(
                    update(outbox)
                    .where(outbox.c.id.in_(list(ids)))
                    .values(
                        attempts=outbox.c.attempts + 1,
                        next_attempt_at=when,
                        claimed_until=None,
                        last_error=error[:2000],
                    )
                )

    def give_up(
        self,
        rows: Sequence[OutboxRow],
        now: datetime,
        error: str,
        status: int | None,
        request: str | None,
        response: str | None,
        traced: Sequence[dict[str, Any]] = (),
    ) -> None:
        """Move rows to the dead letters, with the exchange that shows why."""
        if not rows:
            return
        with self._engine.begin() as conn:
            insert_attempts(conn, traced)
            conn.execute(
                insert(dead_letters),
                [
                    {
                        "workspace_id": row.workspace_id,
                        "destination": row.destination,
                        "subscription": row.subscription,
                        "message_id": row.message_id,
                        "payload": row.payload,
                        "error": error[:4000],
                        "status": status,
                        "request": request,
                        "response": response,
                        "attempts": row.attempts + 1,
                        "failed_at": now,
                    }
                    for row in rows
                ],
            )
            conn.execute(delete(outbox).where(outbox.c.id.in_([row.id for row in rows])))

    def pending(self, workspace_id: str) -> dict[str, int]:
        query = (
            select(outbox.c.destination, func.count())
            .where(outbox.c.workspace_id == workspace_id)
            .group_by(outbox.c.destination)
        )
        with self._engine.connect() as conn:
            return {destination: int(n) for destination, n in conn.execute(query)}

    def holds(self, message_ids: list[str]) -> bool:
        """Whether a delivery of one of these messages still waits in the outbox."""
        with self._engine.connect() as conn:
            for chunk in chunks(message_ids, 500):
                found = conn.execute(
                    select(outbox.c.id).where(outbox.c.message_id.in_(chunk)).limit(1)
                ).first()
                if found is not None:
                    return True
        return False

    def dead(
        self, workspace_id: str, destination: str | None = None, *, pending_only: bool = True
    ) -> list[DeadLetter]:
        query = select(dead_letters).where(dead_letters.c.workspace_id == workspace_id)
        if destination is not None:
            query = query.where(dead_letters.c.destination == destination)
        if pending_only:
            query = query.where(dead_letters.c.replayed_at.is_(None))
        with self._engine.connect() as conn:
            return [_dead(row._mapping) for row in conn.execute(query.order_by(dead_letters.c.id))]

    def requeue_dead(self, letters: Sequence[DeadLetter], now: datetime) -> int:
        """Queue dead letters again (after the destination was fixed), once each."""
        if not letters:
            return 0
        with self._engine.begin() as conn:
            conn.execute(
                self._insert(outbox).on_conflict_do_nothing(),
                [
                    new_delivery(
                        letter.workspace_id,
                        letter.destination,
                        letter.subscription,
                        letter.message_id,
                        letter.payload,
                        now,
                        delivery_key=f"{letter.message_id}#dead-{letter.id}",
                    )
                    for letter in letters
                ],
            )
            conn.execute(
                update(dead_letters)
                .where(dead_letters.c.id.in_([letter.id for letter in letters]))
                .values(replayed_at=now)
            )
        return len(letters)

    def count(self, found: dict[tuple[str, str, str, datetime, str, str], int]) -> None:
        """Add to the per-minute counts: (workspace, destination, subscription, minute,
        outcome, reason) → how many."""
        if not found:
            return
        statement = self._insert(delivery_counts)
        with self._engine.begin() as conn:
            conn.execute(
                statement.on_conflict_do_update(
                    index_elements=[
                        "workspace_id",
                        "destination",
                        "subscription",
                        "minute",
                        "outcome",
                        "reason",
                    ],
                    set_={"count": delivery_counts.c.count + statement.excluded["count"]},
                ),
                [
                    {
                        "workspace_id": w,
                        "destination": d,
                        "subscription": s,
                        "minute": m,
                        "outcome": o,
                        "reason": r,
                        "count": n,
                    }
                    for (w, d, s, m, o, r), n in found.items()
                ],
            )

    def counts(
        self, workspace_id: str, since: datetime, destination: str | None = None
    ) -> list[tuple[str, str, str, str, int]]:
        """(destination, subscription, outcome, reason, count) since `since`."""
        columns = (
            delivery_counts.c.destination,
            delivery_counts.c.subscription,
            delivery_counts.c.outcome,
            delivery_counts.c.reason,
        )
        query = (
            select(*columns, func.sum(delivery_counts.c.count))
            .where(
                delivery_counts.c.workspace_id == workspace_id,
                delivery_counts.c.minute >= since,
            )
            .group_by(*columns)
            .order_by(*columns)
        )
        if destination is not None:
            query = query.where(delivery_counts.c.destination == destination)
        with self._engine.connect() as conn:
            return [(d, s, o, r, int(n)) for d, s, o, r, n in conn.execute(query)]


def _row(row: Any) -> OutboxRow:
    return OutboxRow(
        id=row["id"],
        workspace_id=row["workspace_id"],
        destination=row["destination"],
        subscription=row["subscription"],
        delivery_key=row["delivery_key"],
        message_id=row["message_id"],
        profile_key=row["profile_key"],
        payload=row["payload"],
        enqueued_at=as_utc(row["enqueued_at"]),
        attempts=row["attempts"],
    )


def _dead(row: Any) -> DeadLetter:
    data = {k: row[k] for k in DeadLetter.__struct_fields__}
    data["failed_at"] = as_utc(data["failed_at"])
    if data["replayed_at"] is not None:
        data["replayed_at"] = as_utc(data["replayed_at"])
    return DeadLetter(**data)
