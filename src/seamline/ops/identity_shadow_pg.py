"""The shadow store of a re-resolution on PostgreSQL: a schema of the same database.

`copy` makes the schema `seamline_shadow` with a table like every table of the live schema
(columns, indexes, defaults: `LIKE … INCLUDING ALL`), copies configuration in one snapshot and
leaves the derived tables empty, then activates the new rules there, so the shadow pipeline
resolves under them. The shadow pipeline connects with `search_path` set to the shadow schema
first (`prepare`): the same code, every table it names is the shadow's.

`swap` runs in one transaction of the live database while the pipeline is paused: the swapped
tables' rows are replaced by the shadow's and the version is activated (`identity_rules_sql.
activate`), so the rules in force and the graph change together. Stored events keep their
`profile_id`: a profile of the old graph that the new one does not have is kept as a member
of the new person that holds its first identifier, so the Profile API still finds its events
(an old profile split in two stays with one of the parts). `discard` drops the schema.
"""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from sqlalchemy import Connection, Engine, make_url, text

from seamline.config import Settings
from seamline.data_dir import DataDir, make_private, open_state
from seamline.errors import Conflict
from seamline.ops.identity_reresolve import NEW_SEPARATIONS, UNMERGED_MEANWHILE
from seamline.ops.rebuild_online import ShadowStore
from seamline.store.identity_rules_sql import activate

SCHEMA = "seamline_shadow"

EMPTIED = ("outbox", "seen_messages", "partition_leases", "message_traces")
"""Besides the derived tables: operational rows the shadow must not inherit (dedup would drop
every message as seen; the outbox, leases and traces are the live roles')."""


def shadow_store(settings: Settings, workspace_id: str, version: int) -> ShadowStore:
    """The hooks `rebuild_online` runs for a re-resolution on PostgreSQL."""

    def copy(live: DataDir, root: Path, derived: tuple[str, ...]) -> None:
        shutil.rmtree(root, ignore_errors=True)
        make_private(root)  # the shadow pipeline's local files (its event files, discarded)
        key = live.root / "secret.key"
        if key.exists():
            shutil.copy2(key, root / "secret.key")
        with _engine(settings) as engine, engine.begin() as conn:
            _copy_schema(conn, frozenset(derived) | frozenset(EMPTIED))
            conn.execute(text(f"SET LOCAL search_path = {SCHEMA}"))
            activate(conn, workspace_id, version)

    def prepare(shadow: Settings) -> Settings:
        assert shadow.database_url is not None
        url = make_url(_driver_url(shadow.database_url))
        options = f"-csearch_path={SCHEMA},{_live_schema(settings)}"
        return shadow.model_copy(
            update={
                "database_url": url.update_query_dict({"options": options}).render_as_string(
                    hide_password=False
                ),
                "events_url": None,  # the shadow's event files stay in its root, unswapped
            }
        )

    def swap(_live: DataDir, _root: Path, tables: tuple[str, ...]) -> int:
        with _engine(settings) as engine, engine.begin() as conn:
            live = _live_schema_of(conn)
            # Under the pause no unmerge can start; one made while the shadow ran fails this.
            conn.execute(text(f"LOCK TABLE {live}.separations IN EXCLUSIVE MODE"))
            if conn.execute(text(NEW_SEPARATIONS.format(live=live, shadow=SCHEMA))).first():
                raise Conflict(UNMERGED_MEANWHILE)
            _keep_old_profiles(conn, live)
            for table in tables:
                conn.execute(text(f'DELETE FROM {live}."{table}"'))
                conn.execute(text(f'INSERT INTO {live}."{table}" SELECT * FROM {SCHEMA}."{table}"'))
            activate(conn, workspace_id, version)
        return 0

    def discard(_live: DataDir, root: Path) -> None:
        try:
            with _engine(settings) as engine, engine.begin() as conn:
                conn.execute(text(f"DROP SCHEMA IF EXISTS {SCHEMA} CASCADE"))
        finally:
            shutil.rmtree(root, ignore_errors=True)

    return ShadowStore(copy=copy, swap=swap, discard=discard, prepare=prepare)


@contextmanager
def _engine(settings: Settings) -> Iterator[Engine]:
    """The live state store, disposed afterwards."""
    engine = open_state(settings)
    try:
        yield engine
    finally:
        engine.dispose()


def _driver_url(url: str) -> str:
    for bare in ("postgresql://", "postgres://"):
        if url.startswith(bare):
            return "postgresql+psycopg://" + url[len(bare) :]
    return url


def _live_schema(settings: Settings) -> str:
    with _engine(settings) as engine, engine.connect() as conn:
        return _live_schema_of(conn)


def _live_schema_of(conn: Connection) -> str:
    found = conn.execute(text("SELECT current_schema()")).scalar_one()
    return str(found)


def _copy_schema(conn: Connection, emptied: frozenset[str]) -> None:
    # One REPEATABLE READ snapshot: configuration as of one moment, like SQLite's backup.
    conn.execute(text("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ"))
    live = _live_schema_of(conn)
    conn.execute(text(f"DROP SCHEMA IF EXISTS {SCHEMA} CASCADE"))
    conn.execute(text(f"CREATE SCHEMA {SCHEMA}"))
    tables = conn.execute(
        text(
            "SELECT table_name FROM information_schema.tables"
            " WHERE table_schema = :schema AND table_type = 'BASE TABLE' ORDER BY table_name"
        ),
        {"schema": live},
    ).scalars()
    for table in list(tables):
        conn.execute(text(f'CREATE TABLE {SCHEMA}."{table}" (LIKE {live}."{table}" INCLUDING ALL)'))
        if table not in emptied:
            conn.execute(text(f'INSERT INTO {SCHEMA}."{table}" SELECT * FROM {live}."{table}"'))


def _keep_old_profiles(conn: Connection, live: str) -> None:
    """Add every live profile the new graph lacks to the shadow's, as a member of the new
    person holding its first identifier (or as a person of its own when none is held)."""
    conn.execute(
        text(
            f"""
            INSERT INTO {SCHEMA}.profiles
                (id, workspace_id, canonical_id, merged_into, created_at, first_message_id)
            SELECT o.id, o.workspace_id, COALESCE(n.canonical_id, o.id), n.canonical_id,
                   o.created_at, o.first_message_id
            FROM {live}.profiles o
            LEFT JOIN LATERAL (
                SELECT np.canonical_id
                FROM {live}.identities oi
                JOIN {SCHEMA}.identities ni ON ni.workspace_id = oi.workspace_id
                    AND ni.type = oi.type AND ni.value = oi.value
                JOIN {SCHEMA}.profiles np ON np.id = ni.profile_id
                WHERE oi.profile_id = o.id
                ORDER BY oi.first_seen, oi.type, oi.value
                LIMIT 1
            ) n ON TRUE
            WHERE NOT EXISTS (SELECT 1 FROM {SCHEMA}.profiles s WHERE s.id = o.id)
            """
        )
    )
