"""Loading rows into Redshift: tables created and widened as columns appear, rows moved in
through a staging table, all of one table's work in one transaction.

Per table of a batch, in one transaction: `CREATE TABLE IF NOT EXISTS`, `LOCK` the table (so
two loaders never race on its columns or on the same messageIds), one `ADD COLUMN` per missing
column, a temporary staging table filled with multi-row INSERTs, then
- an event table: `DELETE FROM stage USING target` drops the ids the table has already, and
  `INSERT … SELECT` appends the rest, so a re-delivered batch adds nothing;
- `users`/`accounts`: `UPDATE … FROM stage` sets each column to the newer message's value
  (by `received_at`) when it has one, then the ids not there yet are inserted.
Values that do not fit their column's type go to `seamline_discards`, as in the PostgreSQL
warehouse. `uuid_ts` is the load time, set by the loader (Redshift's and PostgreSQL's clock
functions differ).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime

import psycopg
from psycopg import sql

from seamline.destinations.catalog.postgres_warehouse.cells import ColumnType, category
from seamline.destinations.catalog.postgres_warehouse.connections import Connection, Connections
from seamline.destinations.catalog.postgres_warehouse.rows import (
    LOAD_TIME,
    PROFILE_TABLES,
    Row,
    merge_profiles,
    standard_columns,
)
from seamline.destinations.catalog.redshift.dialect import (
    Value,
    chunks,
    column,
    fit_text,
    value_for,
)
from seamline.destinations.definition import Context
from seamline.destinations.errors import PermanentError, RetryableError
from seamline.destinations.warehouse_naming import MAX_NAME

DISCARDS = "seamline_discards"
_DISCARD_COLUMNS: dict[str, ColumnType] = {
    "table_name": "text",
    "row_id": "text",
    "column_name": "text",
    "column_type": "text",
    "value": "text",
    "received_at": "timestamptz",
    LOAD_TIME: "timestamptz",
}
_STAGE = "seamline_stage"
_COLUMNS = """SELECT column_name, data_type FROM information_schema.columns
    WHERE table_schema = %s AND table_name = %s"""
_SCHEMA_EXISTS = "SELECT 1 FROM pg_namespace WHERE nspname = %s"
_STATE_KEY = "redshift"


class Loader:
    """One destination instance's connections to its Redshift schema."""

    def __init__(self, url: str, schema: str) -> None:
        self.connections = Connections(url)
        self.schema = schema
        self.settings = (url, schema)

    def check(self) -> None:
        """Connect and make sure the user may create tables in the schema (or the schema)."""
        with self.connections.connection() as connection:
            if connection.execute(_SCHEMA_EXISTS, (self.schema,)).fetchone() is None:
                query = "SELECT has_database_privilege(current_database(), 'CREATE')"
                allowed = connection.execute(query).fetchone()
            else:
                query = "SELECT has_schema_privilege(%s, 'CREATE')"
                allowed = connection.execute(query, (self.schema,)).fetchone()
        if not (allowed and allowed[0]):
            raise PermanentError(f"the database user may not create tables in {self.schema!r}")

    def load(self, rows: Sequence[Row]) -> dict[str, int]:
        """Write `rows`; returns the rows added (or updated, for profiles) per table."""
        by_table: dict[str, list[Row]] = {}
        for row in rows:
            by_table.setdefault(row.table, []).append(row)
        loaded_at = datetime.now(UTC)
        written: dict[str, int] = {}
        with self.connections.connection() as connection:
            connection.execute(
                sql.SQL("CREATE SCHEMA IF NOT EXISTS {}").format(sql.Identifier(self.schema))
            )
            for table in sorted(by_table):  # one lock at a time, in one order: no deadlocks
                batch = by_table[table]
                batch = merge_profiles(batch) if table in PROFILE_TABLES else _last_copy(batch)
                try:
                    with connection.transaction():
                        written[table] = self._load_table(connection, table, batch, loaded_at)
                except psycopg.errors.UniqueViolation as error:
                    # Two loaders creating one table at once (PostgreSQL's catalog says so
                    # this way); the next attempt finds it.
                    raise RetryableError(f"Redshift: {error}") from error
        return written

    def _load_table(
        self, connection: Connection, table: str, rows: list[Row], loaded_at: datetime
    ) -> int:
        columns = self._prepare(connection, table, rows)
        names = [c for c in columns if c != LOAD_TIME and any(c in row.cells for row in rows)]
        values: list[list[Value]] = []
        discards: list[list[Value]] = []
        for row in rows:
            line: list[Value] = []
            for name in names:
                cell = row.cells.get(name)
                value = None if cell is None else value_for(cell, columns[name])
                if cell is not None and value is None:
                    at = row.cells.get("received_at")
                    received = None if at is None else value_for(at, "timestamptz")
                    kept = fit_text(cell.text)
                    id_ = row.cells["id"].text
                    discards.append([table, id_, name, columns[name], kept, received, loaded_at])
                line.append(value)
            values.append([*line, loaded_at])
        names.append(LOAD_TIME)
        stage = sql.Identifier(_STAGE)
        definitions = sql.SQL(", ").join(column(n, columns[n]) for n in names)
        connection.execute(sql.SQL("CREATE TEMP TABLE {} ({})").format(stage, definitions))
        self._insert(connection, stage, names, values)
        target = self._name(table)
        if table in PROFILE_TABLES:
            connection.execute(_update_profiles(target, sql.Identifier(table), stage, names))
        connection.execute(
            sql.SQL("DELETE FROM {s} USING {t} WHERE {s}.id = {t}.id").format(s=stage, t=target)
        )
        listed = sql.SQL(", ").join(map(sql.Identifier, names))
        inserted = connection.execute(
            sql.SQL("INSERT INTO {} ({}) SELECT {} FROM {}").format(target, listed, listed, stage)
        ).rowcount
        connection.execute(sql.SQL("DROP TABLE {}").format(stage))
        if discards:
            self._discard(connection, discards)
        return max(inserted, 0)

    def _prepare(
        self, connection: Connection, table: str, rows: list[Row]
    ) -> dict[str, ColumnType]:
        """The table's columns after adding those `rows` need; a new column takes the type
        of its latest value in the batch, an existing one keeps its own."""
        fixed = standard_columns(table)
        wanted: dict[str, ColumnType] = dict(fixed)
        for row in rows:
            for name, cell in row.cells.items():
                if name not in fixed:
                    wanted[name] = cell.type
        wanted[LOAD_TIME] = "timestamptz"
        known = self._create_and_lock(connection, table, wanted)
        for name, column_type in wanted.items():
            if name not in known:
                connection.execute(
                    sql.SQL("ALTER TABLE {} ADD COLUMN {}").format(
                        self._name(table), column(name, column_type)
                    )
                )
                known[name] = column_type
        return known

    def _create_and_lock(
        self, connection: Connection, table: str, wanted: dict[str, ColumnType]
    ) -> dict[str, ColumnType]:
        definitions = [sql.SQL("{} PRIMARY KEY").format(column("id", "text"))]
        definitions += [column(n, t) for n, t in wanted.items() if n != "id"]
        connection.execute(
            sql.SQL("CREATE TABLE IF NOT EXISTS {} ({})").format(
                self._name(table), sql.SQL(", ").join(definitions)
            )
        )
        connection.execute(sql.SQL("LOCK {}").format(self._name(table)))
        found = connection.execute(_COLUMNS, (self.schema, table)).fetchall()
        return {str(name): category(str(data_type)) for name, data_type in found}

    def _insert(
        self,
        connection: Connection,
        into: sql.Composable,
        names: list[str],
        values: list[list[Value]],
    ) -> None:
        listed = sql.SQL(", ").join(map(sql.Identifier, names))
        # The placeholders as one plain string: composing thousands of sql.Placeholder objects
        # took a third of a batch's time (measured with cProfile).
        one = "(" + ", ".join(["%s"] * len(names)) + ")"
        for chunk in chunks(values, len(names)):
            rows = sql.SQL(", ".join([one] * len(chunk)))
            query = sql.SQL("INSERT INTO {} ({}) VALUES {}").format(into, listed, rows)
            connection.execute(query, [v for row in chunk for v in row])

    def _discard(self, connection: Connection, discards: list[list[Value]]) -> None:
        """Keep the values that did not fit, replacing what was kept for the same cells."""
        names = list(_DISCARD_COLUMNS)
        definitions = sql.SQL(", ").join(column(n, t) for n, t in _DISCARD_COLUMNS.items())
        target = self._name(DISCARDS)
        connection.execute(
            sql.SQL("CREATE TABLE IF NOT EXISTS {} ({})").format(target, definitions)
        )
        connection.execute(sql.SQL("LOCK {}").format(target))
        for chunk in chunks(discards, 3):
            same = sql.SQL(" OR ").join(
                [sql.SQL("(table_name = %s AND row_id = %s AND column_name = %s)")] * len(chunk)
            )
            keys = [v for d in chunk for v in d[:3]]
            connection.execute(sql.SQL("DELETE FROM {} WHERE {}").format(target, same), keys)
        self._insert(connection, target, names, discards)

    def _name(self, table: str) -> sql.Identifier:
        return sql.Identifier(self.schema, table)


