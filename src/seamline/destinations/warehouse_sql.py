"""SQL for the cloud warehouses: one `Dialect` per tool holds what differs (quoting, type
names, how a table is widened), and the statements here are written once for all of them.

Rows go in as literals: every value is rendered by `Dialect.literal`, typed with an explicit
`CAST` (so a column of NULLs in one row and timestamps in the next unions cleanly in every
dialect), strings escaped with backslash escapes, which Snowflake, BigQuery, Databricks and
ClickHouse all read the same way. Identifiers are always quoted. Nothing a message carries
reaches a statement any other way.

Idempotency is a MERGE on the row's key: an event table inserts only ids it does not hold,
so a re-delivered batch adds nothing; `users` and `accounts` update each column from the
message with the later `received_at`, as the PostgreSQL warehouse does.
"""

from __future__ import annotations

import math
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal
from typing import Literal

from seamline.destinations.catalog.postgres_warehouse.cells import ColumnType

Value = str | Decimal | bool | datetime | None
Kind = Literal["events", "profiles", "discards"]
"""How a table is written: events are inserted once by `id`; profiles (`users`, `accounts`)
are upserted by `id`; discards are upserted by (table_name, row_id, column_name)."""

LOAD_TIME = "uuid_ts"
DISCARDS = "seamline_discards"
DISCARD_COLUMNS: dict[str, ColumnType] = {
    "table_name": "text",
    "row_id": "text",
    "column_name": "text",
    "column_type": "text",
    "value": "text",
    "received_at": "timestamptz",
}
KEYS: dict[Kind, tuple[str, ...]] = {
    "events": ("id",),
    "profiles": ("id",),
    "discards": ("table_name", "row_id", "column_name"),
}
ID_COLUMNS = ("user_id", "anonymous_id", "previous_id")
"""The columns that name a person, in every table that has them (see `erase`)."""
_ESCAPES = {"\\": "\\\\", "'": "\\'", "\n": "\\n", "\r": "\\r", "\t": "\\t"}


@dataclass(frozen=True)
class Dialect:
    """What one warehouse's SQL does its own way."""

    name: str
    """sqlglot's name for the dialect (the tests parse what we emit with it)."""
    types: Mapping[ColumnType, str]
    """The column type each of our four types is created as."""
    categories: Sequence[tuple[str, ColumnType]]
    """A reported data type (upper case, by prefix) → our type; anything else is text."""
    quote: str = '"'
    upper_case_names: bool = False
    """Names are stored in upper case (Snowflake: an unquoted `tracks` is `TRACKS`, so quoting
    `"TRACKS"` names the table people query without quotes)."""
    add_columns: tuple[str, str, str] = ("", "ADD COLUMN IF NOT EXISTS {}", "")
    """ALTER TABLE … then (before the list, each column definition, after the list)."""
    max_statement: int = 500_000
    """Characters of one statement; a batch's MERGE is split to stay under it."""
    now: str = "CURRENT_TIMESTAMP()"
    digit_prefix: str = ""
    """Put before a table or column name that starts with a digit, where names may not
    (BigQuery columns): `2fa_enabled` becomes `_2fa_enabled`."""

    def ident(self, name: str) -> str:
        """A table or column name, quoted as the dialect stores it."""
        if self.digit_prefix and name[:1].isdigit():
            name = self.digit_prefix + name
        return self.quoted(name)

    def quoted(self, name: str) -> str:
        """`name` quoted (and upper-cased where the dialect stores names that way)."""
        stored = name.upper() if self.upper_case_names else name
        return self.quote + stored.replace(self.quote, self.quote * 2) + self.quote

    def ref(self, *parts: str) -> str:
        """A qualified name such as database.schema.table: the schema's parts quoted as
        given, the last named with `ident`."""
        return ".".join([*map(self.quoted, parts[:-1]), self.ident(parts[-1])])

    def name_of(self, stored: str) -> str:
        """Our name for a name the warehouse reports (the inverse of `ident`)."""
        name = stored.lower() if self.upper_case_names else stored
        prefix = self.digit_prefix
        if prefix and name.startswith(prefix) and name[len(prefix) : len(prefix) + 1].isdigit():
            return name[len(prefix) :]
        return name

    def category(self, data_type: str) -> ColumnType:
        """Our type for a data type the warehouse reports (`FLOAT64`, `TIMESTAMP_TZ`, …)."""
        upper = data_type.upper()
        for prefix, column_type in self.categories:
            if upper.startswith(prefix):
                return column_type
        return "text"

    def string(self, text: str) -> str:
        """A string literal. Only the quote, the backslash and line breaks are escaped (BigQuery
        refuses a raw line break in a literal); other characters, control ones included, stand
        for themselves in all four dialects."""
        return "'" + "".join(_ESCAPES.get(c, c) for c in text) + "'"

    def literal(self, value: Value, column_type: ColumnType) -> str:
        """`value` (already converted to `column_type`, see cells.convert) as a typed literal."""
        sql_type = self.types[column_type]
        if value is None:
            return f"CAST(NULL AS {sql_type})"
        if isinstance(value, bool):
            return "TRUE" if value else "FALSE"
        if isinstance(value, Decimal):
            return f"CAST({finite(value)!r} AS {sql_type})"
        if isinstance(value, datetime):
            return f"CAST({self.string(utc_text(value))} AS {sql_type})"
        return self.string(value)


