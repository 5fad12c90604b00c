"""Erasing one person from the state store: every table that holds them, on SQLite (no byte of
theirs left in state.db, its WAL or its shared memory file) and on PostgreSQL (no row left,
and after a rebuild no byte in the tables' files), while another person's rows stay."""

from __future__ import annotations

import sqlite3
import threading
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from sqlalchemy import Engine, insert

from seamline.identity.identifiers import Identifier
from seamline.privacy.subject import Person
from seamline.store import state
from seamline.store.erase_state import erase_state
from seamline.store.identity_matches_sql import identity_match_proposals
from seamline.store.identity_matching_runs_sql import identity_match_records
from seamline.store.profiles_sync_sql import (
    profiles_sync_graph,
    profiles_sync_ids,
    profiles_sync_traits,
)
from seamline.store.state import open_state_store

NOW = datetime(2026, 6, 1, tzinfo=UTC)
WS = "default"
MARKER = "zq-state-marker-91d"


def person(tag: str) -> Person:
    return Person(
        workspace_id=WS,
        identifiers=frozenset(
            {
                Identifier("user_id", f"u-{tag}"),
                Identifier("anonymous_id", f"a-{tag}"),
                Identifier("email", f"{tag}@example.com"),
            }
        ),
        profile_ids=frozenset({f"use_{tag}", f"use_{tag}_merged"}),
    )


ERASED = person("erased7c1")
KEPT = person("kept4b2")


def secrets_of(who: Person) -> list[bytes]:
    """What must leave every byte: the marker and each identifier and profile id."""
    found = [f"{MARKER}" if who is ERASED else "zq-kept-marker"]
    found += [i.value for i in who.identifiers] + sorted(who.profile_ids)
    return [value.encode() for value in found]


