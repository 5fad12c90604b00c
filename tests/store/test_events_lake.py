"""The event store as Parquet files listed in the state store: many readers, one writer per
partition, compaction, and cutting back what a partition wrote past its commit."""

from __future__ import annotations

import multiprocessing
from datetime import timedelta
from pathlib import Path

import pyarrow as pa

from seamline.log.base import position
from seamline.store.events_lake import MERGE_AFTER, LakeEventStore
from seamline.store.state import open_state_store
from tests.pipeline.test_runner import item


def ids(store: LakeEventStore) -> list[str]:
    return [row[0] for row in store.query("SELECT message_id FROM events ORDER BY log_offset")]


def test_rows_written_per_partition_are_read_back_in_log_order(tmp_path: Path) -> None:
    store = LakeEventStore(tmp_path / "lake", compact=False)
    assert store.count() == 0 and ids(store) == []  # an empty store still has the view
    store.write([item(position(1, 0), "b0"), item(position(0, 0), "a0")])
    store.write([item(position(0, 1), "a1")])
    assert ids(store) == ["a0", "a1", "b0"]
    assert store.count() == 3
    assert {f.partition for f in store.catalog.live()} == {0, 1}
    store.close()


def test_cutting_back_a_partition_leaves_the_others_and_writes_go_on(tmp_path: Path) -> None:
    store = LakeEventStore(tmp_path / "lake", compact=False)
    store.write([item(position(0, i), f"a{i}") for i in range(4)])  # one file, 0..3
    store.write([item(position(1, 0), "b0")])
    # Resume of partition 0 at offset 2: the file straddling it is rewritten without 2 and 3.
    dropped = store.truncate_from(position(0, 2), position(1, 0))
    assert dropped == 2
    assert ids(store) == ["a0", "a1", "b0"]
    # A whole file dropped, then writing again on the same connection (DuckDB refuses a
    # connection with a result left open).
    store.truncate_from(position(0, 0), position(1, 0))
    store.write([item(position(0, 0), "again")])
    assert ids(store) == ["again", "b0"]
    store.close()


def test_writes_go_on_while_compaction_merges_files(tmp_path: Path) -> None:
    store = LakeEventStore(tmp_path / "lake")  # with its compactor thread
    for n in range(MERGE_AFTER * 6):
        store.write([item(position(0, n), f"m{n}")])
    store.compact()
    assert store.count() == MERGE_AFTER * 6
    assert ids(store) == [f"m{n}" for n in range(MERGE_AFTER * 6)]
    assert len(store.catalog.live()) < MERGE_AFTER  # merged
    store.close()


def test_replaced_files_stay_for_the_grace_period_then_go(tmp_path: Path) -> None:
    store = LakeEventStore(tmp_path / "lake", compact=False)
    for n in range(MERGE_AFTER):
        store.write([item(position(0, n), f"m{n}")])
    assert store.compact() == MERGE_AFTER
    files = list((tmp_path / "lake" / "0").glob("*.parquet"))
    assert len(files) == MERGE_AFTER + 1  # a reader that listed the old ones may still read
    assert store.collect_garbage() == 0  # within the grace period
    assert store.collect_garbage(grace=timedelta(0)) == MERGE_AFTER
    assert len(list((tmp_path / "lake" / "0").glob("*.parquet"))) == 1
    assert store.count() == MERGE_AFTER
    store.close()


def test_compaction_rewrites_only_the_partitions_this_process_owns(tmp_path: Path) -> None:
    store = LakeEventStore(tmp_path / "lake", compact=False, owned=lambda: {1})
    for n in range(MERGE_AFTER):
        store.write([item(position(0, n), f"a{n}"), item(position(1, n), f"b{n}")])
    store.compact()
    live = store.catalog.live()
    assert len([f for f in live if f.partition == 0]) == MERGE_AFTER
    assert len([f for f in live if f.partition == 1]) == 1
    store.close()


def _count_in_another_process(root: str, catalog: str, out: multiprocessing.Queue[int]) -> None:
    engine = open_state_store(catalog)
    reader = LakeEventStore(Path(root), engine, writable=False)
    out.put(int(reader.query("SELECT count(*) FROM events")[0][0]))
    reader.close()
    engine.dispose()


def test_another_process_reads_while_the_writer_holds_the_store(tmp_path: Path) -> None:
    catalog = f"sqlite:///{tmp_path / 'state.db'}"
    engine = open_state_store(catalog)
    writer = LakeEventStore(tmp_path / "lake", engine, compact=False)
    writer.write([item(position(0, n), f"m{n}") for n in range(7)])
    out: multiprocessing.Queue[int] = multiprocessing.get_context("spawn").Queue()
    child = multiprocessing.get_context("spawn").Process(
        target=_count_in_another_process, args=(str(tmp_path / "lake"), catalog, out)
    )
    child.start()
    child.join(60)
    assert out.get(timeout=5) == 7
    writer.close()
    engine.dispose()


def test_loaded_rows_are_listed_like_written_ones(tmp_path: Path) -> None:
    store = LakeEventStore(tmp_path / "lake", compact=False)
    store.write([item(position(0, 0), "w")])
    other = store.query("SELECT * FROM events")
    names = [row[0] for row in store.query("DESCRIBE events")]
    row = dict(zip(names, other[0], strict=True))
    row["log_offset"], row["message_id"] = position(5, 0), "loaded"
    table = pa.Table.from_pylist([row])
    assert store.load(table) == 1
    assert ids(store) == ["w", "loaded"]
    store.close()
