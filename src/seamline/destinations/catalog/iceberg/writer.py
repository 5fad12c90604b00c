"""Writing Segment's warehouse rows into Iceberg tables through pyiceberg's SQL catalog.

Per table of a batch, one Iceberg commit:
- the schema is widened first (`update_schema().union_by_name` with the new columns only; a
  column keeps its type, a value that does not fit is null there and kept in
  `seamline_discards`);
- an event table appends the rows whose messageIds it does not hold yet: the ids are looked
  up with a scan filtered on the ids and the batch's `received_at` range, which Iceberg's
  per-file statistics narrow to the files of those hours, so a re-delivered batch adds nothing;
- `users` and `accounts` are read for the batch's ids, merged (each column keeps the value of
  the latest message by `received_at`, as in the PostgreSQL warehouse) and written back with
  one `overwrite` (a delete of those ids and an append, committed as one snapshot).
Two writers committing to one table at once: the loser's commit fails (the tables are made
with pyiceberg's commit retries off) and its batch is retried, finding the winner's ids.
"""

from __future__ import annotations

import contextlib
import errno
from collections.abc import Iterator, Mapping, Sequence
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from seamline.destinations.catalog.iceberg.columns import (
    Value,
    arrow_table,
    arrow_type,
    column_types,
    records_of,
    value_for,
)
from seamline.destinations.catalog.postgres_warehouse.cells import ColumnType
from seamline.destinations.catalog.postgres_warehouse.rows import (
    LOAD_TIME,
    PROFILE_TABLES,
    Row,
    merge_profiles,
    standard_columns,
)
from seamline.destinations.errors import PermanentError, RetryableError

if TYPE_CHECKING:
    from pyiceberg.catalog.sql import SqlCatalog
    from pyiceberg.table import Table

DISCARDS = "seamline_discards"
DISCARD_COLUMNS: dict[str, ColumnType] = {
    "table_name": "text",
    "row_id": "text",
    "column_name": "text",
    "column_type": "text",
    "value": "text",
    "received_at": "timestamptz",
    LOAD_TIME: "timestamptz",
}
_PROPERTIES = {"commit.retry.num-retries": "0"}
"""pyiceberg would re-apply an append on top of a concurrent writer's commit, after we checked
the ids against the snapshot before it: with no retries the commit fails instead, and the
batch is delivered again, checking against the new snapshot."""
_RETRYABLE_ERRNOS = frozenset(
    {errno.ENOSPC, errno.EDQUOT, errno.EIO, errno.EAGAIN, errno.EINTR, errno.EBUSY}
    | {errno.ETIMEDOUT, errno.ESTALE}
)