def populate(engine: Engine, who: Person, tag: str) -> list[str]:
    """A row of `who` in every table that holds a person; their messageIds."""
    marker = MARKER if who is ERASED else "zq-kept-marker"
    canonical, merged = sorted(who.profile_ids)
    user = who.user_ids[0]
    messages = [f"m-{tag}-{n}" for n in range(4)]
    payload = {"userId": user, "traits": {"note": marker, "email": who.emails[0]}}
    rows: list[tuple[sa.Table, dict[str, Any]]] = [
        *[
            (state.identities, {"workspace_id": WS, "type": i.type, "value": i.value,
             "profile_id": canonical, "first_seen": NOW, "last_seen": NOW,
             "first_message_id": messages[0]})
            for i in who.identifiers
        ],
        (state.profiles, {"id": canonical, "workspace_id": WS, "canonical_id": canonical,
         "merged_into": None, "created_at": NOW, "first_message_id": messages[0]}),
        (state.profiles, {"id": merged, "workspace_id": WS, "canonical_id": canonical,
         "merged_into": canonical, "created_at": NOW, "first_message_id": messages[1]}),
        (state.merges, {"workspace_id": WS, "from_profile": merged, "into_profile": canonical,
         "message_id": messages[1], "identifiers": [["user_id", user]], "merged_at": NOW}),
        (state.separations, {"workspace_id": WS, "profile_a": canonical, "profile_b": merged,
         "merge_id": None, "created_at": NOW}),
        (identity_match_proposals, {"workspace_id": WS, "left_profile": canonical,
         "right_profile": merged, "probability": 0.9, "status": "pending", "created_at": NOW,
         "comparisons": [{"field": "email", "left": who.emails[0], "right": marker}]}),
        (identity_match_records, {"workspace_id": WS, "profile_id": canonical,
         "digest": "d" * 64}),
        (state.profile_traits, {"profile_id": canonical, "name": "note", "value": marker,
         "removed": False, "updated_at": NOW, "source_id": "src_a", "message_id": messages[0]}),
        (state.account_members, {"account_id": "acc_1", "profile_id": canonical,
         "first_seen": NOW, "source_id": "src_a"}),
        (state.profile_consent, {"workspace_id": WS, "profile_id": canonical,
         "preferences": {"note": marker}, "updated_at": NOW, "message_id": messages[0],
         "log_offset": 1}),
        (state.engage_states, {"workspace_id": WS, "profile_id": merged,
         "states": {"k": [1, marker]}}),
        (state.engage_values, {"workspace_id": WS, "profile_id": canonical, "key": "aud",
         "value": {"note": marker}, "version": 1, "updated_at": NOW}),
        (state.engage_rechecks, {"workspace_id": WS, "profile_id": canonical,
         "recheck_at": 1}),
        (state.outbox, {"workspace_id": WS, "destination": "hook", "subscription": "all",
         "delivery_key": messages[2], "message_id": messages[2], "profile_key": canonical,
         "payload": payload, "enqueued_at": NOW, "attempts": 0, "next_attempt_at": NOW}),
        (state.dead_letters, {"workspace_id": WS, "destination": "hook", "subscription": "all",
         "message_id": messages[3], "payload": payload, "error": "400", "status": 400,
         "request": f'{{"note": "{marker}"}}', "response": "bad", "attempts": 3,
         "failed_at": NOW}),
        (state.violations, {"workspace_id": WS, "source_id": "src_a", "log_offset": 2,
         "message_id": messages[3], "message_type": "track", "event_name": "E",
         "path": "properties.note", "rule": "type", "expected": "number", "actual": marker,
         "recorded_at": NOW}),
        (state.held_events, {"workspace_id": WS, "source_id": "src_a", "log_offset": 3,
         "message_id": messages[3], "disposition": "blocked", "reason": "schema",
         "message": f'{{"messageId": "{messages[3]}", "note": "{marker}"}}', "held_at": NOW}),
        # Held with a messageId the erasure is not given (the log lost it): found by userId.
        (state.held_events, {"workspace_id": WS, "source_id": "src_a", "log_offset": 4,
         "message_id": f"lost-{tag}", "disposition": "quarantined", "reason": "schema",
         "message": f'{{"userId": " {user} ", "note": "{marker}"}}', "held_at": NOW}),
        *[
            (state.seen_messages, {"source_id": "src_a", "message_id": m, "first_offset": n,
             "seen_at": 1.0})
            for n, m in enumerate(messages)
        ],
        # A Reverse ETL model whose primary key is the user id; Profiles Sync's snapshots.
        (state.reverse_etl_records, {"workspace_id": WS, "model": "crm", "subscription": "s",
         "record_id": user, "checksum": "c" * 32}),
        (profiles_sync_graph, {"target": f"{WS}/wh", "profile_id": merged,
         "workspace_id": WS, "canonical_id": canonical}),
        (profiles_sync_ids, {"target": f"{WS}/wh", "type": "email",
         "value": who.emails[0], "profile_id": canonical}),
        (profiles_sync_traits, {"target": f"{WS}/wh", "profile_id": canonical, "name": "note",
         "updated_at": NOW}),
    ]  # fmt: skip
    with engine.begin() as conn:
        for table, row in rows:
            conn.execute(insert(table), [row])
    return messages


def setup_workspace(engine: Engine) -> None:
    with engine.begin() as conn:
        conn.execute(insert(state.workspaces), [{"id": WS, "name": "W", "created_at": NOW}])
        conn.execute(
            insert(state.sources),
            [{"id": "src_a", "workspace_id": WS, "name": "A", "write_key": "wk",
              "enabled": True, "created_at": NOW}],
        )  # fmt: skip
        conn.execute(
            insert(state.accounts),
            [{"id": "acc_1", "workspace_id": WS, "group_id": "g1", "created_at": NOW}],
        )


PERSON_TABLES = (
    "identities", "profiles", "merges", "separations", "profile_traits", "account_members",
    "profile_consent", "engage_states", "engage_values", "engage_rechecks", "outbox",
    "dead_letters", "violations", "held_events", "seen_messages", "reverse_etl_records",
    "profiles_sync_ids", "profiles_sync_traits", "identity_match_proposals",
    "identity_match_records",
)  # fmt: skip


