"""Profiles Sync into the cloud warehouses (Snowflake, BigQuery, Databricks, ClickHouse),
through the `Target` their event loading already uses: the same dialects, the same requests
over `ctx.http` (so the SSRF guard and secret hiding apply), into a schema of its own.

Raw rows are written with the loader's MERGE on `id` (ClickHouse: ids looked up, then
inserted), so a retried run adds nothing. Materialized rows are replaced per canonical id: a
DELETE of the profiles that changed (one request, in a transaction where the tool has them),
then the same MERGE. They carry an `id` here (a digest of the table, the canonical id and what
the row names) because the loader keys every write on it. `uuid_ts` is the warehouse's clock
at load, as in the event tables. A run is several requests, not one transaction: a run cut
short leaves its snapshot where it was, and the next run writes the same rows again.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from decimal import Decimal
from typing import TYPE_CHECKING, Any

import msgspec

from seamline.profiles_sync.changes import Delta, row_id
from seamline.profiles_sync.tables import MATERIALIZED, PROFILE_COLUMNS, RAW, Kind

if TYPE_CHECKING:
    from seamline.destinations.catalog.postgres_warehouse.cells import ColumnType
    from seamline.destinations.warehouse_load import Target
    from seamline.destinations.warehouse_sql import Value

_TYPES: dict[Kind, ColumnType] = {
    "text": "text",
    "time": "timestamptz",
    "int": "numeric",  # a double: `seq` (microseconds since 1970) stays exact below 2**53
    "json": "text",
}
_encode = msgspec.json.Encoder().encode
_CHUNK = 500
"""Ids per DELETE: statements stay far below every tool's size limit."""
_NAMED = {
    "profile_merges": ("segment_id",),
    "user_identifiers": ("type", "value"),
    "user_traits": ("name",),
}
"""What a materialized row is about, besides its canonical id (its `id` is made of them)."""


class WarehouseTables:
    """Writes a run's `Delta` into the schema `target` names."""

    def __init__(self, target: Target) -> None:
        self.target = target

    def apply(self, delta: Delta) -> None:
        target = self.target
        target.ensure_schema()
        for table in sorted(RAW):
            target.create_table(table, _columns(RAW[table]), "events")
        for table in sorted(MATERIALIZED):
            target.create_table(table, _columns(_keyed(MATERIALIZED[table])), "events")
        for table, rows in delta.raw.items():
            if rows:
                values = [_values(r, RAW[table]) for r in rows]
                target.write(table, _columns(RAW[table]), values, "events")
        gone = sorted(delta.removed_profiles)
        dropped = sorted(delta.replaced | set(gone))
        deletes = [
            *(
                self._delete(table, names, chunk)
                for table, names in PROFILE_COLUMNS.items()
                for chunk in _chunks(gone)
            ),
            *(
                self._delete(table, ("canonical_segment_id",), chunk)
                for table in MATERIALIZED
                for chunk in _chunks(dropped)
            ),
        ]
        if deletes:
            target.run(deletes, atomic=True)
        for table, kinds in MATERIALIZED.items():
            rows = delta.materialized.get(table, [])
            if rows:
                keyed = [_keyed_values(table, r) for r in rows]
                target.write(table, _columns(_keyed(kinds)), keyed, "events")

    def _delete(self, table: str, columns: Sequence[str], ids: Sequence[str]) -> str:
        dialect = self.target.dialect
        listed = ", ".join(dialect.string(i) for i in ids)
        where = " OR ".join(f"{dialect.ident(c)} IN ({listed})" for c in columns)
        return f"DELETE FROM {self.target.ref(table)} WHERE {where}"


def _keyed(columns: Mapping[str, Kind]) -> dict[str, Kind]:
    return {"id": "text", **columns}


def _keyed_values(table: str, row: Mapping[str, Any]) -> dict[str, Value]:
    parts = [row.get(name) for name in _NAMED[table]]
    keyed = {**row, "id": row_id(table, row["canonical_segment_id"], *parts)}
    return _values(keyed, _keyed(MATERIALIZED[table]))


def _columns(columns: Mapping[str, Kind]) -> dict[str, ColumnType]:
    """The loader's column types; `uuid_ts` is left out: the loader adds it as the load time."""
    return {name: _TYPES[kind] for name, kind in columns.items() if name != "uuid_ts"}


def _values(row: Mapping[str, Any], columns: Mapping[str, Kind]) -> dict[str, Value]:
    found: dict[str, Value] = {}
    for name, kind in columns.items():
        value = row.get(name)
        if name == "uuid_ts":
            continue
        if kind == "json":
            found[name] = _encode(value).decode()
        elif kind == "int" and value is not None:
            found[name] = Decimal(int(value))
        else:
            found[name] = value
    return found


def _chunks(ids: Sequence[str]) -> Iterable[Sequence[str]]:
    for start in range(0, len(ids), _CHUNK):
        yield ids[start : start + _CHUNK]
