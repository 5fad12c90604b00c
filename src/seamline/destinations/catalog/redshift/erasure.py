"""Deleting a person from the Redshift schema, for a privacy regulation.

In one transaction: every table of the schema with a `user_id`, `anonymous_id` or
`previous_id` column loses the rows holding one of the person's ids there; `users` loses the
rows whose `id` is one of their user ids; `seamline_discards` loses what it kept for those rows.
`accounts` names no person and stays. Redshift has no `RETURNING`, so the ids of the rows to
delete are read first, under a `LOCK` of the table so no load slips in between.

Redshift keeps deleted rows' blocks until a `VACUUM DELETE ONLY` (automatic vacuum does it in
the background, eventually); run it on those tables when the bytes must be gone at once.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from psycopg import sql

from seamline.destinations.catalog.postgres_warehouse.connections import Connection, Connections
from seamline.destinations.catalog.redshift.dialect import placeholders
from seamline.destinations.catalog.redshift.loader import DISCARDS

if TYPE_CHECKING:
    from seamline.privacy.subject import Person

_ID_COLUMNS = ("user_id", "anonymous_id", "previous_id")
_TABLES = """SELECT table_name, column_name FROM information_schema.columns
    WHERE table_schema = %s AND column_name IN (%s, %s, %s) ORDER BY table_name, column_name"""
_HAS_TABLE = "SELECT 1 FROM information_schema.tables WHERE table_schema = %s AND table_name = %s"


def delete_rows(url: str, schema: str, person: Person) -> dict[str, int]:
    """Delete the person's rows from `schema`; returns the rows deleted per table."""
    ids = sorted({*person.user_ids, *person.anonymous_ids})
    deleted: dict[str, int] = {}
    if not ids:
        return deleted
    connections = Connections(url)
    try:
        with connections.connection() as connection, connection.transaction():
            targets: dict[str, list[str]] = {}
            for table, name in connection.execute(_TABLES, (schema, *_ID_COLUMNS)).fetchall():
                if table != DISCARDS:
                    targets.setdefault(str(table), []).append(str(name))
            if person.user_ids and _exists(connection, schema, "users"):
                targets["users"] = ["id"]
            keeps_discards = _exists(connection, schema, DISCARDS)
            for table, columns in targets.items():
                values = sorted(person.user_ids) if columns == ["id"] else ids
                rows = _delete(connection, sql.Identifier(schema, table), columns, values)
                if rows:
                    deleted[table] = len(rows)
                if rows and keeps_discards:
                    connection.execute(
                        sql.SQL("DELETE FROM {} WHERE table_name = %s AND row_id IN ({})").format(
                            sql.Identifier(schema, DISCARDS), placeholders(len(rows))
                        ),
                        [table, *rows],
                    )
    finally:
        connections.close()
    return deleted


def _delete(
    connection: Connection, table: sql.Identifier, columns: list[str], values: list[str]
) -> list[str]:
    where = sql.SQL(" OR ").join(
        sql.SQL("{} IN ({})").format(sql.Identifier(c), placeholders(len(values))) for c in columns
    )
    parameters = values * len(columns)
    connection.execute(sql.SQL("LOCK {}").format(table))
    found = connection.execute(
        sql.SQL("SELECT id FROM {} WHERE {}").format(table, where), parameters
    )
    rows = [str(r[0]) for r in found.fetchall()]
    if rows:
        connection.execute(sql.SQL("DELETE FROM {} WHERE {}").format(table, where), parameters)
    return rows


def _exists(connection: Connection, schema: str, table: str) -> bool:
    return connection.execute(_HAS_TABLE, (schema, table)).fetchone() is not None
