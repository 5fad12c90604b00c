"""Read-only views of a data directory for the CLI, safe while a server is running."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from pathlib import Path

import duckdb
import msgspec

from seamline.log.local import LocalLog
from seamline.spec.envelope import envelope_decoder


def count_events(data_dir: Path) -> dict[str, int]:
    """`accepted` durable log records and `stored` event-store rows.

    A running server holds DuckDB's write lock; then the figure the pipeline last recorded
    (after its latest commit) is reported instead.
    """
    from seamline.app import DataDir
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
    from seamline.app import DataDir

    log = LocalLog(DataDir(data_dir).log, writable=False)
    offset = 0 if from_start else log.end_offset_sync()
    while True:
        records = log.read_sync(offset, 500)
        if not records:
            time.sleep(poll)
            continue
        for record in records:
            envelope = envelope_decoder.decode(record.payload)
            line = msgspec.json.encode(
                {"offset": record.offset, "source_id": envelope.source_id, **_as_dict(envelope)}
            )
            yield line.decode()
        offset = records[-1].offset + 1


def _as_dict(envelope: object) -> dict[str, object]:
    message = msgspec.json.decode(msgspec.json.encode(envelope))["message"]
    assert isinstance(message, dict)
    return message
