"""Loading rows into PostgreSQL: create and widen tables as new columns appear, then insert.

Each table of a batch is written in its own transaction: under an advisory lock on the table
(so concurrent loaders never race on DDL) missing columns are added with `ADD COLUMN IF NOT
EXISTS`, then the rows go in with one pipelined `executemany`. Event tables insert with `ON
CONFLICT (id) DO NOTHING`, so a re-delivered batch adds nothing; `users` and `accounts` upsert
so that each column keeps its value from the latest message by `received_at`, whatever order
messages arrive in.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import psycopg
from psycopg import sql

from seamline.destinations.catalog.postgres_warehouse.cells import ColumnType, category, convert
from seamline.destinations.catalog.postgres_warehouse.connections import Connection, Connections
from seamline.destinations.catalog.postgres_warehouse.rows import (
    LOAD_TIME,
    PROFILE_TABLES,
    Row,
    merge_profiles,
    standard_columns,
)
from seamline.destinations.definition import Context
from seamline.destinations.errors import PermanentError
from seamline.destinations.warehouse_naming import MAX_NAME

DISCARDS = "seamline_discards"
"""Values that did not fit their column's type: the row has NULL there, this table the value."""
_DISCARD_COLUMNS = ("table_name", "row_id", "column_name", "column_type", "value", "received_at")
_DDL_DISCARDS = """CREATE TABLE IF NOT EXISTS {} (
    table_name text NOT NULL, row_id text NOT NULL, column_name text NOT NULL,
    column_type text NOT NULL, value text, received_at timestamptz,
    uuid_ts timestamptz DEFAULT now(), PRIMARY KEY (table_name, row_id, column_name))"""
_COLUMNS = """SELECT column_name, data_type FROM information_schema.columns
    WHERE table_schema = %s AND table_name = %s"""
_CAN_CREATE = """SELECT CASE WHEN n.oid IS NULL
    THEN has_database_privilege(current_database(), 'CREATE')
    ELSE has_schema_privilege(n.oid, 'CREATE') END
    FROM (SELECT %s::text AS name) s LEFT JOIN pg_namespace n ON n.nspname = s.name"""

Discard = tuple[str, str, str, str, str, Any]


class Loader:
    """One destination instance's view of its warehouse schema: connections, and the columns
    (with their types) of each table it has written, refreshed whenever they may have changed."""

    def __init__(self, url: str, schema: str) -> None:
        self.connections = Connections(url)
        self.schema = schema
        self.settings = (url, schema)
        self._columns: dict[str, dict[str, ColumnType]] = {}
        self._schema_ready = False

    def close(self) -> None:
        self.connections.close()

    def check(self) -> None:
        """Connect and make sure the user may create tables in the schema."""
        with self.connections.connection() as connection:
            allowed = connection.execute(_CAN_CREATE, (self.schema,)).fetchone()
        if not (allowed and allowed[0]):
            raise PermanentError(f"the database user may not create tables in {self.schema!r}")

    def load(self, rows: Sequence[Row]) -> dict[str, int]:
        """Write `rows`; returns the rows inserted (or upserted) per table."""
        by_table: dict[str, list[Row]] = {}
        for row in rows:
            by_table.setdefault(row.table, []).append(row)
        written: dict[str, int] = {}
        with self.connections.connection() as connection:
            for table in sorted(by_table):  # one lock at a time, in one order: no deadlocks
                batch = by_table[table]
                if table in PROFILE_TABLES:
                    batch = merge_profiles(batch)
                written[table] = self._load_table(connection, table, batch)
        return written

    def _load_table(self, connection: Connection, table: str, rows: list[Row]) -> int:
        for attempt in (1, 2):
            try:
                with connection.transaction():
                    self._ensure_schema(connection)
                    columns = self._prepare(connection, table, rows)
                    count = self._write(connection, table, columns, rows)
                self._columns[table] = columns
                return count
            except (
                psycopg.errors.UndefinedTable,
                psycopg.errors.UndefinedColumn,
                psycopg.errors.InvalidSchemaName,
            ):
                # Someone dropped or changed the table (Segment's advice for a backfill is to
                # drop it): forget what we knew and build it again, once.
                self._columns.pop(table, None)
                self._schema_ready = False
                if attempt == 2:
                    raise
            except BaseException:
                # What this transaction created was rolled back: look again next time.
                self._columns.pop(table, None)
                self._schema_ready = False
                raise
        raise AssertionError("unreachable")  # pragma: no cover

    def _ensure_schema(self, connection: Connection) -> None:
        if self._schema_ready:
            return
        self._lock(connection, self.schema)
        found = connection.execute("SELECT 1 FROM pg_namespace WHERE nspname = %s", (self.schema,))
        if found.fetchone() is None:
            connection.execute(sql.SQL("CREATE SCHEMA {}").format(sql.Identifier(self.schema)))
        connection.execute(sql.SQL(_DDL_DISCARDS).format(self._name(DISCARDS)))
        self._schema_ready = True

    def _prepare(
        self, connection: Connection, table: str, rows: list[Row]
    ) -> dict[str, ColumnType]:
        """The table's columns after adding those `rows` need. A new column's type is that of
        its latest value in the batch (Segment: "the most recent occurrence"); an existing
        column keeps its type."""
        fixed = standard_columns(table)
        wanted: dict[str, ColumnType] = dict(fixed)
        for row in rows:
            for column, cell in row.cells.items():
                if column not in fixed:
                    wanted[column] = cell.type
        known = self._columns.get(table)
        if known is not None and wanted.keys() <= known.keys():
            return known
        self._lock(connection, f"{self.schema}.{table}")
        known = self._read_columns(connection, table)
        missing = {c: t for c, t in wanted.items() if c not in known}
        if not known:
            definitions = [sql.Composed([sql.SQL("id text PRIMARY KEY")])]
            definitions += [_column(c, t) for c, t in missing.items() if c != "id"]
            definitions.append(
                sql.SQL("{} timestamptz DEFAULT now()").format(sql.Identifier(LOAD_TIME))
            )
            create = sql.SQL("CREATE TABLE IF NOT EXISTS {} ({})")
            connection.execute(create.format(self._name(table), sql.SQL(", ").join(definitions)))
        elif missing:
            adds = [
                sql.SQL("ADD COLUMN IF NOT EXISTS {}").format(_column(c, t))
                for c, t in missing.items()
            ]
            alter = sql.SQL("ALTER TABLE {} {}").format(self._name(table), sql.SQL(", ").join(adds))
            connection.execute(alter)
        else:
            return known
        return self._read_columns(connection, table)

    def _write(
        self, connection: Connection, table: str, columns: dict[str, ColumnType], rows: list[Row]
    ) -> int:
        names = [c for c in columns if any(c in row.cells for row in rows)]
        values: list[list[Any]] = []
        discards: list[Discard] = []
        for row in rows:
            line: list[Any] = []
            for column in names:
                cell = row.cells.get(column)
                value = None if cell is None else convert(cell, columns[column])
                if cell is not None and value is None:
                    received = row.cells.get("received_at")
                    received_at = None if received is None else received.value
                    discards.append(
                        (
                            table,
                            row.cells["id"].text,
                            column,
                            columns[column],
                            cell.text,
                            received_at,
                        )
                    )
                line.append(value)
            values.append(line)
        query = sql.SQL("INSERT INTO {} AS existing ({}) VALUES ({}) ON CONFLICT (id) ").format(
            self._name(table),
            sql.SQL(", ").join(map(sql.Identifier, names)),
            sql.SQL(", ").join(sql.Placeholder() * len(names)),
        )
        query += _upsert(names) if table in PROFILE_TABLES else sql.SQL("DO NOTHING")
        with connection.cursor() as cursor:
            cursor.executemany(query, values)
            count = max(cursor.rowcount, 0)
            if discards:
                cursor.executemany(self._discard_query(), discards)
        return count

    def _discard_query(self) -> sql.Composed:
        return sql.SQL(
            "INSERT INTO {} ({}) VALUES ({}) ON CONFLICT (table_name, row_id, column_name) "
            "DO UPDATE SET column_type = EXCLUDED.column_type, value = EXCLUDED.value, "
            "received_at = EXCLUDED.received_at, uuid_ts = now()"
        ).format(
            self._name(DISCARDS),
            sql.SQL(", ").join(map(sql.Identifier, _DISCARD_COLUMNS)),
            sql.SQL(", ").join(sql.Placeholder() * len(_DISCARD_COLUMNS)),
        )

    def _read_columns(self, connection: Connection, table: str) -> dict[str, ColumnType]:
        found = connection.execute(_COLUMNS, (self.schema, table)).fetchall()
        return {str(name): category(str(data_type)) for name, data_type in found}

    def _lock(self, connection: Connection, key: str) -> None:
        connection.execute("SELECT pg_advisory_xact_lock(hashtextextended(%s, 0))", (key,))

    def _name(self, table: str) -> sql.Identifier:
        return sql.Identifier(self.schema, table)