class Writer:
    """One destination instance's catalog and namespace."""

    def __init__(self, catalog: SqlCatalog, namespace: str, settings: tuple[str, ...]) -> None:
        self.catalog = catalog
        self.namespace = namespace
        self.settings = settings

    def load(self, rows: Sequence[Row]) -> dict[str, int]:
        """Write `rows`; returns the rows added (or rewritten, for profiles) per table."""
        by_table: dict[str, list[Row]] = {}
        for row in rows:
            by_table.setdefault(row.table, []).append(row)
        loaded_at = datetime.now(UTC)
        written: dict[str, int] = {}
        with failures():
            self.catalog.create_namespace_if_not_exists(self.namespace)
            for name in sorted(by_table):
                batch = by_table[name]
                batch = merge_profiles(batch) if name in PROFILE_TABLES else _last_copy(batch)
                written[name] = self._load_table(name, batch, loaded_at)
        return written

    def table(self, name: str, columns: Mapping[str, ColumnType]) -> Table:
        """The table `name`, created with `columns` if missing and widened with those of
        `columns` it lacks (the columns it has keep their types)."""
        from pyiceberg.schema import Schema
        from pyiceberg.types import NestedField

        identifier = (self.namespace, name)
        if not self.catalog.table_exists(identifier):
            fields = [
                NestedField(i, c, _iceberg_type(t), required=False)
                for i, (c, t) in enumerate(columns.items(), start=1)
            ]
            return self.catalog.create_table_if_not_exists(
                identifier, schema=Schema(*fields), properties=_PROPERTIES
            )
        table = self.catalog.load_table(identifier)
        known = column_types(table.schema())
        missing = {c: t for c, t in columns.items() if c not in known}
        if missing:
            import pyarrow as pa

            wanted = pa.schema([(c, arrow_type(t)) for c, t in missing.items()])
            with table.update_schema() as update:
                update.union_by_name(wanted)
        return table

    def _load_table(self, name: str, rows: list[Row], loaded_at: datetime) -> int:
        fixed = standard_columns(name)
        wanted: dict[str, ColumnType] = dict(fixed)
        for row in rows:
            for column, cell in row.cells.items():
                if column not in fixed:
                    wanted[column] = cell.type
        wanted[LOAD_TIME] = "timestamptz"
        table = self.table(name, wanted)
        columns = column_types(table.schema())
        if name not in PROFILE_TABLES:
            present = self._present_ids(table, rows)
            rows = [row for row in rows if str(row.cells["id"].value) not in present]
        records: list[dict[str, Value]] = []
        discards: list[dict[str, Value]] = []
        for row in rows:
            record: dict[str, Value] = {LOAD_TIME: loaded_at}
            for column, cell in row.cells.items():
                value = value_for(cell, columns[column])
                record[column] = value
                if value is None:
                    at = row.cells.get("received_at")
                    discards.append(
                        {
                            "table_name": name,
                            "row_id": row.cells["id"].text,
                            "column_name": column,
                            "column_type": columns[column],
                            "value": cell.text,
                            "received_at": None if at is None else value_for(at, "timestamptz"),
                            LOAD_TIME: loaded_at,
                        }
                    )
            records.append(record)
        if not records:
            return 0
        if name in PROFILE_TABLES:
            self._upsert(table, columns, records)
        else:
            table.append(arrow_table(_used(columns, records), records))
        if discards:
            self._discard(discards)
        return len(records)

    def _present_ids(self, table: Table, rows: list[Row]) -> set[str]:
        """The batch's ids the table holds. Only the `id` column of the files whose
        `received_at` range meets the batch's is read; the ids are matched here, not in the
        scan's filter: pyiceberg binds an IN of 500 literals slower than it reads the column
        (2.1 of 4.3 s per 3,000 tracks, measured)."""
        import pyarrow as pa
        import pyarrow.compute as pc
        from pyiceberg.expressions import AlwaysTrue, And

        ids = pa.array([str(row.cells["id"].value) for row in rows], pa.string())
        times = [row.cells["received_at"].value for row in rows if "received_at" in row.cells]
        condition: Any = AlwaysTrue()
        if len(times) == len(rows):  # every row has a time: only files of that span are read
            earliest, latest = min(times), max(times)
            condition = And(
                predicate(">=", "received_at", _iso(earliest)),
                predicate("<=", "received_at", _iso(latest)),
            )
        found = table.scan(row_filter=condition, selected_fields=("id",)).to_arrow()
        present = pc.is_in(ids, value_set=found.column("id").combine_chunks())
        return {str(v) for v in ids.filter(present).to_pylist()}

    def _upsert(
        self, table: Table, columns: Mapping[str, ColumnType], records: list[dict[str, Value]]
    ) -> None:
        ids = [str(record["id"]) for record in records]
        where = predicate("in", "id", ids)
        existing = {str(r["id"]): r for r in records_of(table.scan(row_filter=where).to_arrow())}
        merged = [_merge(existing.get(str(record["id"])), record) for record in records]
        data = arrow_table(_used(columns, merged), merged)
        if existing:
            table.overwrite(data, overwrite_filter=where)
        else:  # an overwrite that deletes nothing warns; it would append the same
            table.append(data)

    def _discard(self, discards: list[dict[str, Value]]) -> None:
        """Keep what did not fit, one value per table, row and column (the latest)."""
        from pyiceberg.expressions import And

        table = self.table(DISCARDS, DISCARD_COLUMNS)
        by_table: dict[str, list[dict[str, Value]]] = {}
        for discard in discards:
            by_table.setdefault(str(discard["table_name"]), []).append(discard)
        for name, found in by_table.items():
            keys = {(str(d["row_id"]), str(d["column_name"])) for d in found}
            rows = sorted({k[0] for k in keys})
            where = And(predicate("=", "table_name", name), predicate("in", "row_id", rows))
            present = records_of(table.scan(row_filter=where).to_arrow())
            kept = [r for r in present if (str(r["row_id"]), str(r["column_name"])) not in keys]
            data = arrow_table(DISCARD_COLUMNS, kept + found)
            if present:
                table.overwrite(data, overwrite_filter=where)
            else:
                table.append(data)


