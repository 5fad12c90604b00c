"""The loader's `Target` for ClickHouse, which has no MERGE: rows are inserted, and
idempotency comes from three places.

1. Before inserting into an event table, the ids already there are looked up (`SELECT id …
   WHERE id IN (…)`, a primary-key read) and skipped: a re-delivered batch inserts nothing.
2. Each INSERT carries `insert_deduplication_token` (a hash of the table and its ids), so a
   retry of an INSERT whose answer was lost is dropped by replicated tables (ClickHouse Cloud
   and ReplicatedMergeTree), which keep recent tokens.
3. Tables are ReplacingMergeTree ordered by id: if two loaders raced past step 1, background
   merges keep one row per id; `SELECT … FINAL` sees that result at once.

`users` and `accounts` read the stored row first (`FINAL`) and insert the row merged with the
batch's, column by column by `received_at` as elsewhere; ReplacingMergeTree keeps the last
inserted row per id.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any

from seamline.destinations.catalog.clickhouse.dialect import CLICKHOUSE, columns_sql, create_table
from seamline.destinations.catalog.clickhouse.interface import Interface
from seamline.destinations.catalog.postgres_warehouse.cells import ColumnType
from seamline.destinations.http import Http
from seamline.destinations.warehouse_load import Columns
from seamline.destinations.warehouse_sql import (
    KEYS,
    LOAD_TIME,
    Kind,
    Value,
    add_columns,
    utc_text,
)

Json = str | float | bool | None


@dataclass
class ClickHouseTarget:
    interface: Interface
    database: str
    dialect = CLICKHOUSE

    def use(self, http: Http) -> None:
        self.interface.http = http

    def ref(self, table: str) -> str:
        return CLICKHOUSE.ref(self.database, table)

    def ensure_schema(self) -> None:
        self.interface.send(f"CREATE DATABASE IF NOT EXISTS {CLICKHOUSE.quoted(self.database)}")

    def columns(self) -> Columns:
        found: Columns = {}
        answer = self.interface.send(columns_sql(self.database))
        for table, column, data_type in answer.get("data", []):
            found.setdefault(str(table), {})[str(column)] = CLICKHOUSE.category(str(data_type))
        return found

    def create_table(self, table: str, columns: Mapping[str, ColumnType], kind: Kind) -> None:
        self.interface.send(create_table(self.ref(table), columns, KEYS[kind]))

    def add_columns(self, table: str, columns: Mapping[str, ColumnType]) -> None:
        self.interface.send(add_columns(CLICKHOUSE, self.ref(table), columns))

    def write(
        self,
        table: str,
        columns: Mapping[str, ColumnType],
        rows: Sequence[Mapping[str, Value]],
        kind: Kind,
    ) -> None:
        lines = [{c: _json(row.get(c)) for c in columns} for row in rows]
        if kind == "events":
            held = self._stored(table, [str(line["id"]) for line in lines], ["id"], final=False)
            lines = [line for line in lines if line["id"] not in held]
        elif kind == "profiles":
            stored = self._stored(table, [str(line["id"]) for line in lines], ["*"], final=True)
            lines = [_merged(stored.get(str(line["id"])), line) for line in lines]
        if not lines:
            return
        names = list(dict.fromkeys(name for line in lines for name in line))
        keys = "\n".join(sorted(str([line.get(k) for k in KEYS[kind]]) for line in lines))
        token = hashlib.sha256(f"{table}\n{keys}".encode()).hexdigest()
        body = "\n".join(json.dumps(line, ensure_ascii=False) for line in lines).encode()
        listed = ", ".join(map(CLICKHOUSE.ident, names))
        self.interface.send(
            f"INSERT INTO {self.ref(table)} ({listed}) FORMAT JSONEachRow",
            body,
            insert_deduplication_token=token,
        )

    def _stored(
        self, table: str, ids: list[str], columns: list[str], *, final: bool
    ) -> dict[str, dict[str, Any]]:
        """The stored rows among `ids`, by id; as merges leave them with `final` (which costs
        a merge at read time: only profiles need it, an event's id either is there or not)."""
        listed = ", ".join(CLICKHOUSE.string(i) for i in ids)
        names = ", ".join(c if c == "*" else CLICKHOUSE.ident(c) for c in columns)
        answer = self.interface.send(
            f"SELECT {names} FROM {self.ref(table)}{' FINAL' if final else ''} "
            f"WHERE {CLICKHOUSE.ident('id')} IN ({listed}) FORMAT JSON"
        )
        return {str(row["id"]): row for row in answer.get("data", [])}

    def run(self, statements: Sequence[str], *, atomic: bool = False) -> None:
        for statement in statements:  # no transactions: each DELETE is idempotent
            self.interface.send(statement)

    def check(self) -> None:
        self.interface.send("SELECT 1 FORMAT JSONCompact")


def _json(value: Value) -> Json:
    """A value as JSONEachRow reads it into our column types."""
    if isinstance(value, Decimal):
        return float(value)
    if isinstance(value, datetime):
        return _moment(value)
    return value


def _moment(moment: datetime) -> str:
    """DateTime64(6, 'UTC') as ClickHouse writes it (and reads it back by default)."""
    return utc_text(moment).replace("T", " ").removesuffix("+00:00")


def _merged(stored: dict[str, Any] | None, new: dict[str, Json]) -> dict[str, Any]:
    """The stored profile row updated with `new`: each column from the later message by
    `received_at` when it has a value, else from the other."""
    if stored is None:
        return dict(new)
    old = {k: v for k, v in stored.items() if k != LOAD_TIME}
    old_at, new_at = old.get("received_at"), new.get("received_at")
    newer = old_at is None or (new_at is not None and str(new_at) >= str(old_at))
    first, second = (new, old) if newer else (old, new)
    merged = {k: first.get(k) if first.get(k) is not None else second.get(k) for k in {*old, *new}}
    merged["received_at"] = max(
        (v for v in (old_at, new_at) if v is not None), default=None, key=str
    )
    return merged