def _column(name: str, column_type: ColumnType) -> sql.Composed:
    return sql.SQL("{} {}").format(sql.Identifier(name), sql.SQL(column_type))


def _upsert(names: list[str]) -> sql.Composed:
    """Per column: the newer message's value if it has one, else the older's; `received_at`
    orders them, so a late-arriving older identify only fills columns the newer one left empty."""
    sets = [
        sql.SQL(
            "{c} = CASE WHEN existing.received_at IS NULL"
            " OR EXCLUDED.received_at >= existing.received_at"
            " THEN COALESCE(EXCLUDED.{c}, existing.{c})"
            " ELSE COALESCE(existing.{c}, EXCLUDED.{c}) END"
        ).format(c=sql.Identifier(name))
        for name in names
        if name not in ("id", "received_at")
    ]
    sets.append(
        sql.Composed(
            [sql.SQL("received_at = GREATEST(existing.received_at, EXCLUDED.received_at)")]
        )
    )
    sets.append(sql.SQL("{} = now()").format(sql.Identifier(LOAD_TIME)))
    return sql.SQL("DO UPDATE SET {}").format(sql.SQL(", ").join(sets))


_STATE_KEY = "postgres_warehouse"


def loader_for(ctx: Context) -> Loader:
    """The instance's loader, made on first use and replaced when its settings change."""
    url = ctx.settings.get("database_url")
    schema = ctx.settings.get("schema") or "seamline"
    if not isinstance(url, str) or not url.strip():
        raise PermanentError("the database_url setting is missing")
    if not isinstance(schema, str) or len(schema) > MAX_NAME:
        raise PermanentError(f"schema must be a name of at most {MAX_NAME} characters")
    current = ctx.state.get(_STATE_KEY)
    if isinstance(current, Loader) and current.settings == (url, schema):
        return current
    if isinstance(current, Loader):
        current.connections.close()
    loader = Loader(url, schema)
    ctx.state[_STATE_KEY] = loader
    return loader


def close(ctx: Context) -> None:
    """Close the instance's idle connections (when the instance is removed, or a test ends)."""
    current = ctx.state.pop(_STATE_KEY, None)
    if isinstance(current, Loader):
        current.connections.close()
