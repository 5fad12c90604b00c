"""Retention on the JetStream log: each partition's oldest records are purged from the stream
once every message in them has expired and the pipeline has committed past them.

The scan reads the partition from its start with a reader of its own (the pipeline's stays
where it is) and stops at the first record to keep; what lies before it goes in one purge of
the partition's subject. The newest record of a partition is always kept, since the
partition's end offset is read from it. Offsets (stream sequences) do not change.
"""

from __future__ import annotations

from seamline.log.expire import Dropped, IsExpired, record_expired
from seamline.log.nats import NatsLog

_BATCH = 1000


async def expire_nats_partition(
    log: NatsLog, partition: int, committed: int, expired: IsExpired
) -> Dropped:
    """Purge the partition's records before the first one that has not `expired` or lies at
    or past `committed` (or is the newest); how many went (segments: always 0)."""
    end = await log.end_offset(partition)
    limit = min(committed, end - 1)
    reader = log.scanner(partition)
    dropped, keep_from, offset = 0, limit, 0
    try:
        while offset < limit:
            records = await reader.read(offset, _BATCH)
            if not records:
                break
            kept = next(
                (r for r in records if r.offset >= limit or not record_expired(r.payload, expired)),
                None,
            )
            if kept is not None:
                dropped += sum(1 for r in records if r.offset < kept.offset)
                keep_from = kept.offset
                break
            dropped += len(records)
            offset = records[-1].offset + 1
    finally:
        await reader.close()
    if dropped:
        await log.purge_before(partition, keep_from)
    return Dropped(0, dropped)
