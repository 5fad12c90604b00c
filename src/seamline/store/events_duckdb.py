"""The embedded event store: one DuckDB table, one row per stored message.

The Spec's top-level fields are columns; `properties`, `traits`, `context` and `integrations`
are JSON. `log_offset` ties each row to its log record, so a restart can cut the store back to
the committed offset and replay without storing anything twice.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import duckdb
import pyarrow as pa

from seamline.spec.envelope import Item

COLUMNS: tuple[tuple[str, str], ...] = (
    ("log_offset", "BIGINT NOT NULL"),
    ("workspace_id", "VARCHAR NOT NULL"),
    ("source_id", "VARCHAR NOT NULL"),
    ("message_id", "VARCHAR NOT NULL"),
    ("type", "VARCHAR NOT NULL"),
    ("event", "VARCHAR"),
    ("name", "VARCHAR"),
    ("category", "VARCHAR"),
    ("user_id", "VARCHAR"),
    ("anonymous_id", "VARCHAR"),
    ("group_id", "VARCHAR"),
    ("previous_id", "VARCHAR"),
    ("timestamp", "TIMESTAMPTZ"),
    ("original_timestamp", "TIMESTAMPTZ"),
    ("sent_at", "TIMESTAMPTZ"),
    ("received_at", "TIMESTAMPTZ NOT NULL"),
    ("channel", "VARCHAR"),
    ("version", "VARCHAR"),
    ("properties", "JSON"),
    ("traits", "JSON"),
    ("context", "JSON"),
    ("integrations", "JSON"),
)

_TIME = pa.timestamp("us", tz="UTC")
_ARROW_TYPES = {"BIGINT": pa.int64(), "TIMESTAMPTZ": _TIME}


def _arrow_type(sql_type: str) -> pa.DataType:
    return _ARROW_TYPES.get(sql_type.split()[0], pa.string())


_SCHEMA = pa.schema([(name, _arrow_type(sql)) for name, sql in COLUMNS])


class DuckDBEventStore:
    """Event history in a DuckDB file; single writer (the pipeline)."""

    def __init__(self, path: Path, *, read_only: bool = False) -> None:
        self._path = path
        if not read_only:
            path.parent.mkdir(parents=True, exist_ok=True)
        self._conn = duckdb.connect(str(path), read_only=read_only)
        if not read_only:
            columns = ", ".join(f'"{name}" {sql}' for name, sql in COLUMNS)
            self._conn.execute(f"CREATE TABLE IF NOT EXISTS events ({columns})")

    def write(self, items: Sequence[Item]) -> int:
        """Append one row per item in a single transaction; returns the number written."""
        if not items:
            return 0
        table = _to_arrow(items)
        self._conn.register("incoming", table)
        try:
            self._conn.execute("INSERT INTO events SELECT * FROM incoming")
        finally:
            self._conn.unregister("incoming")
        return len(items)

    def truncate_from(self, offset: int) -> int:
        """Delete rows from log records at or after `offset` (not yet committed in the log)."""
        row = self._conn.execute(
            "DELETE FROM events WHERE log_offset >= ? RETURNING 1", [offset]
        ).fetchall()
        return len(row)

    def count(self) -> int:
        rows = self._conn.execute("SELECT count(*) FROM events").fetchall()
        return int(rows[0][0])

    def query(self, sql: str, parameters: Sequence[Any] = ()) -> list[tuple[Any, ...]]:
        """Run a read query (for tests, the CLI and later the Profile API)."""
        return self._conn.execute(sql, list(parameters)).fetchall()

    def close(self) -> None:
        self._conn.close()


def _text(raw: Any) -> str | None:
    return bytes(raw).decode() if raw else None


def _to_arrow(items: Sequence[Item]) -> pa.Table:
    columns: dict[str, list[Any]] = {name: [] for name, _ in COLUMNS}
    for item in items:
        m = item.envelope.message
        columns["log_offset"].append(item.offset)
        columns["workspace_id"].append(item.envelope.workspace_id)
        columns["source_id"].append(item.envelope.source_id)
        columns["message_id"].append(m.message_id)
        columns["type"].append(m.type)
        columns["event"].append(m.event)
        columns["name"].append(m.name)
        columns["category"].append(m.category)
        columns["user_id"].append(m.user_id)
        columns["anonymous_id"].append(m.anonymous_id)
        columns["group_id"].append(m.group_id)
        columns["previous_id"].append(m.previous_id)
        columns["timestamp"].append(m.timestamp)
        columns["original_timestamp"].append(m.original_timestamp)
        columns["sent_at"].append(m.sent_at)
        columns["received_at"].append(m.received_at)
        columns["channel"].append(m.channel)
        columns["version"].append(None if m.version is None else str(m.version))
        columns["properties"].append(_text(m.properties))
        columns["traits"].append(_text(m.traits))
        columns["context"].append(_text(m.context))
        columns["integrations"].append(_text(m.integrations))
    return pa.Table.from_pydict(columns, schema=_SCHEMA)
