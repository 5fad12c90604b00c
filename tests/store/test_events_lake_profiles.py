"""One profile's history in the Parquet lake (`events_of`, the Profile API's query): the same
answer however the rows are laid out — batch files in log order, compacted files sorted by
profile, files rewritten by `truncate_from`, files listed before the catalog knew their order —
and for merged profiles (the ids merged into one canonical profile)."""

from __future__ import annotations

import hashlib
import itertools
import shutil
from datetime import UTC, datetime, timedelta
from pathlib import Path

import duckdb
import pytest
from alembic import command
from alembic.config import Config
from sqlalchemy import Engine, create_engine, text

from seamline.log.base import position
from seamline.spec import Envelope, Message
from seamline.spec.envelope import Item
from seamline.store.events_lake import MERGE_AFTER, PROFILE_ORDER, ROW_GROUP_ROWS, LakeEventStore
from seamline.store.profile_filter import ProfileHashes, build, check_of
from seamline.store.state import open_state_store

NOW = datetime(2026, 6, 1, tzinfo=UTC)
PROFILES = [
    f"use_{hashlib.blake2b(str(n).encode(), digest_size=12).hexdigest()}" for n in range(40)
]


def event(n: int, profile: str, partition: int = 0) -> Item:
    """The n-th event of the partition, of `profile`; timestamps fall back every 7th event (late
    data), so log order and time order differ."""
    at = NOW + timedelta(seconds=n - 50 * (n % 7 == 0))
    message = Message(
        type="track", message_id=f"m{partition}-{n}", user_id=profile, event="E", timestamp=at,
        received_at=at,
    )  # fmt: skip
    envelope = Envelope(workspace_id="default", source_id="src_a", message=message)
    return Item(position(partition, n), envelope, profile)


def batch(start: int, size: int, partition: int = 0) -> list[Item]:
    """Events start..start+size-1, their profiles spread over PROFILES."""
    return [
        event(n, PROFILES[(n * 7) % len(PROFILES)], partition) for n in range(start, start + size)
    ]


def expected(items: list[Item], members: list[str], limit: int) -> list[str]:
    """The message ids `events_of` must give: newest first by (timestamp, message id)."""
    mine = [i.envelope.message for i in items if i.profile_id in members]
    mine.sort(key=lambda m: (m.timestamp, m.message_id), reverse=True)
    return [m.message_id for m in mine[:limit]]


def found(store: LakeEventStore, members: list[str], limit: int) -> list[str]:
    return [row["message_id"] for row in store.events_of(members, limit)]


def everyone_found(store: LakeEventStore, items: list[Item]) -> None:
    for profile in PROFILES:
        assert found(store, [profile], 1000) == expected(items, [profile], 1000), profile


def test_a_profiles_events_are_found_after_compaction(tmp_path: Path) -> None:
    store = LakeEventStore(tmp_path / "lake", compact=False)
    items: list[Item] = []
    for start in range(0, MERGE_AFTER * 300, 300):
        items += batch(start, 300)
        store.write(items[-300:])
    everyone_found(store, items)  # batch files, in log order
    assert store.compact() == MERGE_AFTER
    assert [f.sorted_by for f in store.catalog.live()] == [PROFILE_ORDER]
    everyone_found(store, items)
    first, last = store.first_and_last([PROFILES[3]])
    assert first is not None and last is not None
    ids = expected(items, [PROFILES[3]], 1000)
    assert (first["message_id"], last["message_id"]) == (ids[-1], ids[0])
    store.close()


