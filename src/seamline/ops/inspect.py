"""Read-only views of a data directory for the CLI, safe while a server is running."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import msgspec

from seamline.config import Settings
from seamline.data_dir import DataDir
from seamline.log.partitions import LocalPartitions
from seamline.log.tombstone import erased_count, is_tombstone


def count_events(settings: Settings) -> dict[str, int | None]:
    """`accepted` durable log records (None on JetStream) and `stored` event-store rows; live
    while serving."""
    from seamline.data_dir import open_state
    from seamline.ops.status import log_partitions
    from seamline.store.event_files import EventFiles

    # A record is a message in the local log. On JetStream a record is a request and offsets
    # are the stream's sequence numbers, so there is no count of accepted messages to show.
    # Erased records (tombstones) are not counted: the messages are gone.
    accepted = (
        None
        if settings.log_url
        else sum(r["end"] for r in log_partitions(settings)) - erased_records(settings)
    )
    engine = open_state(settings)
    try:
        stored = EventFiles(engine).rows()
    finally:
        engine.dispose()
    return {"accepted": accepted, "stored": stored}


def erased_records(settings: Settings) -> int:
    """Records of the local log overwritten by tombstones, over every partition."""
    log = LocalPartitions(DataDir(settings.data_dir).log)
    return sum(erased_count(log.directory(p)) for p in log.partitions_sync())


def tail_log(
    data_dir: Path, *, start: int | None, count: int | None, follow: bool, poll: float = 0.2
) -> Iterator[str]:
    """Yield accepted messages as JSON lines, like `tail`, from every log partition.

    `start` None begins with the last `count` records (by receivedAt across partitions), else
    at offset `start` of each partition; without `follow` it stops after `count` records (all,
    if None) or at the end the log had when called, and with `follow` it waits for new records.
    """
    log = LocalPartitions(DataDir(data_dir).log)
    ends = log.end_offsets()
    if start is None:
        lines = [
            line
            for partition, end in ends.items()
            # As many records again as the partition has tombstones: those print nothing.
            for line in _lines(
                log,
                partition,
                max(0, end - (count or 0) - erased_count(log.directory(partition))),
                end,
            )
        ]
        lines.sort(key=lambda line: (str(line[1].get("receivedAt", "")), line[1]["offset"]))
        shown = lines[-count:] if count else []
    else:
        shown = [
            line
            for partition, end in ends.items()
            for line in _lines(log, partition, start, end if count is None else start + count)
        ]
        shown = shown[:count] if count is not None else shown
    for _, line in shown:
        yield msgspec.json.encode(line).decode()
    if not follow:
        return
    offsets = {p: max(ends[p], start or 0) for p in ends}
    while True:
        for partition in log.partitions_sync():
            offset = offsets.setdefault(partition, 0)
            new = _lines(log, partition, offset, None)
            for _, line in new:
                yield msgspec.json.encode(line).decode()
            offsets[partition] = offset + len(new)
        time.sleep(poll)


def _lines(
    log: LocalPartitions, partition: int, offset: int, stop: int | None
) -> list[tuple[int, dict[str, Any]]]:
    """(offset, tail line) of a partition's records from `offset` up to `stop` (the end)."""
    lines: list[tuple[int, dict[str, Any]]] = []
    while stop is None or offset < stop:
        wanted = 500 if stop is None else min(500, stop - offset)
        records = log.read_sync(partition, offset, wanted)
        if not records:
            break
        for record in records:
            if is_tombstone(record.payload):
                continue  # erased (a deletion regulation)
            envelope = _tail_decoder.decode(record.payload)
            line = {
                "partition": partition,
                "offset": record.offset,
                "source_id": envelope.source_id,
                **envelope.message,
            }
            lines.append((record.offset, line))
        offset = records[-1].offset + 1
    return lines


class _TailLine(msgspec.Struct):
    """What `events tail` prints of a log envelope: the message as sent on, and its source."""

    source_id: str
    message: dict[str, Any]


_tail_decoder = msgspec.json.Decoder(_TailLine)
