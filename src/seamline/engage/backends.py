"""Where the batch engine runs: the embedded DuckDB event store, a PostgreSQL events table, or
Spark. Each backend turns its events table into the flat relation; the compiled query is the
same for all of them."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any, Protocol

import ibis
import ibis.expr.types as ir
import pyarrow as pa

from seamline.engage.batch import compile_values
from seamline.engage.batch_source import flat_from_json, flat_spark_sql
from seamline.engage.rules import EngageRules

Merges = Sequence[tuple[str, str]]  # (merged-away profile id, canonical id)


class Backend(Protocol):
    name: str

    def flat(self, workspace_id: str, rules: EngageRules, merges: Merges) -> ir.Table: ...

    def execute(self, expression: ir.Expr) -> Any: ...


def _merges_table(merges: Merges) -> ir.Table | None:
    if not merges:
        return None
    return ibis.memtable(
        pa.table({"id": [m[0] for m in merges], "canonical_id": [m[1] for m in merges]})
    )


class JsonBackend:
    """DuckDB or PostgreSQL, where `events` keeps its JSON columns."""

    def __init__(self, connection: Any, name: str, table: str = "events") -> None:
        self.connection = connection
        self.name = name
        self._table = table

    def flat(self, workspace_id: str, rules: EngageRules, merges: Merges) -> ir.Table:
        events = self.connection.table(self._table)
        events = events.filter(events.workspace_id == workspace_id)
        return flat_from_json(events, _merges_table(merges), rules.needs)

    def execute(self, expression: ir.Expr) -> Any:
        return self.connection.to_pyarrow(expression)


def duckdb_backend(connection: Any) -> JsonBackend:
    """The embedded event store's DuckDB connection (a cursor of it, for another thread)."""
    return JsonBackend(ibis.duckdb.from_connection(connection), "duckdb")


def postgres_backend(url: str, table: str = "events") -> JsonBackend:
    """An events table in PostgreSQL (`postgres://…` or SQLAlchemy's `postgresql+psycopg://…`)
    with json/jsonb columns, e.g. kept by the postgres-warehouse destination."""
    url = url.replace("postgresql+psycopg://", "postgres://").replace(
        "postgresql://", "postgres://"
    )
    return JsonBackend(ibis.connect(url), "postgres", table)


class SparkBackend:
    """Spark, where `events` is a table or view with JSON text columns."""

    name = "pyspark"

    def __init__(self, session: Any, table: str = "events") -> None:
        self.session = session
        self.connection = ibis.pyspark.connect(session)
        self._table = table

    def flat(self, workspace_id: str, rules: EngageRules, merges: Merges) -> ir.Table:
        merges_view = None
        if merges:
            merges_view = "seamline_profile_merges"
            frame = self.session.createDataFrame(
                list(merges), schema="id string, canonical_id string"
            )
            frame.createOrReplaceTempView(merges_view)
        scoped = "seamline_workspace_events"
        quoted = workspace_id.replace("'", "''")
        self.session.sql(
            f"SELECT * FROM {self._table} WHERE workspace_id = '{quoted}'"
        ).createOrReplaceTempView(scoped)
        # A view made by Spark itself: Ibis's `sql()` re-parses the text and loses the
        # VARIANT calls.
        self.session.sql(flat_spark_sql(scoped, merges_view, rules.needs)).createOrReplaceTempView(
            "seamline_flat_events"
        )
        return self.connection.table("seamline_flat_events")

    def execute(self, expression: ir.Expr) -> Any:
        return self.connection.to_pyarrow(expression)


def compute(
    backend: Backend, workspace_id: str, rules: EngageRules, merges: Merges, now: datetime
) -> pa.Table:
    """Every profile's value for every definition in `rules`, as of `now`."""
    flat = backend.flat(workspace_id, rules, merges)
    result: pa.Table = backend.execute(compile_values(rules, flat, now))
    return result
