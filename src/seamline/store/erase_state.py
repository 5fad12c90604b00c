"""Erasing one person from the state store, and compacting it so the bytes are gone.

`erase_state` deletes, one transaction per group of tables, every row that holds the person:
- identity: `identities` (theirs by profile and by identifier), `profiles`, `merges` and
  `separations` naming one of their profiles, matching's proposals naming one (they hold the
  compared values) and its evidence digests (`identity_match_proposals`,
  `identity_match_records`);
- profile: `profile_traits`, `account_members` (their account links), `profile_consent`;
- engage: `engage_states`, `engage_values` (audience memberships and computed traits),
  `engage_rechecks`;
- derived snapshots: `reverse_etl_records` whose record id is one of their identifiers, and
  Profiles Sync's snapshots of their identifiers and traits (`profiles_sync_ids`,
  `profiles_sync_traits`);
- messages, by the messageIds erased from the log and the event store: `outbox`,
  `dead_letters`, `violations` (their samples), `held_events` (also those whose message names
  the person's userId or anonymousId), `seen_messages` (dedup on PostgreSQL), and the message
  traces (`message_traces`, `message_trace_attempts`: also those naming one of their profiles).

Kept until the next Profiles Sync run: `profiles_sync_graph`, their profile ids as each
warehouse was last given them (ids only, naming nobody once the identifiers are gone). That run
sees the profiles are gone, deletes their rows from the warehouse's Profiles Sync tables, then
these rows.

Kept on purpose, holding no message data or nothing of the person: workspaces, sources,
tokens, users and sessions, resources and their versions, secrets, suppressions (the
suppression list must name the person to keep them out), accounts (a group, not a person),
data_inventory (paths and counts, no values), delivery_counts (counts per minute; a reason is a
destination's error text), engage_features, event_files (paths and Bloom filter bits),
partition_leases, retention settings and runs.

Deleting a row does not remove its bytes. SQLite: the deletes run with `secure_delete` on
(their cells and freed pages are zeroed), then the WAL is checkpointed and truncated, so the
old frames go; pages freed before, by the outbox's deliveries or earlier updates, still hold
old bytes until `VACUUM` rebuilds the file (`rebuild=True`). PostgreSQL: the touched tables
are vacuumed, which makes dead tuples' space reusable but does not overwrite it, nor the WAL
segments; `VACUUM FULL` (`rebuild=True`) rewrites a table's files without them, but locks
the table meanwhile (measured: heap bytes stay after VACUUM, go after VACUUM FULL, and stay in
the WAL segments until PostgreSQL recycles them; see docs/privacy.md).
"""

from __future__ import annotations

import sqlite3
import time
from collections.abc import Collection, Iterable
from typing import Any

import msgspec
from sqlalchemy import ColumnElement, Connection, Engine, Table, and_, delete, or_, select, tuple_

from seamline.store.identity_matches_sql import identity_match_proposals
from seamline.store.identity_matching_runs_sql import identity_match_records
from seamline.store.profiles_sync_sql import profiles_sync_ids, profiles_sync_traits
from seamline.store.state import (
    account_members,
    chunks,
    dead_letters,
    engage_rechecks,
    engage_states,
    engage_values,
    held_events,
    identities,
    merges,
    message_trace_attempts,
    message_traces,
    outbox,
    profile_consent,
    profile_traits,
    profiles,
    reverse_etl_records,
    seen_messages,
    separations,
    sources,
    violations,
)
from seamline.store.subject_keys import SubjectKeys

CHUNK = 500
"""Values per IN list: under SQLite's bound-parameter limit, with room for the other terms."""
CHECKPOINT_PATIENCE = 30.0
"""How long a checkpoint waits for readers of old WAL frames to move on (seconds)."""


class StateErasure(msgspec.Struct, kw_only=True):
    """Rows deleted per table; whether the WAL was truncated (SQLite) and what was vacuumed."""

    deleted: dict[str, int] = msgspec.field(default_factory=dict)
    checkpointed: bool = False
    vacuumed: list[str] = msgspec.field(default_factory=list)
    seconds: dict[str, float] = msgspec.field(default_factory=dict)


