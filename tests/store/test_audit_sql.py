"""The audit trail's hash chain in the state store, on SQLite and PostgreSQL: appends from
threads and processes form one chain, and editing or deleting a row is found by verify."""

from __future__ import annotations

import multiprocessing
import threading
from datetime import UTC, datetime, timedelta

from sqlalchemy import Engine, text

from seamline.access.audit import AuditFilter, record, record_change
from seamline.access.principal import Principal, cli_principal
from seamline.access.sealing import SEALED
from seamline.store.audit_sql import SqlAuditTrail
from seamline.store.state import open_state_store

ALICE = Principal(kind="token", id="tok_1", name="alice", workspace_id="default")
EVERYTHING = AuditFilter()


def _fill(trail: SqlAuditTrail, count: int) -> None:
    for i in range(count):
        record(trail, ALICE, "resource.update", "destination", f"d{i}", after={"n": i})


def test_entries_come_back_newest_first_with_filters_and_paging(engine: Engine) -> None:
    trail = SqlAuditTrail(engine)
    record(trail, ALICE, "token.create", "token", "tok_9", after={"name": "ci"})
    record(trail, cli_principal("default"), "source.create", "source", "src_1")
    record(trail, ALICE, "profile.read", "profile", "user_id:u1")
    other = Principal(kind="token", id="tok_x", name="x", workspace_id="other")
    record(trail, other, "profile.read", "profile", "user_id:u1")

    found = trail.entries("default", EVERYTHING, limit=10, before_seq=None)
    assert [e.action for e in found] == ["profile.read", "source.create", "token.create"]
    assert [e.seq for e in found] == [3, 2, 1]
    by_alice = trail.entries("default", AuditFilter(actor="alice"), limit=10, before_seq=None)
    assert [e.seq for e in by_alice] == [3, 1]
    by_id = trail.entries("default", AuditFilter(actor="cli"), limit=10, before_seq=None)
    assert [e.resource.id for e in by_id] == ["src_1"]
    reads = AuditFilter(action="profile.read", resource_type="profile", resource_id="user_id:u1")
    assert [e.seq for e in trail.entries("default", reads, limit=10, before_seq=None)] == [3]
    page = trail.entries("default", EVERYTHING, limit=2, before_seq=3)
    assert [e.seq for e in page] == [2, 1]
    later = AuditFilter(since=datetime.now(UTC) + timedelta(minutes=1))
    assert trail.entries("default", later, limit=10, before_seq=None) == []
    earlier = AuditFilter(until=datetime.now(UTC) - timedelta(minutes=1))
    assert trail.entries("default", earlier, limit=10, before_seq=None) == []
    assert found[2].after == {"name": "ci"} and found[2].actor.name == "alice"


def test_secrets_are_redacted_before_they_are_stored(engine: Engine) -> None:
    trail = SqlAuditTrail(engine)
    before = {"settings": {"apiKey": {SEALED: "abc"}, "url": "https://x"}, "password_hash": "h"}
    after = {"settings": {"apiKey": "plain-leak", "url": "https://y"}, "token_id": "tok_1"}
    record_change(trail, ALICE, "destination", "d", before, after)
    [entry] = trail.entries("default", EVERYTHING, limit=1, before_seq=None)
    assert entry.action == "resource.update"
    assert entry.before == {
        "settings": {"apiKey": "[secret]", "url": "https://x"},
        "password_hash": "[secret]",
    }
    assert entry.after == {
        "settings": {"apiKey": "[secret]", "url": "https://y"},
        "token_id": "tok_1",
    }
    with engine.connect() as conn:
        stored = " ".join(conn.execute(text("SELECT payload FROM audit_trail")).scalars())
    assert "plain-leak" not in stored and "abc" not in stored


def test_an_unchanged_document_records_nothing(engine: Engine) -> None:
    trail = SqlAuditTrail(engine)
    assert record_change(trail, ALICE, "destination", "d", {"a": 1}, {"a": 1}) is None
    assert record_change(trail, ALICE, "destination", "d", None, {"a": 1}) is not None
    assert record_change(trail, ALICE, "destination", "d", {"a": 1}, None) is not None
    actions = [e.action for e in trail.entries("default", EVERYTHING, limit=9, before_seq=None)]
    assert actions == ["resource.delete", "resource.create"]


def test_verify_counts_an_intact_chain(engine: Engine) -> None:
    trail = SqlAuditTrail(engine)
    assert trail.verify().ok and trail.verify().count == 0
    _fill(trail, 5)
    verdict = trail.verify()
    assert verdict.ok and verdict.count == 5 and verdict.broken_seq is None


