"""Read what a server stored, straight from its event store (safe while it runs)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from seamline.store.events_lake import LakeEventStore
from seamline.store.state import open_state_store


def stored_events(data_dir: Path) -> list[dict[str, Any]]:
    """Every stored row as a dict, in log order."""
    engine = open_state_store(f"sqlite:///{data_dir / 'state.db'}")
    store = LakeEventStore(data_dir / "events", engine, writable=False)
    try:
        cursor = store.query("SELECT * FROM events ORDER BY log_offset")
        names = [name for name, _ in _columns(store)]
        return [dict(zip(names, row, strict=True)) for row in cursor]
    finally:
        store.close()
        engine.dispose()


def _columns(store: LakeEventStore) -> list[tuple[str, str]]:
    return [(str(r[0]), str(r[1])) for r in store.query("DESCRIBE events")]
