"""Databricks SQL (Delta tables in Unity Catalog) as the loader writes it: backquoted
lower-case names, DOUBLE for numbers, BOOLEAN, TIMESTAMP, `ADD COLUMNS (…)` for new columns,
and the catalog's information_schema."""

from __future__ import annotations

from seamline.destinations.warehouse_sql import Dialect

DATABRICKS = Dialect(
    name="databricks",
    types={"text": "STRING", "numeric": "DOUBLE", "boolean": "BOOLEAN", "timestamptz": "TIMESTAMP"},
    categories=(
        ("DOUBLE", "numeric"),
        ("FLOAT", "numeric"),
        ("DECIMAL", "numeric"),
        ("INT", "numeric"),
        ("BIGINT", "numeric"),
        ("LONG", "numeric"),
        ("SMALLINT", "numeric"),
        ("TINYINT", "numeric"),
        ("BOOLEAN", "boolean"),
        ("TIMESTAMP", "timestamptz"),
        ("DATE", "timestamptz"),
    ),
    quote="`",
    add_columns=("ADD COLUMNS (", "{}", ")"),
    max_statement=1_000_000,  # the API takes statements up to 16 MiB
)


def columns_sql(catalog: str, schema: str) -> str:
    """(table, column, data type) of every table in `schema`."""
    return (
        "SELECT table_name, column_name, data_type FROM "
        f"{DATABRICKS.quoted(catalog)}.information_schema.columns "
        f"WHERE table_schema = {DATABRICKS.string(schema)}"
    )


def schema_sql(catalog: str, schema: str) -> str:
    """Create `schema` in `catalog` if it is missing."""
    return f"CREATE SCHEMA IF NOT EXISTS {DATABRICKS.quoted(catalog)}.{DATABRICKS.quoted(schema)}"