def _update_profiles(
    target: sql.Identifier, alias: sql.Identifier, stage: sql.Identifier, names: list[str]
) -> sql.Composed:
    """Per column: the newer message's value if it has one, else the older's (`received_at`
    orders them). Redshift names the target in SET expressions by its table name, not an
    alias."""
    newer = sql.SQL("({t}.received_at IS NULL OR {s}.received_at >= {t}.received_at)").format(
        t=alias, s=stage
    )
    sets = [
        sql.SQL(
            "{c} = CASE WHEN {newer} THEN COALESCE({s}.{c}, {t}.{c})"
            " ELSE COALESCE({t}.{c}, {s}.{c}) END"
        ).format(c=sql.Identifier(name), newer=newer, s=stage, t=alias)
        for name in names
        if name not in ("id", "received_at", LOAD_TIME)
    ]
    sets.append(
        sql.SQL(
            "received_at = CASE WHEN {newer} THEN COALESCE({s}.received_at, {t}.received_at)"
            " ELSE {t}.received_at END"
        ).format(newer=newer, s=stage, t=alias)
    )
    sets.append(sql.SQL("{c} = {s}.{c}").format(c=sql.Identifier(LOAD_TIME), s=stage))
    return sql.SQL("UPDATE {} SET {} FROM {} WHERE {}.id = {}.id").format(
        target, sql.SQL(", ").join(sets), stage, alias, stage
    )


def _last_copy(rows: list[Row]) -> list[Row]:
    """One row per id: a message twice in one batch is loaded once."""
    return list({str(row.cells["id"].value): row for row in rows}.values())


def loader_for(ctx: Context) -> Loader:
    """The instance's loader, made on first use and replaced when its settings change."""
    url = ctx.settings.get("database_url")
    schema = ctx.settings.get("schema") or "seamline"
    if not isinstance(url, str) or not url.strip():
        raise PermanentError("the database_url setting is missing")
    if not isinstance(schema, str) or not schema.strip() or len(schema) > MAX_NAME:
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
