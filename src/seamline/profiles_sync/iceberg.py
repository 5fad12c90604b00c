"""Profiles Sync into Apache Iceberg tables (an `iceberg` destination's SQL catalog and
warehouse directory), in a namespace of their own beside the events' (`profiles_sync_namespace`,
e.g. `seamline_profiles`; never the events' own: a track event may be named `User Traits`).

Column kinds become Iceberg `string` (text and JSON text), `long` and `timestamptz`. Per
table, each change is one Iceberg commit: raw tables append the rows whose ids they do not
hold yet (so a retried run adds nothing), a deleted profile's rows are deleted from them, and
a materialized table that changes is rewritten with the changed canonical ids' rows replaced
(one `overwrite`: readers see the old table or the new one).
Deletion rewrites the data files involved; the old files stay referenced by older snapshots
until they are expired (the `iceberg` destination's erasure does it for the event tables).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from seamline.profiles_sync.changes import Delta
from seamline.profiles_sync.lake import _arrow, _plain
from seamline.profiles_sync.tables import MATERIALIZED, PROFILE_COLUMNS, RAW, Kind

if TYPE_CHECKING:
    from pyiceberg.catalog.sql import SqlCatalog
    from pyiceberg.table import Table

_CHUNK = 500
"""Values per IN predicate."""
_PROPERTIES = {"commit.retry.num-retries": "0"}
"""A commit lost to another writer fails the run, which is tried again whole (as the event
tables do): the next run finds the winner's rows."""


class IcebergTables:
    """Writes a run's `Delta` into `namespace` of the SQL catalog at `url`, files under
    `warehouse` (an absolute directory)."""

    def __init__(self, url: str, warehouse: str, namespace: str) -> None:
        self.url, self.warehouse, self.namespace = url, warehouse, namespace

    def apply(self, delta: Delta) -> None:
        from seamline.destinations.catalog.iceberg.writer import failures

        with failures():
            catalog = self._catalog()
            try:
                self._apply(catalog, delta)
            finally:
                catalog.engine.dispose()

    def _catalog(self) -> SqlCatalog:
        from pyiceberg.catalog.sql import SqlCatalog

        from seamline.destinations.catalog.iceberg import _POSTGRES

        uri = _POSTGRES.sub("postgresql+psycopg://", self.url)  # as the event tables' catalog
        return SqlCatalog("seamline", uri=uri, warehouse=Path(self.warehouse).as_uri())

    def _apply(self, catalog: SqlCatalog, delta: Delta) -> None:
        catalog.create_namespace_if_not_exists(self.namespace)
        tables = {
            name: _table(catalog, (self.namespace, name), kinds)
            for name, kinds in sorted((RAW | MATERIALIZED).items())
        }
        for name, rows in delta.raw.items():
            held = _held(tables[name], "id", [str(r["id"]) for r in rows])
            new = [_plain(r, RAW[name]) for r in {str(r["id"]): r for r in rows}.values()]
            new = [r for r in new if r["id"] not in held]
            if new:
                tables[name].append(_arrow(RAW[name], new))
        gone = sorted(delta.removed_profiles)
        for name, columns in PROFILE_COLUMNS.items():
            for column in columns:
                _delete(tables[name], column, gone)
        dropped = sorted(delta.replaced | set(gone))
        for name, kinds in MATERIALIZED.items():
            new = delta.materialized.get(name, [])
            table = tables[name]
            if not new and not _held(table, "canonical_segment_id", dropped):
                continue
            # Rewritten whole, as the Parquet lake's current.parquet: dropping every file is
            # one cheap commit, where a filtered delete rewrites each file it touches (about
            # a second per table and run, measured on a busy 2-core machine).
            kept = [
                r
                for r in table.scan().to_arrow().to_pylist()
                if r["canonical_segment_id"] not in set(dropped)
            ]
            data = _arrow(kinds, kept + [_plain(r, kinds) for r in new])
            if table.current_snapshot() is None:
                table.append(data)
            else:
                table.overwrite(data)


def _table(catalog: SqlCatalog, identifier: tuple[str, str], kinds: Mapping[str, Kind]) -> Table:
    from pyiceberg.schema import Schema
    from pyiceberg.types import LongType, NestedField, StringType, TimestamptzType

    types: dict[Kind, Any] = {
        "text": StringType(),
        "json": StringType(),
        "int": LongType(),
        "time": TimestamptzType(),
    }
    fields = [
        NestedField(i, name, types[kind], required=False)
        for i, (name, kind) in enumerate(kinds.items(), start=1)
    ]
    return catalog.create_table_if_not_exists(
        identifier, schema=Schema(*fields), properties=_PROPERTIES
    )


def _held(table: Table, column: str, values: Sequence[str]) -> set[str]:
    """Those of `values` that `column` holds."""
    from seamline.destinations.catalog.iceberg.writer import predicate

    found: set[str] = set()
    for start in range(0, len(values), _CHUNK):
        chunk = values[start : start + _CHUNK]
        where = predicate("in", column, list(chunk))
        scan = table.scan(row_filter=where, selected_fields=(column,)).to_arrow()
        found |= {str(v) for v in scan.column(column).to_pylist()}
    return found


def _delete(table: Table, column: str, values: Sequence[str]) -> None:
    """Delete the rows whose `column` is one of `values`; a delete matching nothing is not
    committed (pyiceberg warns about it, and it would add an empty snapshot)."""
    from seamline.destinations.catalog.iceberg.writer import predicate

    for start in range(0, len(values), _CHUNK):
        chunk = list(values[start : start + _CHUNK])
        if _held(table, column, chunk):
            table.delete(delete_filter=predicate("in", column, chunk))


def iceberg_tables(settings: Mapping[str, Any]) -> IcebergTables:
    """The writer for an `iceberg` instance's `profiles_sync_namespace`, its catalog URL,
    warehouse and namespace checked as the event tables' are (PermanentError)."""
    from seamline.destinations.catalog.iceberg import _settings
    from seamline.destinations.errors import PermanentError

    namespace = str(settings["profiles_sync_namespace"])
    events = str(settings.get("namespace") or "seamline")
    if namespace == events:
        raise PermanentError("profiles_sync_namespace must differ from the events' namespace")
    url, warehouse, namespace = _settings({**settings, "namespace": namespace})
    return IcebergTables(url, warehouse, namespace)