def test_compacted_files_hold_profiles_sorted_in_small_row_groups(tmp_path: Path) -> None:
    """What lets DuckDB skip most of a file: each row group spans a narrow range of profile ids
    (its Parquet statistics), and the row groups are small."""
    store = LakeEventStore(tmp_path / "lake", compact=False)
    for start in range(0, MERGE_AFTER * 600, 600):
        store.write(batch(start, 600))
    store.compact()
    (merged,) = store.catalog.live()
    path = str(store.root / merged.path)
    with duckdb.connect() as conn:
        stored = [row[0] for row in conn.execute(f"SELECT profile_id FROM '{path}'").fetchall()]
        groups = conn.execute(
            "SELECT row_group_id, row_group_num_rows, stats_min, stats_max"
            f" FROM parquet_metadata('{path}') WHERE path_in_schema = 'profile_id'"
            " ORDER BY row_group_id"
        ).fetchall()
    assert stored == sorted(stored)
    assert len(groups) == -(-merged.rows // ROW_GROUP_ROWS) > 1
    assert all(rows <= ROW_GROUP_ROWS for _, rows, _, _ in groups)
    assert all(a[3] <= b[2] for a, b in itertools.pairwise(groups))
    store.close()


def test_a_profiles_events_are_found_after_truncate_from(tmp_path: Path) -> None:
    store = LakeEventStore(tmp_path / "lake", compact=False)
    items = batch(0, 200)
    other = batch(0, 50, partition=1)  # the same profiles, in a partition left alone
    store.write(items)
    store.write(other)
    assert store.truncate_from(position(0, 120), position(1, 0)) == 80
    kept = items[:120]
    everyone_found(store, kept + other)
    assert {f.partition: f.sorted_by for f in store.catalog.live()} == {0: PROFILE_ORDER, 1: None}
    # A compacted file cut back: sorted again, the rows past the cut gone.
    for start in range(120, 120 + MERGE_AFTER * 300, 300):
        kept += batch(start, 300)
        store.write(kept[-300:])
    store.compact()
    assert store.truncate_from(position(0, 2000), position(1, 0)) == len(kept) - 2000
    everyone_found(store, kept[:2000] + other)
    store.close()


def test_merged_profiles_are_read_together_newest_first_page_by_page(tmp_path: Path) -> None:
    """A canonical profile's events are those of every profile id merged into it, whether in
    sorted files, in batch files or in both."""
    store = LakeEventStore(tmp_path / "lake", compact=False)
    items: list[Item] = []
    for start in range(0, MERGE_AFTER * 100, 100):
        items += batch(start, 100)
        store.write(items[-100:])
    store.compact()
    items += batch(MERGE_AFTER * 100, 100)  # newer events in a batch file
    store.write(items[-100:])
    members = sorted(PROFILES[5:8])
    want = expected(items, members, 1000)
    assert len(want) > 60
    pages: list[str] = []
    before = None
    while True:
        rows = store.events_of(members, 25, before)
        pages += [row["message_id"] for row in rows]
        if len(rows) < 25:
            break
        before = (rows[-1]["timestamp"], rows[-1]["message_id"])
    assert pages == want
    store.close()


def _at_revision(url: str, revision: str) -> None:
    config = Config()
    config.set_main_option("script_location", "seamline.store:migrations")
    engine = create_engine(url)
    with engine.begin() as connection:
        config.attributes["connection"] = connection
        command.upgrade(config, revision)
    engine.dispose()


def test_a_file_listed_before_the_catalog_knew_its_order_is_read_then_re_sorted(
    tmp_path: Path,
) -> None:
    """The migration path: a data dir whose catalog (revision 0009) lists a large file in log
    order, as compaction wrote them until files were sorted by profile."""
    items = batch(0, 20_000)
    written = LakeEventStore(tmp_path / "new", compact=False)
    written.write(items)  # one file in log order, as the old compaction left them
    (old,) = written.catalog.live()
    written.close()
    (tmp_path / "old" / "0").mkdir(parents=True)
    shutil.copy(tmp_path / "new" / old.path, tmp_path / "old" / old.path)
    url = f"sqlite:///{tmp_path / 'old' / 'state.db'}"
    _at_revision(url, "0009")
    engine = create_engine(url)
    with engine.begin() as conn:
        conn.execute(
            text(
                "INSERT INTO event_files (path, log_partition, first_position, last_position,"
                " rows, bytes, created_at) VALUES (:path, 0, :first, :last, :rows, :bytes, :at)"
            ),
            {"path": old.path, "first": old.first_position, "last": old.last_position,
             "rows": old.rows, "bytes": old.bytes, "at": NOW},
        )  # fmt: skip
    engine.dispose()

    catalog = open_state_store(url)  # migrates to the head
    store = LakeEventStore(tmp_path / "old", catalog, compact=False)
    assert [f.sorted_by for f in store.catalog.live()] == [None]
    everyone_found(store, items)
    assert store.compact() == 1  # re-sorted, though nothing is there to merge it with
    assert [f.sorted_by for f in store.catalog.live()] == [PROFILE_ORDER]
    everyone_found(store, items)
    assert store.compact() == 0
    store.close()
    catalog.dispose()


def test_files_whose_filter_rules_a_profile_out_are_not_read(tmp_path: Path) -> None:
    """Compacted files carry a Bloom filter of their profile ids: a profile that is not in a
    file does not cost reading it. Shown by breaking the file: only a profile in it fails."""
    store = LakeEventStore(tmp_path / "lake", compact=False)
    for start in range(0, MERGE_AFTER * 100, 100):
        store.write([event(n, PROFILES[n % 20]) for n in range(start, start + 100)])
    store.compact()
    (merged,) = store.catalog.live()
    assert store.catalog.profile_filters([merged.id])[merged.id] is not None
    assert store.events_of([PROFILES[30]], 10) == []  # not in the file
    (store.root / merged.path).write_bytes(b"not parquet")
    assert store.events_of([PROFILES[30], PROFILES[31]], 10) == []
    with pytest.raises(duckdb.Error):
        store.events_of([PROFILES[30], PROFILES[3]], 10)
    store.close()


def test_a_filter_built_with_another_hash_lets_every_profile_through(tmp_path: Path) -> None:
    with duckdb.connect() as conn:
        conn.execute("CREATE TABLE t AS SELECT unnest(?::VARCHAR[]) AS profile_id", [PROFILES[:20]])
        stored = build(conn, "t")
        check = check_of(conn)
        assert all(ProfileHashes(conn, [p], check).may_be_in(stored) for p in PROFILES[:20])
        ruled_out = [
            p for p in PROFILES[20:] if not ProfileHashes(conn, [p], check).may_be_in(stored)
        ]
        assert len(ruled_out) >= 18  # about 1 % false positives
        assert ProfileHashes(conn, PROFILES[20:], check + 1).may_be_in(stored)
        assert ProfileHashes(conn, PROFILES[20:], check).may_be_in(None)


def test_filters_come_back_from_either_catalog(engine: Engine, tmp_path: Path) -> None:
    """The filters are stored in the state store (SQLite's BLOB, PostgreSQL's bytea) and read
    back by another store on the same catalog, as another process would."""
    writer = LakeEventStore(tmp_path / "lake", engine, compact=False)
    items: list[Item] = []
    for start in range(0, MERGE_AFTER * 50, 50):
        items += [event(n, PROFILES[n % 20]) for n in range(start, start + 50)]
        writer.write(items[-50:])
    writer.compact()
    reader = LakeEventStore(tmp_path / "lake", engine, writable=False)
    (merged,) = reader.catalog.live()
    assert reader.catalog.profile_filters([merged.id])[merged.id]
    assert found(reader, [PROFILES[4]], 1000) == expected(items, [PROFILES[4]], 1000)
    assert reader.events_of([PROFILES[30]], 10) == []
    reader.close()
    writer.close()
