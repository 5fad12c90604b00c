"""The `Target` of a warehouse that runs SQL statements sent over HTTP (Snowflake's SQL API,
BigQuery's jobs, Databricks' Statement Execution API): everything is a statement from
`warehouse_sql`, and each tool supplies only how a statement is sent (`Statements`), where its
schema's tables are listed and how a schema is created."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from seamline.destinations.catalog.postgres_warehouse.cells import ColumnType
from seamline.destinations.http import Http
from seamline.destinations.warehouse_load import Columns
from seamline.destinations.warehouse_sql import (
    Dialect,
    Kind,
    Value,
    add_columns,
    create_table,
    merges,
)


class Statements(Protocol):
    """A tool's way of running SQL: failures raise Retryable or PermanentError."""

    http: Http

    def run(self, statements: Sequence[str], *, atomic: bool = False) -> None:
        """Run `statements` in order (in one transaction when `atomic`)."""
        ...

    def query(self, statement: str) -> list[list[Any]]:
        """The rows `statement` returns, each value as the API gives it (mostly strings)."""
        ...


@dataclass
class SqlTarget:
    """A warehouse schema reached through `api`. `columns_sql` lists (table, column, data
    type) of the schema; `schema_sql` creates the schema if it is missing."""

    dialect: Dialect
    api: Statements
    schema: tuple[str, ...]
    columns_sql: str
    schema_sql: str

    def use(self, http: Http) -> None:
        self.api.http = http

    def ref(self, table: str) -> str:
        return self.dialect.ref(*self.schema, table)

    def ensure_schema(self) -> None:
        self.api.run([self.schema_sql])

    def columns(self) -> Columns:
        found: Columns = {}
        for table, column, data_type in self.api.query(self.columns_sql):
            names = found.setdefault(self.dialect.name_of(str(table)), {})
            names[self.dialect.name_of(str(column))] = self.dialect.category(str(data_type))
        return found

    def create_table(self, table: str, columns: Mapping[str, ColumnType], kind: Kind) -> None:
        self.api.run([create_table(self.dialect, self.ref(table), columns)])

    def add_columns(self, table: str, columns: Mapping[str, ColumnType]) -> None:
        self.api.run([add_columns(self.dialect, self.ref(table), columns)])

    def write(
        self,
        table: str,
        columns: Mapping[str, ColumnType],
        rows: Sequence[Mapping[str, Value]],
        kind: Kind,
    ) -> None:
        for statement in merges(self.dialect, self.ref(table), columns, rows, kind):
            self.api.run([statement])

    def run(self, statements: Sequence[str], *, atomic: bool = False) -> None:
        self.api.run(statements, atomic=atomic)

    def check(self) -> None:
        self.api.query("SELECT 1")
