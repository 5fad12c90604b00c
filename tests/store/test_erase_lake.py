"""Erasing one person from the Parquet lake: their rows leave every file on disk (batch files,
compacted files, files an earlier compaction retired), everyone else's rows stay as they were,
a file of only their rows goes, a reader that listed the old files lists again, and the same
on S3. On the SQLite and the PostgreSQL catalog."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import duckdb
import msgspec
import pytest
from sqlalchemy import Engine

from seamline.identity.identifiers import Identifier
from seamline.log.base import position
from seamline.privacy.subject import Person
from seamline.spec import Envelope, Message
from seamline.spec.envelope import Item
from seamline.store.events_lake import MERGE_AFTER, LakeEventStore
from seamline.store.lake_rewrite import erase_person, rewrite_where
from seamline.store.lake_s3 import S3Files
from seamline.store.state import open_state_store
from tests.store.test_events_lake_s3 import bucket, endpoint, keys  # noqa: F401 (fixtures)

NOW = datetime(2026, 6, 1, tzinfo=UTC)
MARKER = "zq-erase-marker-5be1"
PERSON = Person(
    workspace_id="default",
    identifiers=frozenset(
        {Identifier("user_id", "u-erased"), Identifier("anonymous_id", "a-erased")}
    ),
    profile_ids=frozenset({"use_erased", "use_erased_merged"}),
)


def event(n: int, who: str, partition: int = 0) -> Item:
    """Event n of the partition: of the erased person (marker in properties, traits and
    context, half of them under the merged profile, some anonymous), or of `who`."""
    if who == "erased":
        profile = "use_erased" if n % 2 else "use_erased_merged"
        user, anonymous = ("u-erased", None) if n % 3 else (None, "a-erased")
        marked = msgspec.Raw(msgspec.json.encode({"note": f"{MARKER}-{n}"}))
        message = Message(
            type="identify", message_id=f"p{partition}-{n}", user_id=user,
            anonymous_id=anonymous, traits=marked, properties=marked, context=marked,
            timestamp=NOW, received_at=NOW,
        )  # fmt: skip
    else:
        profile = f"use_{who}"
        message = Message(
            type="track", message_id=f"p{partition}-{n}", user_id=who, event="E",
            properties=msgspec.Raw(b'{"plan":"pro"}'), timestamp=NOW, received_at=NOW,
        )  # fmt: skip
    return Item(
        position(partition, n),
        Envelope(workspace_id="default", source_id="src_a", message=message),
        profile,
    )


def people(n: int) -> str:
    return "erased" if n % 5 == 0 else f"other{n % 7}"


def fill(store: LakeEventStore, partition: int = 0) -> list[Item]:
    """Compacted files (one re-sorted run), batch files, and a batch of only the person's
    rows; the compaction's replaced files stay on disk for their grace period."""
    items = [event(n, people(n), partition) for n in range(MERGE_AFTER * 10)]
    for start in range(0, len(items), 10):
        store.write(items[start : start + 10])
    store.compact()
    only = [event(n, "erased", partition) for n in range(1000, 1004)]
    store.write(only)
    store.write([event(2000, "other1", partition), event(2001, "other2", partition)])
    return [*items, *only, event(2000, "other1", partition), event(2001, "other2", partition)]


def marked_rows(root: Path) -> int:
    """Rows holding the marker or the person's ids in any Parquet file under `root`, listed
    from the directory, not the catalog (retired files count): the files are compressed, so
    their bytes are searched decoded."""
    files = sorted(str(p) for p in root.rglob("*.parquet"))
    if not files:
        return 0
    with duckdb.connect() as connection:
        found = connection.execute(
            f"SELECT count(*) FROM read_parquet({files!r}, union_by_name = true) AS r"
            f" WHERE contains(CAST(r AS VARCHAR), '{MARKER}')"
            " OR contains(CAST(r AS VARCHAR), 'erased')"
        ).fetchall()
    return int(found[0][0])


def raw_bytes_hold(root: Path, needle: bytes) -> bool:
    return any(needle in p.read_bytes() for p in root.rglob("*") if p.is_file())


def others(store: LakeEventStore) -> list[tuple[str, str]]:
    return sorted(
        (row[0], row[1])
        for row in store.query("SELECT message_id, properties FROM events")
        if not str(row[0]).startswith("x")
    )


@pytest.fixture
def lake(tmp_path: Path, engine: Engine) -> Iterator[LakeEventStore]:
    store = LakeEventStore(tmp_path / "lake", engine, compact=False)
    yield store
    store.close()


def test_erasing_a_person_leaves_no_row_of_theirs_in_any_file(
    lake: LakeEventStore, tmp_path: Path
) -> None:
    items = fill(lake)
    root = tmp_path / "lake"
    theirs = {i.envelope.message.message_id for i in items if i.profile_id in PERSON.profile_ids}
    kept = sorted(
        (i.envelope.message.message_id or "", '{"plan":"pro"}')
        for i in items
        if i.profile_id not in PERSON.profile_ids
    )
    before = marked_rows(root)
    assert before > len(theirs)  # the compaction's retired files hold them a second time
    assert raw_bytes_hold(root, MARKER.encode())  # the batch files' snappy keeps literals

    done = erase_person(lake, PERSON)

    assert marked_rows(root) == 0
    assert not raw_bytes_hold(root, MARKER.encode())
    assert set(done.message_ids) == theirs and done.rows_dropped == len(theirs)
    assert done.files_removed >= 1  # the batch of only their rows
    assert others(lake) == kept
    assert lake.count() == len(kept)
    assert lake.events_of(sorted(PERSON.profile_ids), 100) == []
    # Every file on disk is listed: nothing retired or orphaned is left behind.
    listed = {f.path for f in lake.catalog.live()}
    on_disk = {str(p.relative_to(root)) for p in root.rglob("*.parquet")}
    assert on_disk == listed


