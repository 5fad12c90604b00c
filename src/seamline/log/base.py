"""The `EventLog` interface every log implementation provides."""

from __future__ import annotations

from collections.abc import Sequence
from typing import NamedTuple, Protocol


class LogRecord(NamedTuple):
    """One record of the log: its offset (0, 1, 2 …) and the bytes appended."""

    offset: int
    payload: bytes


class EventLog(Protocol):
    """An append-only, durable sequence of records with per-consumer committed offsets."""

    async def append(self, payloads: Sequence[bytes]) -> int:
        """Append records in order; return the first one's offset once all are durable."""
        ...

    async def read(self, offset: int, max_records: int) -> list[LogRecord]:
        """Return up to `max_records` durable records starting at `offset` (maybe none)."""
        ...

    async def wait(self, offset: int, timeout: float) -> bool:
        """Wait until a record at `offset` is durable; False if `timeout` seconds passed first."""
        ...

    async def end_offset(self) -> int:
        """The offset the next appended record will get (= number of durable records)."""
        ...

    async def commit(self, consumer: str, offset: int) -> None:
        """Durably record that `consumer` has processed every record before `offset`."""
        ...

    async def committed(self, consumer: str) -> int:
        """The offset `consumer` committed last (0 when it never committed)."""
        ...

    async def close(self) -> None:
        """Finish pending appends and release files or connections."""
        ...
