"""Deleting a person from the warehouse schema, for a privacy regulation.

In one transaction: every table of the schema with a `user_id`, `anonymous_id` or
`previous_id` column (`tracks`, each event's table, `identifies`, `pages`, `screens`,
`groups`, `aliases`, and any a user added) loses the rows holding one of the person's ids
there; `users` loses the rows whose `id` is one of their user ids; `seamline_discards` loses the
values it kept for the deleted rows. `accounts` (a group's traits) names no person and stays.

PostgreSQL keeps a deleted row's bytes in its table files until a vacuum reuses the space
(autovacuum does, eventually); run `VACUUM FULL` on those tables when the bytes must be gone at
once — it rewrites each table and locks it while it does, which is the warehouse owner's call.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from psycopg import sql

from seamline.destinations.catalog.postgres_warehouse.connections import Connection, Connections
from seamline.destinations.catalog.postgres_warehouse.loader import DISCARDS

if TYPE_CHECKING:
    from seamline.privacy.subject import Person

_ID_COLUMNS = ("user_id", "anonymous_id", "previous_id")
_TABLES = """SELECT table_name, array_agg(column_name::text ORDER BY column_name)
    FROM information_schema.columns
    WHERE table_schema = %s AND column_name = ANY(%s) AND table_name <> %s
    GROUP BY table_name ORDER BY table_name"""
_HAS_TABLE = """SELECT 1 FROM information_schema.tables
    WHERE table_schema = %s AND table_name = %s"""


def delete_rows(url: str, schema: str, person: Person) -> dict[str, int]:
    """Delete the person's rows from `schema`; returns the rows deleted per table."""
    ids = sorted({*person.user_ids, *person.anonymous_ids})
    deleted: dict[str, int] = {}
    if not ids:
        return deleted
    connections = Connections(url)
    try:
        with connections.connection() as connection, connection.transaction():
            found = connection.execute(_TABLES, (schema, list(_ID_COLUMNS), DISCARDS))
            targets = [(str(t), [str(c) for c in columns]) for t, columns in found.fetchall()]
            if person.user_ids and _exists(connection, schema, "users"):
                targets.append(("users", ["id"]))
            keeps_discards = _exists(connection, schema, DISCARDS)
            for table, columns in targets:
                values = person.user_ids if columns == ["id"] else ids
                where = sql.SQL(" OR ").join(
                    sql.SQL("{} = ANY(%(ids)s)").format(sql.Identifier(c)) for c in columns
                )
                query = sql.SQL("DELETE FROM {} WHERE {} RETURNING id").format(
                    sql.Identifier(schema, table), where
                )
                rows = [str(r[0]) for r in connection.execute(query, {"ids": values}).fetchall()]
                if rows:
                    deleted[table] = len(rows)
                if rows and keeps_discards:
                    connection.execute(
                        sql.SQL("DELETE FROM {} WHERE table_name = %s AND row_id = ANY(%s)").format(
                            sql.Identifier(schema, DISCARDS)
                        ),
                        (table, rows),
                    )
    finally:
        connections.close()
    return deleted


def _exists(connection: Connection, schema: str, table: str) -> bool:
    return connection.execute(_HAS_TABLE, (schema, table)).fetchone() is not None
