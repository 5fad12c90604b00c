"""Read-only views of a data directory for the CLI, safe while a server is running."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import duckdb
import msgspec

from seamline.log.local import LocalLog


def count_events(data_dir: Path) -> dict[str, int]:
    """`accepted` durable log records and `stored` event-store rows.

    A running server holds DuckDB's write lock; then the figure the pipeline last recorded
    (after its latest commit) is reported instead.
    """
    from seamline.data_dir import DataDir
    from seamline.store.events_duckdb import DuckDBEventStore

    paths = DataDir(data_dir)
    accepted = LocalLog(paths.log, writable=False).end_offset_sync()
    stored = 0
    if paths.events.exists():
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


def follow_log(data_dir: Path, *, from_start: bool, poll: float = 0.2) -> Iterator[str]:
    """Yield each accepted message as a JSON line, following new ones forever."""
    from seamline.data_dir import DataDir

    log = LocalLog(DataDir(data_dir).log, writable=False)
    offset = 0 if from_start else log.end_offset_sync()
    while True:
        records = log.read_sync(offset, 500)
        if not records:
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