def test_rewritten_files_are_sorted_with_filters_like_compacted_ones(
    lake: LakeEventStore,
) -> None:
    fill(lake)
    erase_person(lake, PERSON)
    for file in lake.catalog.live():
        if file.rows > 2:  # the last, untouched batch stays as written
            assert file.sorted_by == "profile_id"
    filters = lake.catalog.profile_filters([f.id for f in lake.catalog.live()])
    assert any(v is not None for v in filters.values())
    assert [r["message_id"] for r in lake.events_of(["use_other1"], 3)]  # found through them


def test_a_file_of_only_the_persons_rows_is_removed(lake: LakeEventStore, tmp_path: Path) -> None:
    lake.write([event(n, "erased") for n in range(5)])
    lake.write([event(n, "other1") for n in range(5, 8)])
    assert len(lake.catalog.live()) == 2
    done = erase_person(lake, PERSON)
    assert (done.files_removed, done.files_rewritten, done.rows_dropped) == (1, 0, 5)
    assert len(lake.catalog.live()) == 1
    assert len(list((tmp_path / "lake").rglob("*.parquet"))) == 1


def test_a_reader_that_listed_the_old_files_lists_again(
    lake: LakeEventStore, tmp_path: Path, engine: Engine
) -> None:
    fill(lake)
    reader = LakeEventStore(tmp_path / "lake", engine, writable=False, compact=False)
    try:
        total = reader.query("SELECT count(*) FROM events")[0][0]  # its view lists the files
        erase_person(lake, PERSON)
        # The files its view named are gone: the query fails once inside and lists again.
        rows = reader.query("SELECT count(*), count(*) FILTER (WHERE profile_id LIKE"
                            " 'use_erased%') FROM events")  # fmt: skip
        assert rows[0] == (lake.count(), 0)
        assert rows[0][0] < total
        assert reader.events_of(["use_erased"], 10) == []
    finally:
        reader.close()


def test_rewrite_where_is_generic_and_a_null_is_no_match(lake: LakeEventStore) -> None:
    lake.write([event(n, "other1") for n in range(4)] + [event(6, "erased")])
    done = rewrite_where(lake, lake.catalog.live(), "anonymous_id = 'nobody'")
    assert (done.rows_dropped, done.files_read, done.files_rewritten) == (0, 1, 0)
    # The others' anonymous_id is NULL: kept with `NOT (anonymous_id = …)` they would go too.
    done = rewrite_where(lake, lake.catalog.live(), "anonymous_id = 'a-erased'")
    assert (done.message_ids, done.files_rewritten) == (["p0-6"], 1)
    assert lake.count() == 4
    done = rewrite_where(lake, lake.catalog.live(), "message_id IN ('p0-0', 'p0-1')")
    assert sorted(done.message_ids) == ["p0-0", "p0-1"]
    assert sorted(r[0] for r in lake.query("SELECT message_id FROM events")) == ["p0-2", "p0-3"]


def test_a_rewrite_that_fails_leaves_the_catalog_and_the_disk_as_they_were(
    lake: LakeEventStore, tmp_path: Path
) -> None:
    lake.write([event(n, "erased") for n in range(0, 6)])
    lake.write([event(n, "erased") for n in range(6, 12)])
    first, second = lake.catalog.live()
    (tmp_path / "lake" / second.path).unlink()  # its read fails after the first is copied
    with pytest.raises(duckdb.IOException):
        rewrite_where(lake, [first, second], "anonymous_id = 'a-erased'")
    assert lake.catalog.live() == [first, second]
    assert sorted(p.name for p in (tmp_path / "lake").rglob("*.parquet")) == [
        first.path.split("/")[1]
    ]


def test_erasing_on_s3(endpoint: str, bucket: str, tmp_path: Path) -> None:  # noqa: F811
    catalog = open_state_store(f"sqlite:///{tmp_path / 'state.db'}")
    store = LakeEventStore(S3Files(f"s3://{bucket}/events", endpoint=endpoint), catalog,
                           compact=False)  # fmt: skip
    try:
        fill(store)
        before = len(keys(endpoint, bucket))
        done = erase_person(store, PERSON)
        listed = {f"events/{f.path}" for f in store.catalog.live()}
        assert set(keys(endpoint, bucket)) == listed  # replaced and retired objects deleted
        assert len(listed) < before
        assert done.rows_dropped > 0
        assert store.query("SELECT count(*) FROM events WHERE profile_id LIKE 'use_erased%'"
                           " OR contains(CAST(properties AS VARCHAR), ?)", [MARKER]) == [(0,)]  # fmt: skip
    finally:
        store.close()
        catalog.dispose()
