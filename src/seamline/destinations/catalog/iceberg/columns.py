"""Segment's warehouse rows as Arrow tables for Iceberg: column types both ways, and values
converted to the type a column already has.

Our four column types (see `postgres_warehouse.cells`) become Iceberg's `string`, `double`,
`boolean` and `timestamptz` (microseconds, UTC). A number is a double, as in Segment's
warehouses: Iceberg's decimals have a fixed scale that JSON numbers do not.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from datetime import datetime
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from seamline.destinations.catalog.postgres_warehouse.cells import Cell, ColumnType, convert

if TYPE_CHECKING:
    import pyarrow as pa
    from pyiceberg.schema import Schema

Value = str | float | bool | datetime | None


def arrow_type(column_type: ColumnType) -> pa.DataType:
    """The Arrow type a column of `column_type` is written with."""
    import pyarrow as pa

    return {
        "text": pa.string(),
        "numeric": pa.float64(),
        "boolean": pa.bool_(),
        "timestamptz": pa.timestamp("us", tz="UTC"),
    }[column_type]


def column_types(schema: Schema) -> dict[str, ColumnType]:
    """Our type for each column of an Iceberg schema; a column of another type (changed by
    hand) is taken as text and its values are written as strings."""
    from pyiceberg.types import (
        BooleanType,
        DoubleType,
        FloatType,
        TimestampType,
        TimestamptzType,
    )

    found: dict[str, ColumnType] = {}
    for field in schema.fields:
        kind = field.field_type
        if isinstance(kind, DoubleType | FloatType):
            found[field.name] = "numeric"
        elif isinstance(kind, BooleanType):
            found[field.name] = "boolean"
        elif isinstance(kind, TimestamptzType | TimestampType):
            found[field.name] = "timestamptz"
        else:
            found[field.name] = "text"
    return found


def value_for(cell: Cell, column_type: ColumnType) -> Value:
    """`cell` as a column of `column_type` holds it, or None when it does not fit (a number
    beyond a double's range, or a value of another kind: see `cells.convert`)."""
    converted = convert(cell, column_type)
    if isinstance(converted, Decimal):
        number = float(converted)
        return number if math.isfinite(number) else None
    return converted


def arrow_table(
    columns: Mapping[str, ColumnType], records: Iterable[Mapping[str, Value]]
) -> pa.Table:
    """An Arrow table of `records` (column → value; absent is null) with `columns`' types."""
    import pyarrow as pa

    listed = list(records)
    return pa.table(
        {
            name: pa.array([record.get(name) for record in listed], arrow_type(column_type))
            for name, column_type in columns.items()
        }
    )


def records_of(table: Any) -> list[dict[str, Any]]:
    """An Arrow table as one dict per row."""
    rows: list[dict[str, Any]] = table.to_pylist()
    return rows