def snapshot(engine: Engine) -> dict[str, list[str]]:
    """Every row of every table, as text, sorted."""
    found: dict[str, list[str]] = {}
    with engine.connect() as conn:
        for table in state.metadata.sorted_tables:
            found[table.name] = sorted(repr(tuple(r)) for r in conn.execute(sa.select(table)))
    return found


def without(rows: dict[str, list[str]], who: Person) -> dict[str, list[str]]:
    needles = [s.decode() for s in secrets_of(who)] + ["m-erased"]
    return {t: [r for r in v if not any(n in r for n in needles)] for t, v in rows.items()}


@pytest.fixture
def filled(engine: Engine) -> Iterator[tuple[Engine, list[str]]]:
    setup_workspace(engine)
    erased = populate(engine, ERASED, "erased")
    populate(engine, KEPT, "kept")
    yield engine, erased


def test_every_table_loses_the_person_and_keeps_the_other(
    filled: tuple[Engine, list[str]],
) -> None:
    engine, messages = filled
    before = snapshot(engine)
    assert all(any("erased" in r for r in before[t]) for t in PERSON_TABLES)

    done = erase_state(engine, ERASED, messages)

    after = snapshot(engine)
    for table, rows in after.items():
        for secret in secrets_of(ERASED):
            if table == "profiles_sync_graph" and secret.decode() in ERASED.profile_ids:
                continue  # kept for the next Profiles Sync run (see erase_state's docstring)
            assert not [r for r in rows if secret.decode() in r], (table, secret)
        assert not [r for r in rows if "m-erased" in r], table
    # Everyone else's rows, counts included, are as they were.
    assert after == {
        **without(before, ERASED),
        "profiles_sync_graph": before["profiles_sync_graph"],
    }
    assert {t for t, n in done.deleted.items() if n} == set(PERSON_TABLES)
    assert done.deleted["identities"] == 3 and done.deleted["held_events"] == 2
    assert after["accounts"] == before["accounts"]  # the account (a group) stays


def state_files(tmp_path: Path) -> list[Path]:
    return [p for p in tmp_path.iterdir() if p.name.startswith("state.db")]


def files_hold(paths: list[Path], needles: list[bytes]) -> list[tuple[str, bytes]]:
    found = []
    for path in paths:
        data = path.read_bytes()
        found += [(path.name, n) for n in needles if n in data]
    return found


@pytest.fixture
def sqlite_engine(tmp_path: Path) -> Iterator[Engine]:
    engine = open_state_store(f"sqlite:///{tmp_path / 'state.db'}")
    yield engine
    engine.dispose()


def test_on_sqlite_no_byte_of_the_person_is_left_in_the_files(
    sqlite_engine: Engine, tmp_path: Path
) -> None:
    setup_workspace(sqlite_engine)
    messages = populate(sqlite_engine, ERASED, "erased")
    populate(sqlite_engine, KEPT, "kept")
    assert files_hold(state_files(tmp_path), secrets_of(ERASED))  # in the WAL for now
    # Another process's reader (the Profile API) in a read transaction on the frames the
    # erasure rewrites: the checkpoint waits for it instead of leaving the WAL as it is.
    reading = threading.Event()

    def read() -> None:
        db = sqlite3.connect(tmp_path / "state.db", isolation_level=None)
        db.execute("BEGIN")
        db.execute("SELECT count(*) FROM profile_traits").fetchall()
        reading.set()
        time.sleep(0.5)
        db.execute("COMMIT")
        db.close()

    reader = threading.Thread(target=read)
    reader.start()
    reading.wait()

    done = erase_state(sqlite_engine, ERASED, messages)

    reader.join()
    assert done.checkpointed
    assert (tmp_path / "state.db-wal").stat().st_size == 0
    # Their profile ids stay in Profiles Sync's graph snapshot until its next run (see
    # erase_state's docstring); nothing else of theirs does.
    ids = {p.encode() for p in ERASED.profile_ids}
    assert files_hold(state_files(tmp_path), [s for s in secrets_of(ERASED) if s not in ids]) == []
    assert files_hold(state_files(tmp_path), secrets_of(KEPT)) != []


