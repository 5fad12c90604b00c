"""What erasing one person costs in the event store and the state store, with 1 M events.

lake    1 M generated events (benchmarks/engage.py's SQL) laid out as compaction leaves them
        (sorted files with profile filters, `engage.compacted_layout`) plus 20 batch files of
        2,000 rows in log order; `lake_rewrite.erase_person` of one active person: files
        read and rewritten, seconds.
state   a state.db with what 1 M events from `--people` people leave (identities, profiles,
        traits, Engage states and values, consent, violations, dead letters, outbox rows);
        `erase_state` of one person: the deletes (secure_delete on), the WAL checkpoint,
        and VACUUM (`rebuild=True`), with the file's size.
dedup   the embedded dedup file with 1 M entries: `forget_messages`, and a VACUUM after it.
postgres (with --postgres URL) the same state rows in PostgreSQL: VACUUM and VACUUM FULL of
        the touched tables.

  .venv/bin/python benchmarks/erase_stores.py                    # ~2 minutes on 2 cores
"""

from __future__ import annotations

import argparse
import random
import shutil
import sqlite3
import sys
import tempfile
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import duckdb
import msgspec
from sqlalchemy import Engine, Table, insert

from benchmarks.engage import compacted_layout, events_sql
from seamline.identity.identifiers import Identifier
from seamline.log.base import position
from seamline.privacy.subject import Person
from seamline.spec import Envelope, Message
from seamline.spec.envelope import Item
from seamline.store import state
from seamline.store.dedup_sqlite import SqliteSeenMessages
from seamline.store.erase_state import erase_state
from seamline.store.events_lake import LakeEventStore
from seamline.store.lake_rewrite import candidate_files, erase_person
from seamline.store.state import open_state_store

NOW = datetime(2026, 6, 1, tzinfo=UTC)
WS = "default"


def person(n: int) -> Person:
    return Person(
        workspace_id=WS,
        identifiers=frozenset(
            {Identifier("user_id", f"user-{n}"), Identifier("email", f"user{n}@example.com")}
        ),
        profile_ids=frozenset({f"use_{n}"}),
    )


def bench_lake(root: Path, events: int, people: int, who: int) -> None:
    catalog = open_state_store(f"sqlite:///{root / 'catalog.db'}")
    store = LakeEventStore(root / "lake", catalog, compact=False)
    conn = duckdb.connect()
    lo = 0
    began = time.perf_counter()
    for rows in compacted_layout(events):
        table = conn.sql(events_sql(events, people, 7, NOW, lo, lo + rows)).to_arrow_table()
        store.load(table)
        lo += rows
    for n in range(20):  # the pipeline's latest batches, in log order, without a filter
        store.write(
            [
                Item(
                    position(1, n * 2000 + k),
                    Envelope(
                        workspace_id="default",
                        source_id="src_bench",
                        message=Message(
                            type="track",
                            message_id=f"b-{n}-{k}",
                            user_id=f"user-{k % people}",
                            event="E",
                            timestamp=NOW,
                            received_at=NOW,
                        ),
                    ),
                    f"use_{k % people}",
                )
                for k in range(2000)
            ]
        )
    print(f"lake: {store.count():,} rows in {len(store.catalog.live())} files,"
          f" built in {time.perf_counter() - began:.0f} s")  # fmt: skip
    target = person(who)
    mine = store.query("SELECT count(*) FROM events WHERE profile_id = ?", [f"use_{who}"])[0][0]
    began = time.perf_counter()
    candidates = candidate_files(store, target)
    found = time.perf_counter() - began
    began = time.perf_counter()
    done = erase_person(store, target)
    seconds = time.perf_counter() - began
    print(
        f"lake erase of use_{who} ({mine:,} rows): {len(candidates)} candidate files"
        f" ({found * 1000:.0f} ms to find), {done.files_rewritten} rewritten,"
        f" {done.files_removed} removed, {done.rows_dropped:,} rows, {seconds:.2f} s"
    )
    began = time.perf_counter()
    every = erase_person(store, person(who + 1), every_file=True)
    print(f"lake erase reading every file: {every.files_read} files, {every.rows_dropped:,} rows,"
          f" {time.perf_counter() - began:.2f} s")  # fmt: skip
    store.close()
    conn.close()
    catalog.dispose()


