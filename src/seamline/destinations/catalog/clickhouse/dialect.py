"""ClickHouse's SQL as the loader writes it: backquoted names, Nullable columns of String,
Float64, Bool and DateTime64(6, 'UTC') (the key columns are plain String), ReplacingMergeTree
tables ordered by their key, and `ADD COLUMN IF NOT EXISTS` per new column."""

from __future__ import annotations

from collections.abc import Mapping

from seamline.destinations.catalog.postgres_warehouse.cells import ColumnType
from seamline.destinations.warehouse_sql import LOAD_TIME, Dialect

_KINDS: tuple[tuple[str, ColumnType], ...] = (
    ("FLOAT", "numeric"),
    ("DECIMAL", "numeric"),
    ("INT", "numeric"),
    ("UINT", "numeric"),
    ("BOOL", "boolean"),
    ("DATETIME", "timestamptz"),
    ("DATE", "timestamptz"),
)

CLICKHOUSE = Dialect(
    name="clickhouse",
    types={
        "text": "Nullable(String)",
        "numeric": "Nullable(Float64)",
        "boolean": "Nullable(Bool)",
        "timestamptz": "Nullable(DateTime64(6, 'UTC'))",
    },
    categories=tuple(
        (wrapper + name, column_type)
        for wrapper in ("NULLABLE(", "")
        for name, column_type in _KINDS
    ),
    quote="`",
    add_columns=("", "ADD COLUMN IF NOT EXISTS {}", ""),
)


def create_table(ref: str, columns: Mapping[str, ColumnType], key: tuple[str, ...]) -> str:
    """A ReplacingMergeTree ordered by `key` (whose columns may not be NULL): rows with the
    same key are merged into the last one inserted."""
    q = CLICKHOUSE.ident
    definitions = [
        f"{q(c)} {'String' if c in key else CLICKHOUSE.types[t]}" for c, t in columns.items()
    ]
    definitions.append(f"{q(LOAD_TIME)} DateTime64(6, 'UTC') DEFAULT now64(6)")
    order = ", ".join(map(q, key))
    return (
        f"CREATE TABLE IF NOT EXISTS {ref} ({', '.join(definitions)}) "
        f"ENGINE = ReplacingMergeTree ORDER BY ({order})"
    )


def columns_sql(database: str) -> str:
    """(table, column, type) of every table in `database`."""
    return (
        "SELECT table, name, type FROM system.columns "
        f"WHERE database = {CLICKHOUSE.string(database)} FORMAT JSONCompact"
    )
