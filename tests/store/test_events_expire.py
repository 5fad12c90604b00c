"""Retention on the event store: expired rows leave the lake's files (the bytes on disk), the
rest stays, on a catalog in SQLite and in PostgreSQL."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import duckdb
from sqlalchemy import Engine

from seamline.log.base import position
from seamline.privacy.retention import Cutoffs
from seamline.store.events_expire import expire_events
from seamline.store.events_lake import LakeEventStore
from tests.pipeline.test_runner import item

NOW = datetime(2026, 12, 3, 12, 0, tzinfo=UTC)
OLD = NOW - timedelta(days=31)
NEW = NOW - timedelta(days=29)


def on_disk(root: Path) -> list[str]:
    """Every message id in every Parquet file under the lake's directory, listed or not."""
    files = sorted(str(p) for p in root.rglob("*.parquet"))
    if not files:
        return []
    found = duckdb.sql(f"SELECT message_id FROM read_parquet({files!r})").fetchall()
    return sorted(row[0] for row in found)


def stored(store: LakeEventStore) -> list[str]:
    return sorted(row[0] for row in store.query("SELECT message_id FROM events"))


def lake(tmp_path: Path, catalog: Engine | None = None) -> LakeEventStore:
    """Three files: all old (o*), old and new (m*), all new (n*)."""
    store = LakeEventStore(tmp_path / "lake", catalog, compact=False)
    store.write([item(position(0, i), f"o{i}", at=OLD) for i in range(3)])
    store.write([item(position(0, 3), "m-old", at=OLD), item(position(0, 4), "m-new", at=NEW)])
    store.write([item(position(1, i), f"n{i}", at=NEW) for i in range(2)])
    return store


def test_expired_rows_are_gone_from_the_files_and_the_rest_stays(
    tmp_path: Path, engine: Engine
) -> None:
    store = lake(tmp_path, engine)
    assert len(on_disk(store.root)) == 7

    done = expire_events(store, Cutoffs({"default": "30d"}, NOW).by_workspace)

    assert (done.rows, done.files_removed, done.files_rewritten) == (4, 1, 1)
    kept = ["m-new", "n0", "n1"]
    assert stored(store) == kept and store.count() == 3
    assert on_disk(store.root) == kept  # the bytes are gone, not just unlisted
    assert expire_events(store, Cutoffs({"default": "30d"}, NOW).by_workspace).rows == 0
    store.close()


def test_unlimited_and_other_workspaces_keep_everything(tmp_path: Path) -> None:
    store = lake(tmp_path)
    assert expire_events(store, Cutoffs({"default": "unlimited"}, NOW).by_workspace).rows == 0
    assert expire_events(store, Cutoffs({"another": "30d"}, NOW).by_workspace).rows == 0
    assert len(on_disk(store.root)) == 7 and store.count() == 7
    store.close()


def test_only_the_owned_partitions_expire(tmp_path: Path) -> None:
    store = lake(tmp_path)
    store.write([item(position(1, 2), "p1-old", at=OLD)])
    done = expire_events(store, Cutoffs({"default": "30d"}, NOW).by_workspace, owned={1})
    assert done.rows == 1
    assert "p1-old" not in stored(store) and "o0" in stored(store)
    store.close()
