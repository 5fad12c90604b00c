"""Read-only views of a data directory for the CLI, safe while a server is running."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import msgspec

from seamline.data_dir import DataDir
from seamline.log.local import LocalLog


def count_events(data_dir: Path) -> dict[str, int]:
    """`accepted` durable log records and `stored` event-store rows.

    A running server holds DuckDB's write lock; then the figure the pipeline last recorded
    (after its latest commit) is reported instead.
    """
    paths = DataDir(data_dir)
    accepted = LocalLog(paths.log, writable=False).end_offset_sync()
    stored = 0
    if paths.events.exists():
        # Imported here: DuckDB (and the Arrow it loads) only when there is a store to count.
        import duckdb

        from seamline.store.events_duckdb import DuckDBEventStore

        try:
            store = DuckDBEventStore(paths.events, read_only=True)
        except duckdb.IOException:
            stored = _recorded_stored(paths.progress)
        else:
            try:
                stored = store.count()
            finally:
                store.close()
    return {"accepted": accepted, "stored": stored}


def _recorded_stored(progress: Path) -> int:
    try:
        return int(json.loads(progress.read_text())["stored"])
    except (FileNotFoundError, KeyError, ValueError):
        return 0


def tail_log(
    data_dir: Path, *, start: int | None, count: int | None, follow: bool, poll: float = 0.2
) -> Iterator[str]:
    """Yield accepted messages as JSON lines, like `tail`.

    `start` None begins `count` records before the end (the last `count`), else at offset
    `start`; without `follow` it stops after `count` records (all, if None) or at the end the
    log had when called, and with `follow` it waits for new records forever.
    """
    log = LocalLog(DataDir(data_dir).log, writable=False)
    end = log.end_offset_sync()
    offset = max(0, end - (count or 0)) if start is None else start
    # Without `follow`, what arrives while printing is left for the next call, as `tail` does.
    stop = None if follow else end if start is None or count is None else start + count
    while stop is None or offset < stop:
        wanted = 500 if stop is None else min(500, stop - offset)
        records = log.read_sync(offset, wanted)
        if not records:
            if not follow:
                return
            time.sleep(poll)
            continue
        for record in records:
            envelope = _tail_decoder.decode(record.payload)
            line = {"offset": record.offset, "source_id": envelope.source_id, **envelope.message}
            yield msgspec.json.encode(line).decode()
        offset = records[-1].offset + 1


class _TailLine(msgspec.Struct):
    """What `events tail` prints of a log envelope: the message as sent on, and its source."""

    source_id: str
    message: dict[str, Any]


_tail_decoder = msgspec.json.Decoder(_TailLine)
