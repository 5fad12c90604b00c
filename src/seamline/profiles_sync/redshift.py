"""Profiles Sync into Amazon Redshift (a `redshift` destination's cluster), in one schema of
its own, over PostgreSQL's wire.

Redshift has no `ON CONFLICT`, no `jsonb`, no array parameters and does not enforce primary
keys, so: JSON columns are `VARCHAR(65535)` holding JSON text (a longer value is cut, see
`redshift.dialect.fit_text`; query it with `JSON_PARSE`), a raw table's ids already there are
looked up (`id IN (…)`) under a `LOCK` and skipped, and deletions list their ids. Every
statement also runs on PostgreSQL, where the tests run it. A run is one transaction.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any, TypeVar

import msgspec

from seamline.profiles_sync.changes import Delta
from seamline.profiles_sync.tables import MATERIALIZED, PROFILE_COLUMNS, RAW, Kind

_TYPES: dict[Kind, str] = {
    "text": "VARCHAR(65535)",
    "time": "TIMESTAMPTZ",
    "int": "BIGINT",
    "json": "VARCHAR(65535)",
}
_T = TypeVar("_T")
_encode = msgspec.json.Encoder().encode
_CHUNK = 500
"""Ids per `IN (…)` list and rows per multi-row INSERT (13 columns at most: well under the
wire protocol's 32767 parameters and Redshift's 16 MB statement)."""


class RedshiftTables:
    """Writes a run's `Delta` into `schema` of the cluster at `url` (a libpq URL)."""

    def __init__(self, url: str, schema: str) -> None:
        from seamline.destinations.catalog.postgres_warehouse.connections import libpq_url

        self.url, self.schema = libpq_url(url), schema

    def apply(self, delta: Delta) -> None:
        import psycopg
        from psycopg import sql

        with psycopg.connect(self.url, autocommit=False) as conn, conn.cursor() as cur:
            cur.execute(
                sql.SQL("CREATE SCHEMA IF NOT EXISTS {}").format(sql.Identifier(self.schema))
            )
            tables = RAW | MATERIALIZED
            for table in sorted(tables):  # one order for every writer: no deadlocks
                cur.execute(self._create(sql, table, tables[table]))
                cur.execute(sql.SQL("LOCK {}").format(sql.Identifier(self.schema, table)))
            for table, rows in delta.raw.items():
                self._insert(cur, sql, table, RAW[table], self._new(cur, sql, table, rows))
            gone = sorted(delta.removed_profiles)
            for table, names in PROFILE_COLUMNS.items():
                self._delete(cur, sql, table, names, gone)
            dropped = sorted(delta.replaced | set(gone))
            for table, columns in MATERIALIZED.items():
                self._delete(cur, sql, table, ("canonical_segment_id",), dropped)
                self._insert(cur, sql, table, columns, delta.materialized.get(table, []))
            conn.commit()

    def _create(self, sql: Any, table: str, columns: dict[str, Kind]) -> Any:
        defined = [
            sql.SQL("{} {}").format(sql.Identifier(name), sql.SQL(_TYPES[kind]))
            for name, kind in columns.items()
        ]
        return sql.SQL("CREATE TABLE IF NOT EXISTS {} ({})").format(
            sql.Identifier(self.schema, table), sql.SQL(", ").join(defined)
        )

    def _new(
        self, cur: Any, sql: Any, table: str, rows: Sequence[dict[str, Any]]
    ) -> list[dict[str, Any]]:
        """The rows whose id the table does not hold yet (a retried run's are there)."""
        unique = list({str(r["id"]): r for r in rows}.values())
        held: set[str] = set()
        for chunk in _chunks([str(r["id"]) for r in unique]):
            cur.execute(
                sql.SQL("SELECT id FROM {} WHERE id IN ({})").format(
                    sql.Identifier(self.schema, table), _placeholders(sql, len(chunk))
                ),
                list(chunk),
            )
            held |= {str(found) for (found,) in cur.fetchall()}
        return [r for r in unique if str(r["id"]) not in held]

    def _insert(
        self,
        cur: Any,
        sql: Any,
        table: str,
        columns: dict[str, Kind],
        rows: Sequence[dict[str, Any]],
    ) -> None:
        names = list(columns)
        row = sql.SQL("({})").format(_placeholders(sql, len(names)))
        for chunk in _chunks(rows):
            cur.execute(
                sql.SQL("INSERT INTO {} ({}) VALUES {}").format(
                    sql.Identifier(self.schema, table),
                    sql.SQL(", ").join(map(sql.Identifier, names)),
                    sql.SQL(", ").join([row] * len(chunk)),
                ),
                [value for r in chunk for value in _values(r, columns)],
            )

    def _delete(
        self, cur: Any, sql: Any, table: str, columns: Sequence[str], ids: Sequence[str]
    ) -> None:
        for chunk in _chunks(ids):
            listed = _placeholders(sql, len(chunk))
            where = sql.SQL(" OR ").join(
                sql.SQL("{} IN ({})").format(sql.Identifier(c), listed) for c in columns
            )
            cur.execute(
                sql.SQL("DELETE FROM {} WHERE {}").format(
                    sql.Identifier(self.schema, table), where
                ),
                list(chunk) * len(columns),
            )


def _values(row: dict[str, Any], columns: dict[str, Kind]) -> list[Any]:
    from seamline.destinations.catalog.redshift.dialect import fit_text

    found: list[Any] = []
    for name, kind in columns.items():
        value = row.get(name)
        if kind == "json":
            value = fit_text(_encode(value).decode())
        elif kind == "text" and isinstance(value, str):
            value = fit_text(value)
        found.append(value)
    return found


def _placeholders(sql: Any, count: int) -> Any:
    return sql.SQL(", ").join(sql.Placeholder() * count)


def _chunks(items: Sequence[_T]) -> Iterable[Sequence[_T]]:
    for start in range(0, len(items), _CHUNK):
        yield items[start : start + _CHUNK]
