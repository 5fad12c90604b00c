"""A warehouse for the cloud warehouse destinations' tests: every statement the loader sends
is parsed with sqlglot in the tool's dialect (a statement the tool would not accept fails the
test), its DDL is recorded with the tool's own type names (what its information schema would
report), and the rest runs for real on DuckDB after sqlglot translates it, so MERGE, DELETE and
the rows they leave behind are a real engine's doing, not our guess."""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import Any

import duckdb
import sqlglot
from sqlglot import exp


def _duck_type(declared: str) -> str:
    upper = declared.upper()
    if "TIME" in upper or "DATE" in upper:
        return "TIMESTAMPTZ"
    if "BOOL" in upper:
        return "BOOLEAN"
    if any(word in upper for word in ("FLOAT", "DOUBLE", "NUMBER", "NUMERIC", "DECIMAL", "INT")):
        return "DOUBLE"
    return "TEXT"


class Warehouse:
    """One schema of tables. `catalog` is the first part of three-part names (Snowflake's
    database, BigQuery's project, Databricks' catalog); ClickHouse names have two."""

    def __init__(self, dialect: str, catalog: str | None = None) -> None:
        self.dialect = dialect
        self.db = duckdb.connect()
        if catalog is not None:
            self.db.execute(f"ATTACH ':memory:' AS \"{catalog}\"")
        self.columns: dict[str, dict[str, str]] = {}
        """Table → column → type, as declared in the tool's SQL."""
        self.statements: list[str] = []
        self.keys: dict[str, tuple[str, ...]] = {}
        """A ReplacingMergeTree's key: an inserted row replaces the row with the same key, as
        a merge (or a query with FINAL) shows it."""

    def execute(self, sql: str) -> list[list[Any]]:
        """Run one request's statements (several separated by `;`); the last one's rows."""
        rows: list[list[Any]] = []
        trees = [tree for tree in sqlglot.parse(sql, read=self.dialect) if tree is not None]
        texts = sql.split(";\n")  # how the loaders join statements
        for n, tree in enumerate(trees):
            text = texts[n] if len(texts) == len(trees) else tree.sql()
            self.statements.append(text)
            rows = self._apply(tree, text.lower())
        return rows

    def rows(self, table: str) -> list[dict[str, Any]]:
        """Every row of `table` (our name), as column → value, by id."""
        ref = self._ref_of(table)
        cursor = self.db.execute(f"SELECT * FROM {ref}")
        names = [d[0].lower() for d in cursor.description]
        return [dict(zip(names, row, strict=True)) for row in cursor.fetchall()]

    def count(self, table: str) -> int:
        return len(self.rows(table))

    def _apply(self, tree: exp.Expression, text: str) -> list[list[Any]]:
        if isinstance(tree, exp.Select) and (
            "information_schema" in text or "system.columns" in text
        ):
            return [[t, c, kind] for t, cols in self.columns.items() for c, kind in cols.items()]
        if isinstance(tree, exp.Create) and tree.kind == "TABLE":
            return self._create(tree)
        if isinstance(tree, exp.Alter):
            return self._alter(tree)
        if isinstance(tree, exp.Create) and tree.kind in ("SCHEMA", "DATABASE"):
            name = tree.this
            parts = [p.name for p in name.parts] if isinstance(name, exp.Table) else [str(name)]
            self.db.execute(f"CREATE SCHEMA IF NOT EXISTS {'.'.join(_q(p) for p in parts)}")
            return []
        # Rows are replaced on insert (see `insert`), so ClickHouse's FINAL changes nothing here.
        tree = tree.transform(lambda node: node.this if isinstance(node, exp.Final) else node)
        cursor = self.db.execute(tree.sql("duckdb"))
        try:
            return [list(row) for row in cursor.fetchall()]
        except duckdb.InvalidInputError:  # a statement without a result
            return []

    def _create(self, tree: exp.Create) -> list[list[Any]]:
        schema = tree.this
        assert isinstance(schema, exp.Schema)
        table = schema.this
        assert isinstance(table, exp.Table)
        definitions = [d for d in schema.expressions if isinstance(d, exp.ColumnDef)]
        order = tree.find(exp.Order)
        if order is not None:  # a ClickHouse ReplacingMergeTree's key
            self.keys[table.name] = tuple(c.name for c in order.find_all(exp.Column))
        self.columns.setdefault(table.name, {})
        for d in definitions:
            self.columns[table.name][d.name] = d.args["kind"].sql(self.dialect)
        listed = ", ".join(f"{_q(d.name)} {_duck_type(d.args['kind'].sql())}" for d in definitions)
        self.db.execute(f"CREATE TABLE IF NOT EXISTS {self._duck_ref(table)} ({listed})")
        return []

    def _alter(self, tree: exp.Alter) -> list[list[Any]]:
        table = tree.this
        assert isinstance(table, exp.Table)
        for action in _column_defs(tree.args.get("actions") or []):
            declared = action.args["kind"].sql(self.dialect)
            self.columns[table.name].setdefault(action.name, declared)
            self.db.execute(
                f"ALTER TABLE {self._duck_ref(table)} ADD COLUMN IF NOT EXISTS "
                f"{_q(action.name)} {_duck_type(declared)}"
            )
        return []

    def insert(self, table: str, rows: Iterable[dict[str, Any]]) -> None:
        """Insert rows given as JSON objects (ClickHouse's JSONEachRow)."""
        key = self.keys.get(table, ())
        for row in rows:
            if key:
                self.db.execute(
                    f"DELETE FROM {self._ref_of(table)} WHERE "
                    + " AND ".join(f"{_q(k)} = ?" for k in key),
                    [row[k] for k in key],
                )
            names = list(row)
            self.db.execute(
                f"INSERT INTO {self._ref_of(table)} ({', '.join(map(_q, names))}) "
                f"VALUES ({', '.join('?' for _ in names)})",
                [row[n] for n in names],
            )

    def _ref_of(self, table: str) -> str:
        for name in self.columns:
            if name.lower() == table.lower() or re.sub(r"^_(?=\d)", "", name) == table:
                found = self.db.execute(
                    "SELECT table_catalog, table_schema FROM information_schema.tables "
                    "WHERE lower(table_name) = lower(?)",
                    [name],
                ).fetchone()
                assert found is not None
                return f"{_q(found[0])}.{_q(found[1])}.{_q(name)}"
        raise KeyError(table)

    def _duck_ref(self, table: exp.Table) -> str:
        return ".".join(_q(part.name) for part in table.parts)


def _column_defs(actions: list[exp.Expression]) -> list[exp.ColumnDef]:
    found: list[exp.ColumnDef] = []
    for action in actions:
        if isinstance(action, exp.ColumnDef):
            found.append(action)
        else:  # ADD COLUMNS (…) as a Schema of definitions
            found.extend(action.find_all(exp.ColumnDef))
    return found


def _q(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def message(
    kind: str, message_id: str, at: str = "2026-11-29T10:00:00Z", **fields: Any
) -> dict[str, Any]:
    """A Spec message as the pipeline hands it to a warehouse destination."""
    return {
        "type": kind,
        "messageId": message_id,
        "anonymousId": "anon-1",
        "timestamp": at,
        "sentAt": at,
        "receivedAt": at,
        "context": {"library": {"name": "analytics.js", "version": "5.2.0"}},
        **fields,
    }


def track(message_id: str, event: str = "Order Completed", **properties: Any) -> dict[str, Any]:
    return message("track", message_id, userId="u1", event=event, properties=properties)


def batch(*messages: dict[str, Any]) -> list[dict[str, Any]]:
    """Payloads as the default mapping makes them: the whole message under `event`."""
    return [{"event": m} for m in messages]
