"""Erasing one person's messages from the JetStream log (see `log.erase`).

A record whose envelopes all match is deleted by its stream sequence, and the server overwrites
its bytes in the store (`no_erase: false`). A record (one Tracking API request) holding other
people's envelopes too is first published again with only those, as a new record at the end of
the same partition, then deleted: the kept envelopes get new positions, and the paused
pipeline, already past them, reads them again, where the dedup stage drops them as duplicates
within its window (every effect is idempotent by messageId after it). The republished record
carries a message id made from the old sequence, so an erasure run again after a crash does
not publish it twice (inside the stream's duplicate window).
"""

from __future__ import annotations

from collections.abc import Collection

from seamline.log.erase import LogErasure, Matches, Progress, erase_record
from seamline.log.nats import NatsLog
from seamline.log.tombstone import is_tombstone

_BATCH = 1000  # records per read


async def erase_nats(
    log: NatsLog,
    matches: Matches,
    needles: Collection[bytes] | None,
    progress: Progress | None = None,
) -> LogErasure:
    """`erase_from_log` for JetStream."""
    result = LogErasure()
    total = await log.stored_bytes()
    writer = log.writer()
    for partition in await log.partitions():
        offset = 0
        while records := await log.read(partition, offset, _BATCH):
            for record in records:
                payload = record.payload
                result.records_scanned += 1
                result.bytes_scanned += len(payload)
                if needles is not None:
                    lowered = payload.lower()
                    if not any(needle in lowered for needle in needles):
                        continue
                replacement = erase_record(payload, matches, result)
                if replacement is None:
                    continue
                if not is_tombstone(replacement):
                    await writer.append(
                        [replacement.rstrip(b" ")],
                        partition=partition,
                        msg_id=f"erase-{log.stream}-{record.offset}",
                    )
                await log.delete_record(record.offset)
            offset = records[-1].offset + 1
            if progress is not None:
                progress(min(result.bytes_scanned, total), total)
    return result
