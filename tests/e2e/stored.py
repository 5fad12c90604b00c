"""Read what a stopped server stored, straight from its event store."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from seamline.store.events_duckdb import DuckDBEventStore


def stored_events(data_dir: Path) -> list[dict[str, Any]]:
    """Every stored row as a dict, in log order (the server must be stopped)."""
    store = DuckDBEventStore(data_dir / "events.duckdb", read_only=True)
    try:
        cursor = store.query("SELECT * FROM events ORDER BY log_offset")
        names = [name for name, _ in _columns(store)]
        return [dict(zip(names, row, strict=True)) for row in cursor]
    finally:
        store.close()


def _columns(store: DuckDBEventStore) -> list[tuple[str, str]]:
    return [(str(r[0]), str(r[1])) for r in store.query("DESCRIBE events")]