def _merge(existing: Mapping[str, Any] | None, new: dict[str, Value]) -> dict[str, Value]:
    """Per column the newer message's value if it has one, else the older's; `received_at`
    orders them (the rule of the PostgreSQL warehouse's upsert)."""
    if existing is None:
        return new
    old_at, new_at = existing.get("received_at"), new.get("received_at")
    newer = old_at is None or (new_at is not None and new_at >= old_at)
    merged: dict[str, Value] = dict(existing)
    for column, value in new.items():
        if column in ("received_at", LOAD_TIME):
            continue
        if value is not None and (newer or merged.get(column) is None):
            merged[column] = value
    merged["received_at"] = new_at if newer and new_at is not None else old_at
    merged[LOAD_TIME] = new[LOAD_TIME]
    return merged


def _used(columns: Mapping[str, ColumnType], records: list[dict[str, Value]]) -> dict[str, Any]:
    """The table's columns that some record has, in the table's order."""
    present = {column for record in records for column in record}
    return {c: t for c, t in columns.items() if c in present}


def _last_copy(rows: list[Row]) -> list[Row]:
    return list({str(row.cells["id"].value): row for row in rows}.values())


def _iceberg_type(column_type: ColumnType) -> Any:
    from pyiceberg.types import BooleanType, DoubleType, StringType, TimestamptzType

    return {
        "text": StringType(),
        "numeric": DoubleType(),
        "boolean": BooleanType(),
        "timestamptz": TimestamptzType(),
    }[column_type]


def predicate(operator: str, column: str, value: Any) -> Any:
    """An unbound pyiceberg predicate (`in`, `=`, `>=`, `<=`) on `column`."""
    from pyiceberg import expressions

    builders: dict[str, Any] = {
        "in": expressions.In,
        "=": expressions.EqualTo,
        ">=": expressions.GreaterThanOrEqual,
        "<=": expressions.LessThanOrEqual,
    }
    return builders[operator](column, value)


def _iso(moment: Any) -> str:
    return moment.isoformat() if isinstance(moment, datetime) else str(moment)


@contextlib.contextmanager
def failures() -> Iterator[None]:
    """pyiceberg's, SQLAlchemy's and the disk's failures as delivery errors: a commit lost to
    another writer, a catalog database out of reach or a full disk heal; the rest does not."""
    from pyiceberg.exceptions import CommitFailedException, NoSuchTableError
    from sqlalchemy.exc import OperationalError, SQLAlchemyError

    try:
        yield
    except (CommitFailedException, NoSuchTableError) as error:
        raise RetryableError(f"Iceberg: {error}") from error
    except OperationalError as error:
        raise RetryableError(f"Iceberg catalog: {error.orig}") from error
    except SQLAlchemyError as error:
        raise PermanentError(f"Iceberg catalog: {error}") from error
    except OSError as error:
        message = f"Iceberg warehouse: {error.strerror or error}"
        if error.errno in _RETRYABLE_ERRNOS:
            raise RetryableError(message) from error
        raise PermanentError(message) from error
