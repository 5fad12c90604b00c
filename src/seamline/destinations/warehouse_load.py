"""Loading Segment's warehouse schema into a cloud warehouse, whatever its API: the rows a
batch becomes (shaped by `postgres_warehouse.rows`), the tables and columns they need, the
values that do not fit a column's type, and deleting a person.

A `Target` is one warehouse's side: its dialect, how it runs statements and how it writes
rows. The loader keeps what it knows of the schema (each table's columns and their types),
read once and kept current as it adds columns; a failure forgets it, so the next batch reads
the warehouse again (someone may have dropped a table or added a column by hand).

As in the PostgreSQL warehouse, a column keeps the type it was created with: a later value
of another type is converted when that loses nothing, else the row gets NULL there and the
value is kept, as text, in `seamline_discards`.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from decimal import Decimal
from typing import TYPE_CHECKING, Any, Protocol

from seamline.destinations.catalog.postgres_warehouse.cells import ColumnType, convert
from seamline.destinations.catalog.postgres_warehouse.rows import (
    PROFILE_TABLES,
    Row,
    merge_profiles,
    rows_of,
    standard_columns,
)
from seamline.destinations.definition import Action, Context, Field, Preset
from seamline.destinations.errors import DeliveryError, InvalidPayload, RetryableError
from seamline.destinations.http import Http
from seamline.destinations.warehouse_sql import (
    DISCARD_COLUMNS,
    DISCARDS,
    ID_COLUMNS,
    Dialect,
    Kind,
    Value,
    erase,
    finite,
)

if TYPE_CHECKING:
    from seamline.privacy.subject import Person

Columns = dict[str, dict[str, ColumnType]]
"""Table → column → type, as the warehouse reports them."""


class Target(Protocol):
    """One warehouse, as the loader drives it."""

    dialect: Dialect

    def use(self, http: Http) -> None:
        """Send through `http` from now on (each delivery brings its own client)."""
        ...

    def ref(self, table: str) -> str:
        """The table's qualified, quoted name."""
        ...

    def ensure_schema(self) -> None:
        """Create the schema (dataset, database) if it is missing."""
        ...

    def columns(self) -> Columns:
        """Every table of the schema with its columns."""
        ...

    def create_table(self, table: str, columns: Mapping[str, ColumnType], kind: Kind) -> None:
        """Create `table` (if missing) with `columns` and the load time."""
        ...

    def add_columns(self, table: str, columns: Mapping[str, ColumnType]) -> None:
        """Add `columns` to `table` in one statement."""
        ...

    def write(
        self,
        table: str,
        columns: Mapping[str, ColumnType],
        rows: Sequence[Mapping[str, Value]],
        kind: Kind,
    ) -> None:
        """Write `rows` (values converted to `columns`' types) idempotently."""
        ...

    def run(self, statements: Sequence[str], *, atomic: bool = False) -> None:
        """Run `statements` in order; in one transaction when `atomic` and the tool has them."""
        ...

    def check(self) -> None:
        """Authenticate and run a trivial statement."""
        ...


class WarehouseLoader:
    """One destination instance's view of its schema, and the target it writes through."""

    def __init__(self, target: Target, settings: tuple[Any, ...]) -> None:
        self.target = target
        self.settings = settings
        self._columns: Columns | None = None

    def load(self, rows: Sequence[Row]) -> None:
        """Write `rows`, table by table; a failure raises for the whole batch (retrying it is
        harmless: every write is idempotent)."""
        by_table: dict[str, list[Row]] = {}
        for row in rows:
            by_table.setdefault(row.table, []).append(row)
        try:
            for table in sorted(by_table):
                kind: Kind = "profiles" if table in PROFILE_TABLES else "events"
                batch = merge_profiles(by_table[table]) if kind == "profiles" else None
                self._write(table, batch or _first_of_each(by_table[table]), kind)
        except DeliveryError:
            self._columns = None
            raise

    def _write(self, table: str, rows: list[Row], kind: Kind) -> None:
        columns = self._prepare(table, _wanted(table, rows), kind)
        used = {c: columns[c] for c in columns if any(c in row.cells for row in rows)}
        values: list[dict[str, Value]] = []
        discards: list[dict[str, Value]] = []
        for row in rows:
            line: dict[str, Value] = {}
            for column, cell in row.cells.items():
                value = _fitted(convert(cell, used[column]))
                if value is None:
                    received = row.cells.get("received_at")
                    discards.append(
                        {
                            "table_name": table,
                            "row_id": row.cells["id"].text,
                            "column_name": column,
                            "column_type": self.target.dialect.types[used[column]],
                            "value": cell.text,
                            "received_at": None if received is None else received.value,
                        }
                    )
                line[column] = value
            values.append(line)
        self.target.write(table, used, values, kind)
        if discards:
            self._prepare(DISCARDS, DISCARD_COLUMNS, "discards")
            self.target.write(DISCARDS, DISCARD_COLUMNS, discards, "discards")

    def _prepare(
        self, table: str, wanted: Mapping[str, ColumnType], kind: Kind
    ) -> dict[str, ColumnType]:
        """The table's columns after adding those `wanted` that it lacks."""
        if self._columns is None:
            self.target.ensure_schema()
            self._columns = self.target.columns()
        known = self._columns.get(table)
        if known is None:
            self.target.create_table(table, wanted, kind)
            # Read back what exists: another loader (or a person) may have made the table
            # first, with other columns, and CREATE … IF NOT EXISTS then did nothing.
            self._columns = self.target.columns()
            known = self._columns.get(table)
            if known is None:
                raise RetryableError(f"table {table} is still missing after CREATE TABLE")
        missing = {c: t for c, t in wanted.items() if c not in known}
        if missing:
            self.target.add_columns(table, missing)
            known.update(missing)
        return known


