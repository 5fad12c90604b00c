"""The statements the cloud warehouses share, checked where the tools differ: literals read
back exactly in each dialect, a big batch split into MERGEs under the statement limit, names
stored as each tool stores them, and a number no double holds kept as a discard."""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import pytest
import sqlglot

from seamline.destinations.catalog.bigquery.dialect import BIGQUERY
from seamline.destinations.catalog.clickhouse.dialect import CLICKHOUSE
from seamline.destinations.catalog.databricks.dialect import DATABRICKS
from seamline.destinations.catalog.postgres_warehouse.rows import rows_of
from seamline.destinations.catalog.snowflake.dialect import SNOWFLAKE, columns_sql, schema_sql
from seamline.destinations.http import Http
from seamline.destinations.warehouse_load import WarehouseLoader
from seamline.destinations.warehouse_sql import Dialect, merges
from seamline.destinations.warehouse_statements import SqlTarget
from tests.destinations.warehouse_fake import Warehouse, track

AWKWARD = "it's \\ a\nb\r\tc\x01\x1f é ☃ 'quoted' \\'"
DIALECTS = [SNOWFLAKE, BIGQUERY, DATABRICKS, CLICKHOUSE]


@pytest.mark.parametrize("dialect", DIALECTS, ids=lambda d: d.name)
def test_a_string_literal_reads_back_exactly(dialect: Dialect) -> None:
    [[value]] = Warehouse(dialect.name).execute(f"SELECT {dialect.string(AWKWARD)}")
    assert value == AWKWARD


@pytest.mark.parametrize("dialect", DIALECTS[:3], ids=lambda d: d.name)
def test_typed_literals_read_back_as_their_types(dialect: Dialect) -> None:
    moment = datetime(2026, 11, 29, 10, 0, 0, 123456, tzinfo=UTC)
    literals = [
        dialect.literal(Decimal("12.5"), "numeric"),
        dialect.literal(True, "boolean"),
        dialect.literal(moment, "timestamptz"),
        dialect.literal(None, "text"),
    ]
    [row] = Warehouse(dialect.name).execute(f"SELECT {', '.join(literals)}")
    assert row[:2] == [12.5, True] and row[2].astimezone(UTC) == moment and row[3] is None


@pytest.mark.parametrize("dialect", DIALECTS[:3], ids=lambda d: d.name)
def test_a_big_batch_becomes_several_merges_under_the_statement_limit(dialect: Dialect) -> None:
    small = dataclasses.replace(dialect, max_statement=2_000)
    rows = [{"id": f"m{n}", "note": "x" * 40} for n in range(100)]
    statements = list(
        merges(small, small.ref("s", "t"), {"id": "text", "note": "text"}, rows, "events")
    )

    assert len(statements) > 3
    ids: list[str] = []
    for statement in statements:
        assert len(statement) < 2_000 + 500  # one row's SELECT beyond the limit at most
        tree = sqlglot.parse_one(statement, read=dialect.name)
        ids += [lit.this for lit in tree.find_all(sqlglot.exp.Literal) if lit.this.startswith("m")]
    assert sorted(ids) == sorted(f"m{n}" for n in range(100))  # each row once


def test_names_are_stored_as_each_tool_stores_them() -> None:
    assert SNOWFLAKE.ref("analytics", "seamline", "order_completed") == (
        '"ANALYTICS"."SEAMLINE"."ORDER_COMPLETED"'
    )
    assert SNOWFLAKE.name_of("ORDER_COMPLETED") == "order_completed"
    assert BIGQUERY.ident("2fa_enabled") == "`_2fa_enabled`"
    assert BIGQUERY.name_of("_2fa_enabled") == "2fa_enabled"
    assert BIGQUERY.name_of("_private") == "_private"
    assert DATABRICKS.ident("we`ird") == "`we``ird`"


class _Direct:
    """A `Statements` running on the fake warehouse without HTTP."""

    http: Http

    def __init__(self, warehouse: Warehouse) -> None:
        self.warehouse = warehouse

    def run(self, statements: Sequence[str], *, atomic: bool = False) -> None:
        for statement in statements:
            self.warehouse.execute(statement)

    def query(self, statement: str) -> list[list[Any]]:
        return self.warehouse.execute(statement)


def test_a_number_no_double_holds_is_kept_as_a_discard() -> None:
    warehouse = Warehouse("snowflake", "DB")
    target = SqlTarget(
        SNOWFLAKE, _Direct(warehouse), ("DB", "S"), columns_sql("DB", "S"), schema_sql("DB", "S")
    )
    loader = WarehouseLoader(target, ())
    loader.load(rows_of(track("m1", price=1)))
    loader.load(rows_of(track("m2", price=10**400)))

    assert {r["id"]: r["price"] for r in warehouse.rows("order_completed")} == {
        "m1": 1.0,
        "m2": None,
    }
    [kept] = warehouse.rows("seamline_discards")
    assert (kept["row_id"], kept["value"]) == ("m2", "1" + "0" * 400)