def erase_state(
    engine: Engine,
    person: SubjectKeys,
    message_ids: Collection[str] = (),
    *,
    rebuild: bool = False,
) -> StateErasure:
    """Delete every row of `person` and of the messages `message_ids` (their erased messages)
    from the state store, then compact it (see the module): the counts per table. `rebuild`
    also rewrites the files (SQLite `VACUUM`, PostgreSQL `VACUUM FULL` of the touched tables),
    so bytes freed before the erasure go too."""
    done = StateErasure()
    sqlite = engine.dialect.name == "sqlite"
    started = time.perf_counter()
    with engine.connect() as conn:
        previous = None
        if sqlite:
            previous = conn.exec_driver_sql("PRAGMA secure_delete").scalar()
            conn.exec_driver_sql("PRAGMA secure_delete = ON")
            conn.commit()
        try:
            for group in (_identity, _profile, _engage, _derived, _messages):
                with conn.begin():
                    for table, count in group(conn, person, sorted(message_ids)):
                        done.deleted[table] = done.deleted.get(table, 0) + count
        finally:
            if sqlite:
                # Pooled connections go back as they came: secure_delete doubles delete I/O.
                conn.exec_driver_sql(f"PRAGMA secure_delete = {int(previous or 0)}")
                conn.commit()
    done.seconds["delete"] = time.perf_counter() - started
    touched = [t for t, n in done.deleted.items() if n]
    if sqlite:
        done.checkpointed, done.vacuumed = _compact_sqlite(engine, rebuild, done.seconds)
    elif engine.dialect.name == "postgresql" and touched:
        started = time.perf_counter()
        _vacuum_postgres(engine, touched, full=rebuild)
        done.vacuumed = touched
        done.seconds["vacuum"] = time.perf_counter() - started
    return done


Deleted = Iterable[tuple[str, int]]


def _in_chunks(
    conn: Connection,
    table: Table,
    values: Collection[str],
    *columns: ColumnElement[Any],
    scope: ColumnElement[bool] | None = None,
) -> tuple[str, int]:
    """Delete the rows of `table` where one of `columns` is among `values` (and `scope`)."""
    total = 0
    for chunk in chunks(values, CHUNK):
        where = or_(*(column.in_(chunk) for column in columns))
        if scope is not None:
            where = and_(scope, where)
        total += conn.execute(delete(table).where(where)).rowcount
    return table.name, total