def _wanted(table: str, rows: Sequence[Row]) -> dict[str, ColumnType]:
    """Fixed columns with their types, then each other column with the type of its latest
    value in the batch (Segment: "the most recent occurrence")."""
    fixed = standard_columns(table)
    wanted: dict[str, ColumnType] = dict(fixed)
    for row in rows:
        for column, cell in row.cells.items():
            if column not in fixed:
                wanted[column] = cell.type
    return wanted


def _first_of_each(rows: Sequence[Row]) -> list[Row]:
    """One row per id (a MERGE must not see a key twice in its source)."""
    seen: dict[str, Row] = {}
    for row in rows:
        seen.setdefault(str(row.cells["id"].value), row)
    return list(seen.values())


def _fitted(value: Value) -> Value:
    """`value`, or None for a number no double holds (it is kept as a discard instead)."""
    if isinstance(value, Decimal):
        try:
            finite(value)
        except ValueError:
            return None
    return value


def delete_person(target: Target, person: Person) -> None:
    """Delete the rows holding the person's user or anonymous ids from every table with a
    person column, `users` by id, and their kept discards, in one transaction where the tool
    has transactions. Nobody's rows in an empty schema is a success."""
    ids = sorted({*person.user_ids, *person.anonymous_ids})
    if not ids:
        return
    columns = target.columns()
    tables: dict[str, list[str]] = {}
    for table, names in columns.items():
        held = [c for c in ID_COLUMNS if c in names]
        if held and table not in (DISCARDS, "users"):
            tables[table] = held
    if "users" in columns:
        tables["users"] = ["id"]
    refs = {table: target.ref(table) for table in [*tables, DISCARDS] if table in columns}
    statements = erase(target.dialect, refs, tables, person.user_ids, ids)
    if statements:
        target.run(statements, atomic=True)


def load_batch(
    loader: WarehouseLoader, payloads: list[dict[str, Any]]
) -> list[DeliveryError | None]:
    """One outcome per payload, as the delivery worker reads a batch: None when loaded,
    InvalidPayload for a message of no known type (the others are loaded all the same)."""
    rows: list[Row] = []
    outcomes: list[DeliveryError | None] = []
    for payload in payloads:
        inner = payload.get("event")
        try:
            rows.extend(rows_of(inner if isinstance(inner, Mapping) else payload))
            outcomes.append(None)
        except InvalidPayload as error:
            outcomes.append(error)
    if rows:
        loader.load(rows)
    return outcomes


def loader_for(
    ctx: Context, key: str, settings: tuple[Any, ...], make: Callable[[], Target]
) -> WarehouseLoader:
    """The instance's loader (kept in `ctx.state` under `key`), made again when its settings
    change, sending through `ctx.http`."""
    loader = ctx.state.get(key)
    if not isinstance(loader, WarehouseLoader) or loader.settings != settings:
        loader = ctx.state[key] = WarehouseLoader(make(), settings)
    loader.target.use(ctx.http)
    return loader


EVERY_MESSAGE = " or ".join(
    f'type = "{kind}"' for kind in ("track", "identify", "page", "screen", "group", "alias")
)


def load_action(
    perform: Callable[[Context, dict[str, Any]], None],
    perform_batch: Callable[[Context, list[dict[str, Any]]], list[DeliveryError | None]],
    max_batch: int = 500,
) -> Action:
    """The one action of a warehouse destination: every message, whole, shaped into rows."""
    return Action(
        title="Load events",
        description="Append each message to its tables and keep users and accounts current.",
        fields={
            "event": Field(
                label="Event",
                description="The whole message; the warehouse shapes it into rows.",
                type="object",
                required=True,
                default={"@path": "$."},
            )
        },
        perform=perform,
        perform_batch=perform_batch,
        max_batch=max_batch,
        default_trigger=EVERY_MESSAGE,
    )


LOAD_PRESET = Preset(name="Load every event", action="load_events", trigger=EVERY_MESSAGE)
