"""Segment's warehouse schema: which rows a message becomes, in which tables, with which columns.

| message  | rows                                                                        |
|----------|-----------------------------------------------------------------------------|
| track    | `tracks` (common columns, `event`, `event_text`) and `<event>` (+ properties) |
| identify | `identifies` (+ traits) and, with a userId, the `users` row of that user      |
| group    | `groups` (+ traits) and the `accounts` row of that group                      |
| page     | `pages` (+ `name`, `category`, properties); screen the same in `screens`      |
| alias    | `aliases` (+ `previous_id`)                                                   |

Common columns are `id` (the messageId), `anonymous_id`, `user_id`, `received_at`, `sent_at`,
`timestamp`, `original_timestamp`, `context_*`; the loader adds `uuid_ts` (load time). As in
Segment, a property or trait named like a reserved column (`user_id`, `context_…`) is dropped.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from seamline.destinations.catalog.postgres_warehouse.cells import (
    Cell,
    ColumnType,
    infer,
    text_cell,
)
from seamline.destinations.errors import InvalidPayload
from seamline.destinations.warehouse_naming import event_table, flatten

_COMMON: dict[str, ColumnType] = {
    "id": "text",
    "anonymous_id": "text",
    "user_id": "text",
    "received_at": "timestamptz",
    "sent_at": "timestamptz",
    "timestamp": "timestamptz",
    "original_timestamp": "timestamptz",
}
_PROFILE: dict[str, ColumnType] = {"id": "text", "received_at": "timestamptz"}
_TRACK = _COMMON | {"event": "text", "event_text": "text"}
_VIEW = _COMMON | {"name": "text", "category": "text"}
_TABLES: dict[str, dict[str, ColumnType]] = {
    "tracks": _TRACK,
    "identifies": _COMMON,
    "pages": _VIEW,
    "screens": _VIEW,
    "groups": _COMMON | {"group_id": "text"},
    "aliases": _COMMON | {"previous_id": "text"},
    "users": _PROFILE,
    "accounts": _PROFILE,
}
PROFILE_TABLES = frozenset({"users", "accounts"})
"""Upserted on `id` (the user's or group's id) with the latest traits, not appended to."""
LOAD_TIME = "uuid_ts"
_TABLE_OF = {
    "track": "tracks",
    "identify": "identifies",
    "page": "pages",
    "screen": "screens",
    "group": "groups",
    "alias": "aliases",
}
_WIRE = {
    "id": "messageId",
    "anonymous_id": "anonymousId",
    "user_id": "userId",
    "received_at": "receivedAt",
    "sent_at": "sentAt",
    "timestamp": "timestamp",
    "original_timestamp": "originalTimestamp",
    "group_id": "groupId",
    "previous_id": "previousId",
    "name": "name",
    "category": "category",
}


_LONG_AGO = datetime.min.replace(tzinfo=UTC)


@dataclass(frozen=True, slots=True)
class Row:
    table: str
    cells: dict[str, Cell]
    """Column → value; absent columns are NULL."""


def standard_columns(table: str) -> dict[str, ColumnType]:
    """The fixed columns of `table` (an event table has those of `tracks`)."""
    return _TABLES.get(table, _TRACK)


def rows_of(message: Mapping[str, Any]) -> list[Row]:
    """The rows `message` adds; InvalidPayload when it is not one of the six Spec types."""
    kind = message.get("type")
    table = _TABLE_OF.get(str(kind))
    if table is None:
        raise InvalidPayload(f"message {message.get('messageId')!r} has no known type: {kind!r}")
    base: dict[str, Cell] = {"id": text_cell(message.get("messageId") or _content_id(message))}
    for column, column_type in _TABLES[table].items():
        value = message.get(_WIRE.get(column, ""))
        if value is not None and column != "id":
            base[column] = text_cell(value) if column_type == "text" else infer(value)
    if "original_timestamp" not in base and "timestamp" in base:
        base["original_timestamp"] = base["timestamp"]  # no clock-skew correction was made
    base.update(_extra(message.get("context"), "tracks", "context"))
    if table == "tracks":
        return _track_rows(message, base)
    free = message.get("traits" if table in ("identifies", "groups") else "properties")
    rows = [Row(table, base | _extra(free, table))]
    profile_table = {"identifies": "users", "groups": "accounts"}.get(table)
    profile_id = base.get("user_id" if table == "identifies" else "group_id")
    if profile_table is not None and profile_id is not None:
        profile = {"id": profile_id} | _kept(base, "received_at") | _extra(free, profile_table)
        rows.append(Row(profile_table, profile))
    return rows


def _track_rows(message: Mapping[str, Any], base: dict[str, Cell]) -> list[Row]:
    name = message.get("event")
    table = None if name is None else event_table(str(name))
    track = dict(base)
    if name is not None:
        track["event_text"] = text_cell(name)
    if table is not None:
        track["event"] = text_cell(table)
    rows = [Row("tracks", track)]
    if table is not None:
        rows.append(Row(table, track | _extra(message.get("properties"), table)))
    return rows


def _extra(value: Any, table: str, *prefix: str) -> dict[str, Cell]:
    """Flattened properties, traits or (with `prefix` "context") context, minus the names
    Segment reserves: the table's fixed columns, `uuid`, `uuid_ts` and `context_…`."""
    if not isinstance(value, Mapping):
        return {}
    fixed = standard_columns(table)
    return {
        column: infer(leaf)
        for column, leaf in flatten(value, *prefix)
        if prefix
        or (
            column not in fixed
            and column not in ("uuid", LOAD_TIME)
            and not column.startswith("context_")
        )
    }


def _kept(cells: Mapping[str, Cell], *columns: str) -> dict[str, Cell]:
    return {column: cells[column] for column in columns if column in cells}


def merge_profiles(rows: Iterable[Row]) -> list[Row]:
    """One row per profile id: the batch's rows folded in `received_at` order, so each column
    holds its latest non-null value and `received_at` the latest time."""
    merged: dict[tuple[str, str], dict[str, Cell]] = {}
    for row in sorted(rows, key=_received_at):
        key = (row.table, str(row.cells["id"].value))
        merged[key] = merged.get(key, {}) | row.cells
    return [Row(table, cells) for (table, _), cells in merged.items()]


def _received_at(row: Row) -> datetime:
    cell = row.cells.get("received_at")
    if cell is not None and isinstance(cell.value, datetime):
        return cell.value
    return _LONG_AGO


def _content_id(message: Mapping[str, Any]) -> str:
    """A stable id for a message without a messageId, so its re-delivery is still recognised."""
    canonical = json.dumps(message, sort_keys=True, default=str, separators=(",", ":"))
    return "sha256-" + hashlib.sha256(canonical.encode()).hexdigest()
