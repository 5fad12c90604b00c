"""A one-partition view of an `EventLog`, for tools and tests that hold a single log."""

from __future__ import annotations

from seamline.log.base import EventLog, LogRecord


class SinglePartition:
    """`PartitionedLog` over an `EventLog`: partition 0 is the whole log."""

    def __init__(self, log: EventLog) -> None:
        self._log = log

    async def partitions(self) -> list[int]:
        return [0]

    async def read(self, partition: int, offset: int, max_records: int) -> list[LogRecord]:
        return await self._log.read(offset, max_records)

    async def wait(self, positions: dict[int, int], timeout: float) -> None:
        await self._log.wait(positions.get(0, 0), timeout)

    async def end_offset(self, partition: int) -> int:
        return await self._log.end_offset()

    async def commit(self, consumer: str, partition: int, offset: int) -> None:
        await self._log.commit(consumer, offset)

    async def committed(self, consumer: str, partition: int) -> int:
        return await self._log.committed(consumer)

    async def close(self) -> None:
        await self._log.close()
