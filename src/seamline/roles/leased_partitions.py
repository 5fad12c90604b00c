"""JetStream's partitions shared by pipeline workers: leases in the state store, fenced commits.

A worker holds each partition under a lease whose epoch grows on every takeover
(`store.leases_sql`). Taking a partition up stores that epoch beside its committed offset in
the offsets bucket, and every commit is a compare-and-set that refuses a lower epoch
(`NatsLog.commit`): a worker that stalled past its lease cannot move the offset once its
successor has taken the partition over, and learns it has lost the partition (`Fenced`).
"""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING

from seamline.store.leases_sql import PartitionLeases

if TYPE_CHECKING:
    from seamline.log.nats import NatsLog


class LeasedPartitions:
    """The runner's `SharedPartitions` over a `NatsLog` and one worker's `PartitionLeases`."""

    def __init__(self, log: NatsLog, leases: PartitionLeases) -> None:
        self._log = log
        self.leases = leases

    async def claim(self, consumer: str, partitions: list[int]) -> dict[int, int]:
        """Renew, take and give back leases; the partitions held now and their epochs."""
        return await asyncio.to_thread(self.leases.claim, consumer, partitions)

    async def take_over(self, consumer: str, partition: int, epoch: int) -> int:
        """Fence earlier holders out of `partition`; the offset to resume it from."""
        return await self._log.take_over(consumer, partition, epoch)

    async def commit(self, consumer: str, partition: int, offset: int, epoch: int) -> None:
        """Commit under `epoch`; `Fenced` when a later holder has taken the partition over."""
        await self._log.commit(consumer, partition, offset, epoch=epoch)