def test_an_edited_payload_breaks_the_chain_at_that_row(engine: Engine) -> None:
    trail = SqlAuditTrail(engine)
    _fill(trail, 5)
    with engine.begin() as conn:
        conn.execute(
            text("UPDATE audit_trail SET payload = replace(payload, :was, :now) WHERE seq = 3"),
            {"was": '"n":2', "now": '"n":9'},
        )
    verdict = trail.verify()
    assert not verdict.ok
    assert verdict.broken_seq == 3 and verdict.count == 2
    assert verdict.reason == "entry 3's content does not match its hash"


def test_an_edited_filter_column_breaks_the_chain_at_that_row(engine: Engine) -> None:
    trail = SqlAuditTrail(engine)
    _fill(trail, 3)
    with engine.begin() as conn:
        conn.execute(text("UPDATE audit_trail SET actor_name = 'mallory' WHERE seq = 2"))
    verdict = trail.verify()
    assert verdict.broken_seq == 2
    assert verdict.reason == "entry 2: column actor_name disagrees with the payload"


def test_a_deleted_row_breaks_the_chain(engine: Engine) -> None:
    trail = SqlAuditTrail(engine)
    _fill(trail, 5)
    with engine.begin() as conn:
        conn.execute(text("DELETE FROM audit_trail WHERE seq = 2"))
    verdict = trail.verify()
    assert verdict.broken_seq == 2
    assert verdict.reason == "entry 2 is missing (the next stored entry is 3)"


def test_deleting_the_last_rows_breaks_the_chain(engine: Engine) -> None:
    trail = SqlAuditTrail(engine)
    _fill(trail, 5)
    with engine.begin() as conn:
        conn.execute(text("DELETE FROM audit_trail WHERE seq >= 4"))
    verdict = trail.verify()
    assert verdict.broken_seq == 4 and verdict.count == 3
    assert "the chain ends at entry 3 but its head says 5" in (verdict.reason or "")


def test_a_rehashed_row_still_breaks_at_the_next_one(engine: Engine) -> None:
    """Recomputing an edited row's own hash moves the break to the row after it."""
    from seamline.store.audit_chain import chain_hash

    trail = SqlAuditTrail(engine)
    _fill(trail, 3)
    with engine.begin() as conn:
        prev, payload = conn.execute(
            text("SELECT prev_hash, payload FROM audit_trail WHERE seq = 2")
        ).one()
        forged = payload.replace('"n":1', '"n":7')
        conn.execute(
            text("UPDATE audit_trail SET payload = :p, hash = :h WHERE seq = 2"),
            {"p": forged, "h": chain_hash(prev, forged)},
        )
    verdict = trail.verify()
    assert verdict.broken_seq == 3
    assert verdict.reason == "entry 3's prev_hash is not entry 2's hash"


def test_appends_from_threads_form_one_chain(engine: Engine) -> None:
    trail = SqlAuditTrail(engine)
    errors: list[BaseException] = []

    def work() -> None:
        try:
            _fill(trail, 15)
        except BaseException as error:  # reported below, not lost in the thread
            errors.append(error)

    threads = [threading.Thread(target=work) for _ in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    verdict = trail.verify()
    assert verdict.ok and verdict.count == 90


def _append_in_another_process(url: str, count: int) -> None:
    engine = open_state_store(url)
    try:
        _fill(SqlAuditTrail(engine), count)
    finally:
        engine.dispose()


def test_appends_from_processes_form_one_chain(engine: Engine, state_url: str) -> None:
    spawn = multiprocessing.get_context("spawn")
    children = [
        spawn.Process(target=_append_in_another_process, args=(state_url, 20)) for _ in range(3)
    ]
    for child in children:
        child.start()
    _fill(SqlAuditTrail(engine), 20)
    for child in children:
        child.join(120)
    assert [child.exitcode for child in children] == [0, 0, 0]
    verdict = SqlAuditTrail(engine).verify()
    assert verdict.ok and verdict.count == 80


def test_verify_reads_the_chain_in_pages(engine: Engine) -> None:
    trail = SqlAuditTrail(engine, page=3)
    _fill(trail, 10)
    assert trail.verify().count == 10
    with engine.begin() as conn:
        conn.execute(text("DELETE FROM audit_trail WHERE seq = 7"))
    assert trail.verify().broken_seq == 7
