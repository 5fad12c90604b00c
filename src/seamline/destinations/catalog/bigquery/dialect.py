"""BigQuery's GoogleSQL as the loader writes it: backquoted names (a column may not start with
a digit, so `2fa_enabled` is stored as `_2fa_enabled`), FLOAT64 for numbers, BOOL, TIMESTAMP,
one `ADD COLUMN IF NOT EXISTS` per new column, and the dataset's INFORMATION_SCHEMA."""

from __future__ import annotations

from seamline.destinations.warehouse_sql import Dialect

BIGQUERY = Dialect(
    name="bigquery",
    types={"text": "STRING", "numeric": "FLOAT64", "boolean": "BOOL", "timestamptz": "TIMESTAMP"},
    categories=(
        ("FLOAT", "numeric"),
        ("INT", "numeric"),
        ("NUMERIC", "numeric"),
        ("BIGNUMERIC", "numeric"),
        ("BOOL", "boolean"),
        ("TIMESTAMP", "timestamptz"),
        ("DATETIME", "timestamptz"),
        ("DATE", "timestamptz"),
    ),
    quote="`",
    add_columns=("", "ADD COLUMN IF NOT EXISTS {}", ""),
    max_statement=500_000,  # GoogleSQL takes up to 1,024K characters
    digit_prefix="_",
)


def columns_sql(project: str, dataset: str) -> str:
    """(table, column, data type) of every table in the dataset."""
    return (
        "SELECT table_name, column_name, data_type FROM "
        f"{BIGQUERY.quoted(project)}.{BIGQUERY.quoted(dataset)}.INFORMATION_SCHEMA.COLUMNS"
    )


def schema_sql(project: str, dataset: str, location: str) -> str:
    """Create the dataset in `location` if it is missing."""
    return (
        f"CREATE SCHEMA IF NOT EXISTS {BIGQUERY.quoted(project)}.{BIGQUERY.quoted(dataset)} "
        f"OPTIONS (location = {BIGQUERY.string(location)})"
    )
