"""Leases on log partitions, so pipeline workers on several machines share the log.

Each worker, about once a second, renews its leases (and a row saying it is alive) and evens
out the load: it takes free or expired partitions up to its fair share (partitions / live
workers, rounded up) and gives back what is over it, so a worker that joins gets partitions and
one that dies loses them when its leases expire. Claims are serialised (an advisory lock on
PostgreSQL; SQLite has one writer).
"""

from __future__ import annotations

import math
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

    def claim(self, consumer: str, partitions: Sequence[int]) -> list[int]:
        """Renew, take and give back leases; the partitions this worker holds now."""
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
                select(table.c.log_partition, table.c.owner, table.c.expires_at).where(
                    table.c.consumer == consumer
                )
            ).all()
            live = {owner for _, owner, expires in rows if _aware(expires) > now}
            rows = [row for row in rows if row[0] >= 0]
            share = math.ceil(len(partitions) / len(live)) if partitions else 0
            held = sorted(p for p, owner, _ in rows if owner == self.owner and p in partitions)
            if len(held) > share:
                extra = held[share:]
                conn.execute(delete(table).where(mine_where, table.c.log_partition.in_(extra)))
                held = held[:share]
            taken = {p: _aware(expires) > now for p, _, expires in rows}
            for partition in partitions:
                if len(held) >= share:
                    break
                if partition in held or taken.get(partition, False):
                    continue
                if partition in taken:  # expired: take it over
                    conn.execute(
                        update(table)
                        .where(table.c.consumer == consumer, table.c.log_partition == partition)
                        .values(owner=self.owner, expires_at=until)
                    )
                else:
                    conn.execute(
                        insert(table).values(
                            consumer=consumer,
                            log_partition=partition,
                            owner=self.owner,
                            expires_at=until,
                        )
                    )
                held.append(partition)
        return sorted(held)

    def release(self, consumer: str) -> None:
        """Give back every lease (on a clean stop: others take over at once)."""
        with self._engine.begin() as conn:
            conn.execute(
                delete(partition_leases).where(
                    partition_leases.c.consumer == consumer,
                    partition_leases.c.owner == self.owner,
                )
            )


def _aware(value: datetime) -> datetime:
    return value if value.tzinfo is not None else value.replace(tzinfo=UTC)