def test_on_sqlite_bytes_freed_before_the_erasure_need_the_rebuild(
    sqlite_engine: Engine, tmp_path: Path
) -> None:
    """A delivered outbox row was deleted before, with secure_delete off (SQLite's default
    unless built with SQLITE_SECURE_DELETE, as Debian's is): its page keeps the bytes until
    VACUUM rewrites the file."""
    setup_workspace(sqlite_engine)
    populate(sqlite_engine, KEPT, "kept")
    delivered = {"userId": "u-erased7c1", "traits": {"note": MARKER}}
    with sqlite_engine.begin() as conn:
        for n in range(20):
            conn.execute(
                insert(state.outbox),
                [{"workspace_id": WS, "destination": "hook", "subscription": "all",
                  "delivery_key": f"d{n}", "message_id": f"m-erased-d{n}", "profile_key": None,
                  "payload": delivered if n == 7 else {"n": n}, "enqueued_at": NOW,
                  "attempts": 0, "next_attempt_at": NOW}],
            )  # fmt: skip
    with sqlite_engine.connect() as conn:
        conn.exec_driver_sql("PRAGMA secure_delete = OFF")
        conn.commit()
        conn.execute(sa.delete(state.outbox).where(state.outbox.c.message_id == "m-erased-d7"))
        conn.commit()
        conn.exec_driver_sql("PRAGMA secure_delete = ON")  # as pooled connections come here
        conn.commit()
    erase_state(sqlite_engine, ERASED, ["m-erased-d7"])
    assert files_hold(state_files(tmp_path), [MARKER.encode()]) != []

    done = erase_state(sqlite_engine, ERASED, [], rebuild=True)

    assert done.vacuumed == ["*"] and done.checkpointed
    assert files_hold(state_files(tmp_path), secrets_of(ERASED)) == []


def relation_bytes(engine: Engine) -> bytes:
    """The bytes of every table, index and TOAST file of the database, flushed first (read by
    the server: a superuser may, wherever the server runs)."""
    with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        conn.exec_driver_sql("CHECKPOINT")
        paths = conn.exec_driver_sql(
            "SELECT pg_relation_filepath(c.oid) FROM pg_class c"
            " JOIN pg_namespace n ON n.oid = c.relnamespace"
            " WHERE n.nspname IN ('public', 'pg_toast') AND c.relkind IN ('r', 'i', 't')"
        ).scalars()
        found = [
            conn.exec_driver_sql("SELECT pg_read_binary_file(%s, true)", (p,)).scalar()
            for p in paths
            if p
        ]
    return b"".join(f or b"" for f in found)


@pytest.mark.parametrize("rebuild", [False, True], ids=["vacuum", "vacuum-full"])
def test_on_postgresql_only_a_rebuild_takes_the_bytes_out_of_the_tables_files(
    postgres_url: str, rebuild: bool
) -> None:
    engine = open_state_store(postgres_url)
    try:
        setup_workspace(engine)
        # The other person's rows first: PostgreSQL fills a page from its end, and VACUUM
        # moves the rows left to the end, over the space of rows deleted behind them.
        populate(engine, KEPT, "kept")
        messages = populate(engine, ERASED, "erased")
        assert MARKER.encode() in relation_bytes(engine)

        done = erase_state(engine, ERASED, messages, rebuild=rebuild)

        assert set(done.vacuumed) == set(PERSON_TABLES)
        left = relation_bytes(engine)
        # VACUUM makes the dead rows' space reusable without overwriting it; VACUUM FULL
        # writes new files without them (the WAL segments still hold them until recycled).
        assert (MARKER.encode() in left) is not rebuild
        assert b"zq-kept-marker" in left
    finally:
        engine.dispose()
