"""Column types inferred from values, and what a value becomes in a column of another type.

Segment's warehouses know five types (timestamp, integer, float, boolean, varchar) and set a
column's type from the value that created it. We keep four: JSON does not tell `10` from `10.0`
(analytics.js sends a price of 10 as an integer), so every number is `numeric`, which holds
integers and decimals exactly; this avoids the precision loss Segment documents for a float
column first created from an integer.

A column keeps its type for ever. A later value of another type is converted when that loses
nothing (any value into `text`; `"12.5"` into `numeric`; `"true"` into `boolean`); otherwise the
row gets NULL there and the value is kept, as text, in the `seamline_discards` table.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, date, datetime
from decimal import Decimal, InvalidOperation
from typing import Literal

from seamline.destinations.warehouse_naming import to_json

ColumnType = Literal["text", "numeric", "boolean", "timestamptz"]

_ISO_DATETIME = re.compile(
    r"\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}(:\d{2}(\.\d{1,9})?)?(Z|[+-]\d{2}(:?\d{2})?)?", re.ASCII
)
_NUMBER = re.compile(r"[+-]?(\d+(\.\d*)?|\.\d+)([eE][+-]?\d+)?", re.ASCII)

# The kind of a column PostgreSQL reports (information_schema data_type) as one of ours, for
# columns someone changed by hand: the server converts our value on assignment.
_CATEGORY: dict[str, ColumnType] = {
    "numeric": "numeric",
    "integer": "numeric",
    "bigint": "numeric",
    "smallint": "numeric",
    "double precision": "numeric",
    "real": "numeric",
    "boolean": "boolean",
    "timestamp with time zone": "timestamptz",
    "timestamp without time zone": "timestamptz",
    "date": "timestamptz",
}


@dataclass(frozen=True, slots=True)
class Cell:
    """A non-null value with the column type it would create and how it reads as text (the
    original string for strings, so a conflict stored as text loses nothing)."""

    type: ColumnType
    value: str | Decimal | bool | datetime
    text: str


def category(data_type: str) -> ColumnType:
    """Our type for a PostgreSQL `data_type`; anything unknown takes text input."""
    return _CATEGORY.get(data_type, "text")


def infer(value: object) -> Cell:
    """The cell for a JSON-like value (flattened already: no objects or arrays left)."""
    if isinstance(value, bool):
        return Cell("boolean", value, "true" if value else "false")
    if isinstance(value, int | float | Decimal):
        number = Decimal(repr(value)) if isinstance(value, float) else Decimal(value)
        return Cell("numeric", number, str(number))
    if isinstance(value, datetime):
        moment = value if value.tzinfo else value.replace(tzinfo=UTC)
        return Cell("timestamptz", moment, moment.isoformat())
    if isinstance(value, date):
        return Cell("text", value.isoformat(), value.isoformat())
    text = value if isinstance(value, str) else to_json(value)
    text = text.replace("\x00", "")  # PostgreSQL text cannot hold NUL
    moment_or_none = parse_timestamp(text)
    if moment_or_none is not None:
        return Cell("timestamptz", moment_or_none, text)
    return Cell("text", text, text)


def text_cell(value: object) -> Cell:
    """An id or name: always text, numbers written in decimal (Segment accepts numeric ids)."""
    text = value if isinstance(value, str) else infer(value).text
    clean = text.replace("\x00", "")
    return Cell("text", clean, clean)


def parse_timestamp(text: str) -> datetime | None:
    """An ISO 8601 date-time (a time of day is required; a bare date stays text), in UTC when
    it names no offset; None for anything else."""
    if len(text) > 40 or not _ISO_DATETIME.fullmatch(text):
        return None
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        return None
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def convert(cell: Cell, column: ColumnType) -> str | Decimal | bool | datetime | None:
    """`cell`'s value for a column of type `column`, or None when it does not fit without loss."""
    if cell.type == column:
        return cell.value
    if column == "text":
        return cell.text
    if cell.type != "text":
        return None  # numbers, booleans and timestamps never turn into each other
    if column == "numeric" and _NUMBER.fullmatch(cell.text.strip()):
        try:
            return Decimal(cell.text.strip())
        except InvalidOperation:  # pragma: no cover - the pattern admits only valid numbers
            return None
    if column == "boolean" and cell.text.strip().lower() in ("true", "false"):
        return cell.text.strip().lower() == "true"
    return None
