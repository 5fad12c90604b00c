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


class Fenced(Exception):
    """A commit refused: a later holder of the partition's lease (a higher epoch) has taken
    the partition over. The refused worker must drop what it holds of that partition."""


PIPELINE_CONSUMER = "pipeline"
"""The consumer name the pipeline commits its offsets under."""

PARTITION_SHIFT = 55
RECORD_SHIFT = 15
MAX_PARTITIONS = 1 << (63 - PARTITION_SHIFT)
MAX_PER_RECORD = 1 << RECORD_SHIFT
"""A record may hold a request's messages (the JetStream log publishes one per request)."""


def position(partition: int, offset: int, index: int = 0) -> int:
    """The one integer that places a message in the log: partition, record offset in it, and
    index in the record. Positions of one partition sort in log order; every store keys its
    rows by it (`log_offset`), so a replay can cut back exactly what a partition wrote."""
    return (partition << PARTITION_SHIFT) | (offset << RECORD_SHIFT) | index


def partition_of(at: int) -> int:
    return at >> PARTITION_SHIFT


def partition_range(partition: int, offset: int = 0) -> tuple[int, int]:
    """Positions [start, end) of a partition's records from `offset` on."""
    return position(partition, offset), position(partition + 1, 0)


class PartitionedLog(Protocol):
    """The log as the pipeline reads it: numbered partitions, each an ordered sequence of
    records with its own committed offset per consumer. Offsets grow within a partition and
    may skip (JetStream's stream sequence is shared by all partitions)."""

    async def partitions(self) -> list[int]:
        """The partitions that exist now (more may appear as writers start)."""
        ...

    async def read(self, partition: int, offset: int, max_records: int) -> list[LogRecord]:
        """Up to `max_records` durable records of `partition` from `offset` (maybe none)."""
        ...

    async def wait(self, positions: dict[int, int], timeout: float) -> None:
        """Return once some partition has a record at or past its offset in `positions`, or
        after `timeout` seconds."""
        ...

    async def end_offset(self, partition: int) -> int:
        """The offset after the partition's last durable record."""
        ...

    async def commit(self, consumer: str, partition: int, offset: int) -> None:
        """Durably record that `consumer` has processed `partition` up to `offset`."""
        ...

    async def committed(self, consumer: str, partition: int) -> int:
        """The offset `consumer` committed last for `partition` (0 when it never did)."""
        ...

    async def close(self) -> None: ...


class LogWriter(Protocol):
    """Appends to the log (one partition of it, chosen by the implementation)."""

    async def append(self, payloads: Sequence[bytes]) -> int:
        """Append records in order; return the first one's offset once all are durable."""
        ...

    async def append_request(self, payloads: Sequence[bytes], request_id: str, key: str) -> None:
        """Append one Tracking API request's envelopes; return once durable.

        `request_id` is the same for a retry of the same request (the JetStream log drops the
        retry inside its duplicate window); `key` keeps one user's requests in one partition.
        """
        ...
