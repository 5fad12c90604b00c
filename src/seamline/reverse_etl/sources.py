"""Reading a model's rows, read-only and bounded, from the database it names.

- PostgreSQL (a URL, or a warehouse destination's): a `READ ONLY` transaction with a
  `statement_timeout`, the query run as a server-side cursor (`DECLARE … CURSOR FOR`), which
  PostgreSQL accepts only for one SELECT or VALUES without data-modifying CTEs: a `DELETE`,
  a second statement or a `COMMIT; …` is refused before anything runs.
- The event store: a DuckDB connection of its own whose only table is the view `events` over
  the lake's files; it may read those files and nothing else (external access off, settings
  locked), and only a single SELECT is run. A timer interrupts it at the timeout.

Rows stream in, and reading stops with `TooManyRows` past the model's `max_rows`.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from seamline.errors import InvalidInput

if TYPE_CHECKING:
    from seamline.store.events_lake import LakeEventStore

_FETCH = 5_000


class QueryFailed(InvalidInput):
    """The model's query could not run: the database's own message says why."""

    code = "model_query_failed"


class TooManyRows(InvalidInput):
    code = "model_too_many_rows"


@dataclass
class Result:
    columns: list[str]
    rows: list[tuple[Any, ...]]


def read_postgres(
    url: str, query: str, *, max_rows: int, timeout: float, schema: str | None = None
) -> Result:
    """The query's rows, read in a read-only transaction; QueryFailed or TooManyRows."""
    import psycopg
    from psycopg import sql

    if url.startswith("postgresql+psycopg://"):
        url = "postgresql://" + url.removeprefix("postgresql+psycopg://")
    try:
        with psycopg.connect(url, connect_timeout=10, application_name="seamline-models") as conn:
            conn.read_only = True
            with conn.transaction():
                conn.execute(
                    sql.SQL("SET LOCAL statement_timeout = {}").format(
                        sql.Literal(max(1, int(timeout * 1000)))
                    )
                )
                if schema:
                    conn.execute(
                        sql.SQL("SET LOCAL search_path = {}").format(sql.Identifier(schema))
                    )
                with conn.cursor(name="seamline_model") as cursor:
                    cursor.execute(query.strip().rstrip(";"))
                    columns = [d.name for d in cursor.description or ()]
                    rows = _bounded(iter(lambda: cursor.fetchmany(_FETCH), []), max_rows)
    except psycopg.Error as error:
        first = str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__
        raise QueryFailed(f"the model's query failed on PostgreSQL: {first}") from None
    return Result(columns, rows)


def read_events(store: LakeEventStore, query: str, *, max_rows: int, timeout: float) -> Result:
    """The query's rows over the view `events` of the event store (Parquet files)."""
    import duckdb

    statements = _statements(query)
    connection = duckdb.connect()
    try:
        files = [store.files.location(f.path) for f in store.catalog.live()]
        store.files.prepare(connection)
        if files:
            listed = ", ".join(_quoted(path) for path in files)
            connection.execute(f"CREATE VIEW events AS SELECT * FROM read_parquet([{listed}])")
            connection.execute(f"SET allowed_paths = [{listed}]")
        else:
            from seamline.store.event_rows import EMPTY

            connection.execute(f"CREATE VIEW events AS {EMPTY}")
        connection.execute("SET enable_external_access = false")
        connection.execute("SET lock_configuration = true")
        timer = threading.Timer(timeout, connection.interrupt)
        timer.start()
        try:
            result = connection.execute(statements)
            columns = [d[0] for d in result.description or ()]
            rows = _bounded(iter(lambda: result.fetchmany(_FETCH), []), max_rows)
        finally:
            timer.cancel()
    except duckdb.InterruptException:
        raise QueryFailed(f"the model's query ran past its timeout ({timeout:g} s)") from None
    except duckdb.Error as error:
        first = str(error).strip().splitlines()[0]
        raise QueryFailed(f"the model's query failed on the event store: {first}") from None
    finally:
        connection.close()
    return Result(columns, rows)


def _statements(query: str) -> str:
    """The query if it is one SELECT; QueryFailed otherwise (DuckDB names its kind)."""
    import duckdb

    try:
        found = duckdb.extract_statements(query)
    except duckdb.Error as error:
        first = str(error).splitlines()[0]
        raise QueryFailed(f"the model's query does not parse: {first}") from None
    if len(found) != 1 or found[0].type != duckdb.StatementType.SELECT:
        kinds = ", ".join(s.type.name for s in found) or "nothing"
        raise QueryFailed(f"a model's query is one SELECT, this one is {kinds}")
    return str(found[0].query)


def _bounded(chunks: Iterator[list[Any]], max_rows: int) -> list[tuple[Any, ...]]:
    rows: list[tuple[Any, ...]] = []
    for chunk in chunks:
        rows.extend(tuple(row) for row in chunk)
        if len(rows) > max_rows:
            raise TooManyRows(
                f"the model's query returned more than max_rows ({max_rows:,}) rows; narrow "
                "the query or raise max_rows"
            )
    return rows


def _quoted(path: str) -> str:
    return "'" + path.replace("'", "''") + "'"
