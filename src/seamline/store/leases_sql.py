"""Leases on log partitions, so pipeline workers on several machines share the log.

Each worker, about once a second, renews its leases (and a row saying it is alive) and evens
out the load: it takes free or expired partitions up to its fair share (partitions / live
workers, rounded up) and gives back what is over it, so a worker that joins gets partitions and
one that dies loses them when its leases expire. Claims are serialised (an advisory lock on
PostgreSQL; SQLite has one writer).

Every lease carries an epoch, a fencing token that grows each time the partition changes hands
(a row is never deleted, only expired, so its epoch is never lost). The log stores the epoch
with each committed offset and refuses a commit under a lower one: a worker that stalled past
its lease (a GC pause, SIGSTOP) cannot write an old offset over its successor's.
"""

from __future__ import annotations

import math
import time
import zlib
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta

from sqlalchemy import Engine, and_, delete, insert, select, text, update

from seamline.store.state import partition_leases

DEFAULT_TTL = 10.0
"""Seconds a lease lasts unless renewed: how long a dead worker's partitions wait."""


class PartitionLeases:
    """One worker's view of the leases of `consumer`."""

    def __init__(self, engine: Engine, owner: str, *, ttl: float = DEFAULT_TTL) -> None:
        self._engine = engine
        self.owner = owner
        self._ttl = timedelta(seconds=ttl)
        # A worker's presence, so one that holds no partition yet still counts in the shares:
        # a row of its own under a negative partition number derived from its name.
        self._presence = -1 - zlib.crc32(owner.encode()) % (1 << 30)

    def claim(self, consumer: str, partitions: Sequence[int]) -> dict[int, int]:
        """Renew, take and give back leases; the partitions this worker holds now, each with
        its lease's epoch (which stays the same while this worker keeps the lease)."""
        now = datetime.now(UTC)
        until = now + self._ttl
        table = partition_leases
        mine_where = and_(table.c.consumer == consumer, table.c.owner == self.owner)
        with self._engine.begin() as conn:
            if conn.dialect.name == "postgresql":
                conn.execute(text("SELECT pg_advisory_xact_lock(hashtext(:k))"), {"k": consumer})
            conn.execute(update(table).where(mine_where).values(expires_at=until))
            if not conn.execute(
                select(table.c.owner).where(mine_where, table.c.log_partition == self._presence)
            ).first():
                conn.execute(
                    insert(table).values(
                        consumer=consumer,
                        log_partition=self._presence,
                        owner=self.owner,
                        expires_at=until,
                    )
                )
            rows = conn.execute(
                select(
                    table.c.log_partition, table.c.owner, table.c.expires_at, table.c.epoch
                ).where(table.c.consumer == consumer)
            ).all()
            live = {owner for _, owner, expires, _ in rows if _aware(expires) > now}
            rows = [row for row in rows if row[0] >= 0]
            share = math.ceil(len(partitions) / len(live)) if partitions else 0
            epochs = {p: epoch for p, _, _, epoch in rows}
            held = sorted(p for p, owner, _, _ in rows if owner == self.owner and p in partitions)
            if len(held) > share:
                # Given back by expiring, not deleting: the next holder's epoch must be higher.
                extra = held[share:]
                conn.execute(
                    update(table)
                    .where(mine_where, table.c.log_partition.in_(extra))
                    .values(owner="", expires_at=now)
                )
                held = held[:share]
            taken = {p: _aware(expires) > now for p, _, expires, _ in rows}
            for partition in partitions:
                if len(held) >= share:
                    break
                if partition in held or taken.get(partition, False):
                    continue
                if partition in taken:  # expired or given back: take it over, a new epoch
                    epochs[partition] = next_epoch(epochs[partition])
                    conn.execute(
                        update(table)
                        .where(table.c.consumer == consumer, table.c.log_partition == partition)
                        .values(owner=self.owner, expires_at=until, epoch=epochs[partition])
                    )
                else:
                    epochs[partition] = next_epoch(0)
                    conn.execute(
                        insert(table).values(
                            consumer=consumer,
                            log_partition=partition,
                            owner=self.owner,
                            expires_at=until,
                            epoch=epochs[partition],
                        )
                    )
                held.append(partition)
        return {p: epochs[p] for p in sorted(held)}

    def release(self, consumer: str) -> None:
        """Give back every lease (on a clean stop: others take over at once)."""
        table = partition_leases
        mine = and_(table.c.consumer == consumer, table.c.owner == self.owner)
        with self._engine.begin() as conn:
            conn.execute(delete(table).where(mine, table.c.log_partition == self._presence))
            # Expired, not deleted: each partition keeps its epoch for the next holder's.
            conn.execute(update(table).where(mine).values(owner="", expires_at=datetime.now(UTC)))


def next_epoch(last: int) -> int:
    """An epoch above `last`: the time in milliseconds, so that a lease table started afresh
    (its epochs lost) still hands out epochs above those the log has stored, or `last` + 1
    when the clock says less."""
    return max(last + 1, time.time_ns() // 1_000_000)


def _aware(value: datetime) -> datetime:
    return value if value.tzinfo is not None else value.replace(tzinfo=UTC)