def _identity(conn: Connection, person: SubjectKeys, _ids: list[str]) -> Deleted:
    ws, ids = person.workspace_id, sorted(person.profile_ids)
    c = identities.c
    yield _in_chunks(conn, identities, ids, c.profile_id, scope=c.workspace_id == ws)
    pairs = sorted((t, v) for t, v in person.identifiers)
    total = 0
    for start in range(0, len(pairs), CHUNK // 2):
        part = pairs[start : start + CHUNK // 2]
        where = and_(c.workspace_id == ws, tuple_(c.type, c.value).in_(part))
        total += conn.execute(delete(identities).where(where)).rowcount
    yield identities.name, total
    p, m, s = profiles.c, merges.c, separations.c
    yield _in_chunks(
        conn, profiles, ids, p.id, p.canonical_id, p.merged_into, scope=p.workspace_id == ws
    )
    yield _in_chunks(conn, merges, ids, m.from_profile, m.into_profile, scope=m.workspace_id == ws)
    yield _in_chunks(conn, separations, ids, s.profile_a, s.profile_b, scope=s.workspace_id == ws)
    q, r = identity_match_proposals.c, identity_match_records.c
    yield _in_chunks(
        conn, identity_match_proposals, ids, q.left_profile, q.right_profile,
        scope=q.workspace_id == ws,
    )  # fmt: skip
    yield _in_chunks(conn, identity_match_records, ids, r.profile_id, scope=r.workspace_id == ws)


def _profile(conn: Connection, person: SubjectKeys, _ids: list[str]) -> Deleted:
    ws, ids = person.workspace_id, sorted(person.profile_ids)
    # Profile ids are the workspace's own (seeded per workspace): traits and account links
    # have no workspace column to check.
    yield _in_chunks(conn, profile_traits, ids, profile_traits.c.profile_id)
    yield _in_chunks(conn, account_members, ids, account_members.c.profile_id)
    c = profile_consent.c
    yield _in_chunks(conn, profile_consent, ids, c.profile_id, scope=c.workspace_id == ws)


def _engage(conn: Connection, person: SubjectKeys, _ids: list[str]) -> Deleted:
    ws, ids = person.workspace_id, sorted(person.profile_ids)
    for table in (engage_states, engage_values, engage_rechecks):
        c = table.c
        yield _in_chunks(conn, table, ids, c.profile_id, scope=c.workspace_id == ws)


def _derived(conn: Connection, person: SubjectKeys, _ids: list[str]) -> Deleted:
    ws, ids = person.workspace_id, sorted(person.profile_ids)
    values = sorted({value for _, value in person.identifiers})
    r = reverse_etl_records.c
    yield _in_chunks(conn, reverse_etl_records, values, r.record_id, scope=r.workspace_id == ws)
    yield _in_chunks(conn, profiles_sync_traits, ids, profiles_sync_traits.c.profile_id)
    i = profiles_sync_ids.c
    yield _in_chunks(conn, profiles_sync_ids, ids, i.profile_id)
    yield _in_chunks(conn, profiles_sync_ids, values, i.value)


def _messages(conn: Connection, person: SubjectKeys, message_ids: list[str]) -> Deleted:
    ws = person.workspace_id
    for table in (outbox, dead_letters, violations, held_events):
        c = table.c
        yield _in_chunks(conn, table, message_ids, c.message_id, scope=c.workspace_id == ws)
    held = _held_of(conn, person)
    total = 0
    for start in range(0, len(held), CHUNK):
        where = held_events.c.id.in_(held[start : start + CHUNK])
        total += conn.execute(delete(held_events).where(where)).rowcount
    yield held_events.name, total
    d = seen_messages.c
    theirs = select(sources.c.id).where(sources.c.workspace_id == ws).scalar_subquery()
    yield _in_chunks(conn, seen_messages, message_ids, d.message_id, scope=d.source_id.in_(theirs))
    # A trace holds the message as accepted and the traits it set: by messageId, and by
    # profile for those whose message the log no longer has.
    ids = sorted(person.profile_ids)
    t, a = message_traces.c, message_trace_attempts.c
    yield _in_chunks(conn, message_traces, message_ids, t.message_id, scope=t.workspace_id == ws)
    yield _in_chunks(conn, message_traces, ids, t.profile_id, scope=t.workspace_id == ws)
    yield _in_chunks(
        conn, message_trace_attempts, message_ids, a.message_id, scope=a.workspace_id == ws
    )
    yield _in_chunks(conn, message_trace_attempts, ids, a.profile_key, scope=a.workspace_id == ws)


class _Ids(msgspec.Struct, rename="camel"):
    user_id: object = None
    anonymous_id: object = None
    previous_id: object = None


_ids_of = msgspec.json.Decoder(_Ids)


def _held_of(conn: Connection, person: SubjectKeys) -> list[int]:
    """Held messages naming the person's userId or anonymousId: a held message may be one the
    log no longer has (and so not among the erased messageIds)."""
    wanted = {*person.user_ids, *person.anonymous_ids}
    if not wanted:
        return []
    found = []
    rows = conn.execute(
        select(held_events.c.id, held_events.c.message).where(
            held_events.c.workspace_id == person.workspace_id
        )
    )
    for row_id, message in rows:
        try:
            ids = _ids_of.decode(message)
        except msgspec.DecodeError:
            continue  # not a JSON object: held for that very reason, and it names nobody
        named = (ids.user_id, ids.anonymous_id, ids.previous_id)
        if any(isinstance(v, str | int) and str(v).strip() in wanted for v in named):
            found.append(int(row_id))
    return found


# --- compaction -------------------------------------------------------------------------------


def _compact_sqlite(
    engine: Engine, rebuild: bool, seconds: dict[str, float]
) -> tuple[bool, list[str]]:
    vacuumed: list[str] = []
    with engine.connect() as conn:
        if rebuild:
            started = time.perf_counter()
            conn.exec_driver_sql("VACUUM")
            conn.commit()
            vacuumed.append("*")
            seconds["vacuum"] = time.perf_counter() - started
        started = time.perf_counter()
        raw = conn.connection.dbapi_connection
        assert isinstance(raw, sqlite3.Connection)
        checkpointed = checkpoint(raw)
        seconds["checkpoint"] = time.perf_counter() - started
    return checkpointed, vacuumed


def checkpoint(conn: sqlite3.Connection, patience: float = CHECKPOINT_PATIENCE) -> bool:
    """Copy every WAL frame into the database file and truncate the WAL to nothing; retried
    while readers still use old frames. False if they still did after `patience` seconds."""
    deadline = time.monotonic() + patience
    while True:
        busy, _, _ = conn.execute("PRAGMA wal_checkpoint(TRUNCATE)").fetchall()[0]
        if not busy:
            return True
        if time.monotonic() > deadline:
            return False
        time.sleep(0.05)


def _vacuum_postgres(engine: Engine, tables: Collection[str], *, full: bool) -> None:
    # VACUUM cannot run inside a transaction block.
    with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        for table in sorted(tables):
            conn.exec_driver_sql(f'VACUUM {"FULL " if full else ""}"{table}"')
