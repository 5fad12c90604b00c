"""The event store's rows: one per stored message, and how they are made and read back.

The Spec's top-level fields are columns; `properties`, `traits`, `context` and `integrations`
are JSON. `log_offset` is the message's log position (`log.base.position`), so a restart can
cut the store back to a partition's committed offset and replay without storing anything twice.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import datetime
from typing import Any

import msgspec
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
    ("profile_id", "VARCHAR"),
)

# How each column is read out of a message's JSON: (column, JSON key, DuckDB type in JSON).
_FROM_MESSAGE: tuple[tuple[str, str, str], ...] = (
    ("message_id", "messageId", "VARCHAR"),
    ("type", "type", "VARCHAR"),
    ("event", "event", "VARCHAR"),
    ("name", "name", "VARCHAR"),
    ("category", "category", "VARCHAR"),
    ("user_id", "userId", "VARCHAR"),
    ("anonymous_id", "anonymousId", "VARCHAR"),
    ("group_id", "groupId", "VARCHAR"),
    ("previous_id", "previousId", "VARCHAR"),
    ("timestamp", "timestamp", "TIMESTAMPTZ"),
    ("original_timestamp", "originalTimestamp", "TIMESTAMPTZ"),
    ("sent_at", "sentAt", "TIMESTAMPTZ"),
    ("received_at", "receivedAt", "TIMESTAMPTZ"),
    ("channel", "channel", "VARCHAR"),
    ("version", "version", "VARCHAR"),
    ("properties", "properties", "JSON"),
    ("traits", "traits", "JSON"),
    ("context", "context", "JSON"),
    ("integrations", "integrations", "JSON"),
)
_SHAPE = json.dumps(
    {key: ("VARCHAR" if kind == "TIMESTAMPTZ" else kind) for _, key, kind in _FROM_MESSAGE}
)


def _select_column(column: str, key: str, kind: str) -> str:
    value = f'm."{key}"'
    value = f"CAST({value} AS TIMESTAMPTZ)" if kind == "TIMESTAMPTZ" else value
    return f"{value} AS {column}"


# Rows are built by DuckDB from each message's JSON in one vectorised pass (`from_json`):
# building Arrow columns from Python objects instead cost ~22 µs per event, this ~6 µs.
SELECT_ROWS = (
    "SELECT log_offset, workspace_id, source_id, "
    + ", ".join(_select_column(*spec) for spec in _FROM_MESSAGE)
    + ", profile_id FROM (SELECT log_offset, workspace_id, source_id, profile_id,"
    f" from_json(decode(message), '{_SHAPE}') AS m FROM incoming)"
)
"""The rows of the Arrow table `incoming` (see `incoming`), in COLUMNS order."""

EMPTY = (
    "SELECT "
    + ", ".join(f"NULL::{sql.replace(' NOT NULL', '')} AS {name}" for name, sql in COLUMNS)
    + " WHERE false"
)
"""An empty relation with the store's columns, for a store with no file yet."""

_message_encoder = msgspec.json.Encoder()


def incoming(items: Sequence[Item]) -> pa.Table:
    """The Arrow table `SELECT_ROWS` reads: positions, ids and each message's JSON."""
    return pa.table(
        {
            "log_offset": pa.array([item.offset for item in items], pa.int64()),
            "workspace_id": pa.array([item.envelope.workspace_id for item in items]),
            "source_id": pa.array([item.envelope.source_id for item in items]),
            "profile_id": pa.array([item.profile_id for item in items], pa.string()),
            "message": pa.array(
                [_message_encoder.encode(item.envelope.message) for item in items],
                pa.binary(),
            ),
        }
    )


_CAMEL = {
    "message_id": "messageId",
    "user_id": "userId",
    "anonymous_id": "anonymousId",
    "group_id": "groupId",
    "previous_id": "previousId",
    "original_timestamp": "originalTimestamp",
    "sent_at": "sentAt",
    "received_at": "receivedAt",
}
_TEXT = ("type", "event", "name", "category", "channel", "version", "timestamp")
_JSON_PARTS = ("properties", "traits", "context", "integrations")
json_object = msgspec.json.Decoder()


def as_message(row: dict[str, Any]) -> dict[str, Any]:
    """An event-store row as the Segment message it was stored from."""
    message: dict[str, Any] = {}
    for column, value in row.items():
        if value is None:
            continue
        if column in _JSON_PARTS:
            message[column] = json_object.decode(value)
        elif column in _CAMEL or column in _TEXT:
            if isinstance(value, datetime):
                value = value.isoformat().replace("+00:00", "Z")
            message[_CAMEL.get(column, column)] = value
    return message
