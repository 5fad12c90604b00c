"""Profiles Sync into PostgreSQL (a `postgres-warehouse` destination's database), in one
schema of its own: every table is created on first use, and a run is one transaction, so the
warehouse never shows half a run."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

import msgspec

from seamline.profiles_sync.changes import Delta
from seamline.profiles_sync.tables import MATERIALIZED, PROFILE_COLUMNS, RAW, Kind

_TYPES: dict[Kind, str] = {"text": "text", "time": "timestamptz", "int": "bigint", "json": "jsonb"}
_encode = msgspec.json.Encoder().encode
_CHUNK = 1_000


class PostgresTables:
    """Writes a run's `Delta` into `schema` of the database at `url` (a libpq URL)."""

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
            for table, columns in (RAW | MATERIALIZED).items():
                cur.execute(self._create(sql, table, columns))
            for table, rows in delta.raw.items():
                self._insert(cur, sql, table, RAW[table], rows, conflict=True)
            gone = sorted(delta.removed_profiles)
            for table, names in PROFILE_COLUMNS.items():
                for column in names:
                    self._delete(cur, sql, table, column, gone)
            dropped = sorted(delta.replaced | set(gone))
            for table, columns in MATERIALIZED.items():
                self._delete(cur, sql, table, "canonical_segment_id", dropped)
                self._insert(
                    cur, sql, table, columns, delta.materialized.get(table, []), conflict=False
                )
            conn.commit()

    def _create(self, sql: Any, table: str, columns: dict[str, Kind]) -> Any:
        defined = [
            sql.SQL("{} {}").format(sql.Identifier(name), sql.SQL(_TYPES[kind]))
            + (sql.SQL(" PRIMARY KEY") if name == "id" else sql.SQL(""))
            for name, kind in columns.items()
        ]
        return sql.SQL("CREATE TABLE IF NOT EXISTS {}.{} ({})").format(
            sql.Identifier(self.schema), sql.Identifier(table), sql.SQL(", ").join(defined)
        )

    def _insert(
        self,
        cur: Any,
        sql: Any,
        table: str,
        columns: dict[str, Kind],
        rows: Sequence[dict[str, Any]],
        *,
        conflict: bool,
    ) -> None:
        if not rows:
            return
        names = list(columns)
        statement = sql.SQL("INSERT INTO {}.{} ({}) VALUES ({}){}").format(
            sql.Identifier(self.schema),
            sql.Identifier(table),
            sql.SQL(", ").join(map(sql.Identifier, names)),
            sql.SQL(", ").join(
                sql.SQL("%s::jsonb" if columns[n] == "json" else "%s") for n in names
            ),
            sql.SQL(" ON CONFLICT (id) DO NOTHING" if conflict else ""),
        )
        cur.executemany(statement, [_values(row, names, columns) for row in rows])

    def _delete(self, cur: Any, sql: Any, table: str, column: str, ids: Sequence[str]) -> None:
        for chunk in _chunks(ids):
            cur.execute(
                sql.SQL("DELETE FROM {}.{} WHERE {} = ANY(%s)").format(
                    sql.Identifier(self.schema), sql.Identifier(table), sql.Identifier(column)
                ),
                (list(chunk),),
            )


def _values(row: dict[str, Any], names: list[str], columns: dict[str, Kind]) -> list[Any]:
    return [_encode(row.get(n)).decode() if columns[n] == "json" else row.get(n) for n in names]


def _chunks(ids: Sequence[str]) -> Iterable[Sequence[str]]:
    for start in range(0, len(ids), _CHUNK):
        yield ids[start : start + _CHUNK]