def state_rows(people: int, events: int) -> Iterator[tuple[Table, list[dict[str, Any]]]]:
    """What 1 M events leave in the state store, table by table, in chunks."""
    rng = random.Random(7)
    payload = {
        "userId": "user-x",
        "event": "Order Completed",
        "properties": {"total": 12.5, "items": [{"sku": "A-1", "price": 12.5}]},
        "context": {"ip": "10.0.0.1"},
    }
    for start in range(0, people, 10_000):
        ids = range(start, min(people, start + 10_000))
        yield state.profiles, [
            {"id": f"use_{n}", "workspace_id": WS, "canonical_id": f"use_{n}",
             "merged_into": None, "created_at": NOW, "first_message_id": f"m-{n}"}
            for n in ids
        ]  # fmt: skip
        yield state.identities, [
            {"workspace_id": WS, "type": kind, "value": value, "profile_id": f"use_{n}",
             "first_seen": NOW, "last_seen": NOW, "first_message_id": f"m-{n}"}
            for n in ids
            for kind, value in (("user_id", f"user-{n}"), ("email", f"user{n}@example.com"),
                                ("anonymous_id", f"anon-{n}-{rng.getrandbits(40):x}"))
        ]  # fmt: skip
        yield state.profile_traits, [
            {"profile_id": f"use_{n}", "name": f"trait_{t}", "value": f"value {n} {t}",
             "removed": False, "updated_at": NOW, "source_id": "src_bench",
             "message_id": f"m-{n}"}
            for n in ids
            for t in range(10)
        ]  # fmt: skip
        yield state.engage_values, [
            {"workspace_id": WS, "profile_id": f"use_{n}", "key": f"aud_{k}", "value": True,
             "version": 1, "updated_at": NOW}
            for n in ids
            for k in range(5)
        ]  # fmt: skip
        yield state.engage_states, [
            {"workspace_id": WS, "profile_id": f"use_{n}",
             "states": {f"f{k}": [n, {"count": k, "last": "2026-06-01"}] for k in range(5)}}
            for n in ids
        ]  # fmt: skip
        yield state.profile_consent, [
            {"workspace_id": WS, "profile_id": f"use_{n}", "preferences": {"Advertising": True},
             "updated_at": NOW, "message_id": f"m-{n}", "log_offset": n}
            for n in ids
            if n % 3 == 0
        ]  # fmt: skip
    for start in range(0, events // 20, 10_000):
        yield state.violations, [
            {"workspace_id": WS, "source_id": "src_bench", "log_offset": i,
             "message_id": f"m-{i * 20}", "message_type": "track", "event_name": "E",
             "path": "properties.total", "rule": "type", "expected": "number",
             "actual": "\"12.5\"", "recorded_at": NOW}
            for i in range(start, min(events // 20, start + 10_000))
        ]  # fmt: skip
    for table, rows in ((state.dead_letters, 5_000), (state.outbox, 5_000)):
        batch = []
        for i in range(rows):
            row: dict[str, Any] = {"workspace_id": WS, "destination": "hook",
                                   "subscription": "all", "message_id": f"m-{i * 97}",
                                   "payload": payload, "attempts": 1}  # fmt: skip
            if table is state.outbox:
                row |= {"delivery_key": f"k{i}", "profile_key": f"use_{i % people}",
                        "enqueued_at": NOW, "next_attempt_at": NOW}  # fmt: skip
            else:
                row |= {"error": "HTTP 500", "status": 500, "request": msgspec.json.encode(
                    payload).decode(), "response": "oops", "failed_at": NOW}  # fmt: skip
            batch.append(row)
        yield table, batch


def fill_state(engine: Engine, people: int, events: int) -> None:
    with engine.begin() as conn:
        conn.execute(insert(state.workspaces), [{"id": WS, "name": "W", "created_at": NOW}])
        conn.execute(insert(state.sources), [{"id": "src_bench", "workspace_id": WS, "name": "B",
                                             "write_key": "wk", "enabled": True,
                                             "created_at": NOW}])  # fmt: skip
    for table, rows in state_rows(people, events):
        with engine.begin() as conn:
            conn.execute(insert(table), rows)


def messages_of(who: int, events: int, people: int) -> list[str]:
    """About one person's share of messageIds (those the lake would return)."""
    return [f"m-{who + k * people}" for k in range(events // people)]


def size(path: Path) -> str:
    files = sorted(path.parent.glob(path.name + "*"))
    return ", ".join(f"{p.name} {p.stat().st_size / 2**20:.0f} MiB" for p in files)


def bench_state(root: Path, people: int, events: int, who: int) -> None:
    path = root / "state.db"
    engine = open_state_store(f"sqlite:///{path}")
    began = time.perf_counter()
    fill_state(engine, people, events)
    raw = sqlite3.connect(path)
    raw.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    raw.close()
    print(f"state.db filled in {time.perf_counter() - began:.0f} s: {size(path)}")
    for rebuild, n in ((False, who), (True, who + 1)):
        done = erase_state(engine, person(n), messages_of(n, events, people), rebuild=rebuild)
        timings = ", ".join(f"{k} {v:.2f} s" for k, v in done.seconds.items())
        print(f"state erase (rebuild={rebuild}): {sum(done.deleted.values())} rows; {timings};"
              f" after: {size(path)}")  # fmt: skip
    engine.dispose()


def bench_dedup(root: Path, events: int, people: int, who: int) -> None:
    path = root / "dedup.sqlite"
    seen = SqliteSeenMessages(path)
    for start in range(0, events, 50_000):
        seen.remember([("src_bench", f"m-{i}", i, 1.0) for i in range(start, start + 50_000)])
    began = time.perf_counter()
    gone = seen.forget_messages(("src_bench", m) for m in messages_of(who, events, people))
    print(f"dedup forget_messages: {gone} entries, {time.perf_counter() - began:.2f} s")
    seen.close()
    began = time.perf_counter()
    db = sqlite3.connect(path)
    db.execute("VACUUM")
    db.close()
    print(f"dedup VACUUM: {time.perf_counter() - began:.2f} s; {size(path)}")


def bench_postgres(url: str, people: int, events: int, who: int) -> None:
    engine = open_state_store(url)
    began = time.perf_counter()
    fill_state(engine, people, events)
    print(f"postgres filled in {time.perf_counter() - began:.0f} s")
    for rebuild, n in ((False, who), (True, who + 1)):
        done = erase_state(engine, person(n), messages_of(n, events, people), rebuild=rebuild)
        timings = ", ".join(f"{k} {v:.2f} s" for k, v in done.seconds.items())
        print(f"postgres erase (rebuild={rebuild}): {sum(done.deleted.values())} rows;"
              f" {timings}; tables {len(done.vacuumed)}")  # fmt: skip
    engine.dispose()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--events", type=int, default=1_000_000)
    parser.add_argument("--people", type=int, default=50_000)
    parser.add_argument("--postgres", help="a PostgreSQL URL to measure VACUUM (FULL) on")
    parser.add_argument("--only", choices=["lake", "state", "dedup", "postgres"])
    args = parser.parse_args()
    root = Path(tempfile.mkdtemp(prefix="erase-bench-"))
    try:
        if args.only in (None, "lake"):
            bench_lake(root, args.events, args.people, who=3)
        if args.only in (None, "state"):
            bench_state(root, args.people, args.events, who=3)
        if args.only in (None, "dedup"):
            bench_dedup(root, args.events, args.people, who=3)
        if args.postgres and args.only in (None, "postgres"):
            bench_postgres(args.postgres, args.people, args.events, who=3)
    finally:
        shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    main()