def finite(number: Decimal) -> float:
    """`number` as the double it is stored as; ValueError when it is out of a double's range."""
    value = float(number)
    if not math.isfinite(value):
        raise ValueError(f"{number} is out of range")
    return value


def utc_text(moment: datetime) -> str:
    """ISO 8601 in UTC, with microseconds."""
    utc = (moment if moment.tzinfo else moment.replace(tzinfo=UTC)).astimezone(UTC)
    return utc.isoformat(timespec="microseconds")


def create_table(dialect: Dialect, ref: str, columns: Mapping[str, ColumnType]) -> str:
    """CREATE TABLE IF NOT EXISTS with `columns` and the load time."""
    definitions = [f"{dialect.ident(c)} {dialect.types[t]}" for c, t in columns.items()]
    definitions.append(f"{dialect.ident(LOAD_TIME)} {dialect.types['timestamptz']}")
    return f"CREATE TABLE IF NOT EXISTS {ref} ({', '.join(definitions)})"


def add_columns(dialect: Dialect, ref: str, columns: Mapping[str, ColumnType]) -> str:
    """One ALTER TABLE adding every column of `columns`."""
    before, each, after = dialect.add_columns
    listed = ", ".join(
        each.format(f"{dialect.ident(c)} {dialect.types[t]}") for c, t in columns.items()
    )
    return f"ALTER TABLE {ref} {before}{listed}{after}"


def merges(
    dialect: Dialect,
    ref: str,
    columns: Mapping[str, ColumnType],
    rows: Sequence[Mapping[str, Value]],
    kind: Kind,
) -> Iterator[str]:
    """MERGE statements writing `rows` (each a column → value for `columns`) into `ref`,
    as many as `dialect.max_statement` requires."""
    names = list(columns)
    head = "SELECT " + ", ".join(
        f"{{}} AS {dialect.ident(name)}" for name in names
    )  # the first row names the source's columns
    tail = "SELECT " + ", ".join("{}" for _ in names)
    chunk: list[str] = []
    size = 0
    for row in rows:
        values = [dialect.literal(row.get(name), columns[name]) for name in names]
        select = (tail if chunk else head).format(*values)
        if chunk and size + len(select) > dialect.max_statement:
            yield _merge(dialect, ref, names, chunk, kind)
            chunk, size = [], 0
            select = head.format(*values)
        chunk.append(select)
        size += len(select) + 11
    if chunk:
        yield _merge(dialect, ref, names, chunk, kind)


def _merge(dialect: Dialect, ref: str, names: list[str], selects: list[str], kind: Kind) -> str:
    q = dialect.ident
    on = " AND ".join(f"t.{q(k)} = s.{q(k)}" for k in KEYS[kind])
    inserted = [*names, LOAD_TIME]
    insert = (
        f"WHEN NOT MATCHED THEN INSERT ({', '.join(map(q, inserted))}) "
        f"VALUES ({', '.join([*(f's.{q(n)}' for n in names), dialect.now])})"
    )
    update = ""
    if kind != "events":
        sets = [_set(dialect, name, kind) for name in names if name not in KEYS[kind]]
        sets.append(f"{q(LOAD_TIME)} = {dialect.now}")
        update = f"WHEN MATCHED THEN UPDATE SET {', '.join(sets)} "
    source = " UNION ALL ".join(selects)
    return f"MERGE INTO {ref} AS t USING ({source}) AS s ON {on} {update}{insert}"


def _set(dialect: Dialect, name: str, kind: Kind) -> str:
    """A profile column takes the newer message's value if it has one, else keeps the older
    (`received_at` orders them, so a late older identify only fills what is empty)."""
    c = dialect.ident(name)
    if kind == "discards":
        return f"{c} = s.{c}"
    r = dialect.ident("received_at")
    newer = f"t.{r} IS NULL OR s.{r} >= t.{r}"
    if name == "received_at":
        return f"{c} = CASE WHEN {newer} THEN s.{c} ELSE t.{c} END"
    return f"{c} = CASE WHEN {newer} THEN COALESCE(s.{c}, t.{c}) ELSE COALESCE(t.{c}, s.{c}) END"


def erase(
    dialect: Dialect,
    ref: Mapping[str, str],
    tables: Mapping[str, Sequence[str]],
    user_ids: Sequence[str],
    ids: Sequence[str],
) -> list[str]:
    """DELETE statements removing a person: from each table in `tables` (name → its person
    columns among ID_COLUMNS, or `id` for `users`) the rows holding one of `ids` (`user_ids`
    for `users`), and first their values kept in the discards table when `ref` has it."""
    statements: list[str] = []
    for table, columns in sorted(tables.items()):
        values = user_ids if list(columns) == ["id"] else ids
        if not values:
            continue
        listed = ", ".join(dialect.string(v) for v in values)
        where = " OR ".join(f"{dialect.ident(c)} IN ({listed})" for c in columns)
        if DISCARDS in ref:
            statements.append(
                f"DELETE FROM {ref[DISCARDS]} WHERE {dialect.ident('table_name')} = "
                f"{dialect.string(table)} AND {dialect.ident('row_id')} IN "
                f"(SELECT {dialect.ident('id')} FROM {ref[table]} WHERE {where})"
            )
        statements.append(f"DELETE FROM {ref[table]} WHERE {where}")
    return statements
