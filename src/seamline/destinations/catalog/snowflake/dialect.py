"""Snowflake's SQL as the loader writes it: quoted upper-case names (what an unquoted name
means in Snowflake, so `select * from tracks` finds the table), FLOAT for numbers (a double,
as Segment's Snowflake warehouses store them), TIMESTAMP_TZ, and the information schema of
the database for what exists."""

from __future__ import annotations

from seamline.destinations.warehouse_sql import Dialect

SNOWFLAKE = Dialect(
    name="snowflake",
    types={
        "text": "VARCHAR",
        "numeric": "FLOAT",
        "boolean": "BOOLEAN",
        "timestamptz": "TIMESTAMP_TZ",
    },
    categories=(
        ("NUMBER", "numeric"),
        ("FLOAT", "numeric"),
        ("DOUBLE", "numeric"),
        ("REAL", "numeric"),
        ("DECIMAL", "numeric"),
        ("INT", "numeric"),
        ("BOOLEAN", "boolean"),
        ("TIMESTAMP", "timestamptz"),
        ("DATE", "timestamptz"),
    ),
    quote='"',
    upper_case_names=True,
    add_columns=("ADD COLUMN IF NOT EXISTS ", "{}", ""),
    max_statement=500_000,  # the SQL API takes up to 1 MB of statement text
)


def columns_sql(database: str, schema: str) -> str:
    """(table, column, data type) of every table in `schema`."""
    return (
        "SELECT table_name, column_name, data_type FROM "
        f"{SNOWFLAKE.quoted(database)}.INFORMATION_SCHEMA.COLUMNS "
        f"WHERE table_schema = {SNOWFLAKE.string(schema.upper())}"
    )


def schema_sql(database: str, schema: str) -> str:
    """Create `schema` in `database` if it is missing."""
    return f"CREATE SCHEMA IF NOT EXISTS {SNOWFLAKE.quoted(database)}.{SNOWFLAKE.quoted(schema)}"
