"""What Redshift's SQL takes that PostgreSQL's does not, in one place: column types, value
limits, and the statements the loader and the erasure share.

Every statement here is written for Redshift and also runs on PostgreSQL (the tests run them
there). Redshift has no `ON CONFLICT`, no arrays as parameters, no `RETURNING`, no advisory
locks, no `ADD COLUMN IF NOT EXISTS` and one column per `ADD COLUMN`; a `VARCHAR` holds at
most 65535 bytes; a `NUMERIC` without a scale holds integers only, so a number is a
`DOUBLE PRECISION`, as in Segment's Redshift warehouses.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from datetime import datetime
from decimal import Decimal

from psycopg import sql

from seamline.destinations.catalog.postgres_warehouse.cells import Cell, ColumnType, convert

MAX_VARCHAR_BYTES = 65535
"""Redshift's largest VARCHAR; longer text is cut at a character boundary below it."""
MAX_STATEMENT_BYTES = 8 * 1024 * 1024
"""Half of Redshift's 16 MB statement limit, for the values of one multi-row INSERT."""
MAX_PARAMETERS = 32767
"""Bound parameters in one statement (PostgreSQL's wire protocol counts them in 16 bits)."""

DDL_TYPE: dict[ColumnType, str] = {
    "text": f"VARCHAR({MAX_VARCHAR_BYTES})",
    "numeric": "DOUBLE PRECISION",
    "boolean": "BOOLEAN",
    "timestamptz": "TIMESTAMPTZ",
}

Value = str | float | bool | datetime | None


def column(name: str, column_type: ColumnType) -> sql.Composed:
    """`"name" TYPE`, as CREATE TABLE and ADD COLUMN write it."""
    return sql.SQL("{} {}").format(sql.Identifier(name), sql.SQL(DDL_TYPE[column_type]))


def value_for(cell: Cell, column_type: ColumnType) -> Value:
    """`cell` as a Redshift column of `column_type` stores it, or None when it does not fit:
    a number beyond DOUBLE PRECISION's range, or a value of another kind (see `cells`)."""
    converted = convert(cell, column_type)
    if isinstance(converted, Decimal):
        number = float(converted)
        return number if math.isfinite(number) else None
    if isinstance(converted, str):
        return fit_text(converted)
    return converted


def fit_text(text: str) -> str:
    """`text` cut to at most MAX_VARCHAR_BYTES of UTF-8, never inside a character."""
    encoded = text.encode("utf-8", "replace")
    if len(encoded) <= MAX_VARCHAR_BYTES:
        return text
    return encoded[:MAX_VARCHAR_BYTES].decode("utf-8", "ignore")


def placeholders(count: int) -> sql.Composed:
    """`%s, %s, …` (`count` of them), for an IN list: Redshift takes no array parameters."""
    return sql.SQL(", ").join(sql.Placeholder() * count)


def chunks(rows: Sequence[Sequence[Value]], width: int) -> list[Sequence[Sequence[Value]]]:
    """`rows` split so that each multi-row INSERT stays under the statement and parameter
    limits."""
    per_statement = max(1, MAX_PARAMETERS // max(width, 1))
    found: list[Sequence[Sequence[Value]]] = []
    start, size = 0, 0
    for index, row in enumerate(rows):
        row_size = sum(len(v) if isinstance(v, str) else 8 for v in row)
        if index > start and (
            index - start >= per_statement or size + row_size > MAX_STATEMENT_BYTES
        ):
            found.append(rows[start:index])
            start, size = index, 0
        size += row_size
    if start < len(rows):
        found.append(rows[start:])
    return found
