"""The online rebuild's parts without a server: the shadow replays the live log up to bounds
into its own stores, and the swap puts them in place in one transaction — or, when it fails,
leaves the live state store and the live event files as they were."""

from __future__ import annotations

import asyncio
import sqlite3
from datetime import UTC, datetime
from pathlib import Path

import pytest

from seamline.app import Seamline, bootstrap
from seamline.config import Settings
from seamline.data_dir import DataDir
from seamline.log.partitions import LocalPartitions
from seamline.ops.rebuild import DERIVED_TABLES, SWAPPED_TABLES
from seamline.ops.rebuild_online import committed_offsets
from seamline.ops.rebuild_shadow import BoundedPartitions, ShadowPipeline, copy_state, shadow_root
from seamline.ops.rebuild_swap import swap
from seamline.spec import Envelope, Message
from seamline.spec.envelope import envelope_encoder

NOW = datetime(2026, 6, 1, tzinfo=UTC)
STALE = "pro_not_in_the_log"


def _served(tmp_path: Path, count: int) -> Settings:
    """A data directory whose pipeline processed `count` identifies (u0, u1 …)."""
    settings = Settings(data_dir=tmp_path / "data")
    source = bootstrap(settings)

    async def fill() -> None:
        app = Seamline(settings)
        await app.start()
        await app.log.append(
            [
                envelope_encoder.encode(
                    Envelope(
                        workspace_id="default",
                        source_id=source.id,
                        message=Message(
                            type="identify",
                            message_id=f"m{i}",
                            user_id=f"u{i}",
                            received_at=NOW,
                            timestamp=NOW,
                        ),
                    )
                )
                for i in range(count)
            ]
        )
        await app.stop()  # drains the log

    asyncio.run(fill())
    return settings


def _rows(database: Path, sql: str) -> list[tuple[object, ...]]:
    connection = sqlite3.connect(database)
    try:
        return connection.execute(sql).fetchall()
    finally:
        connection.close()


def _add_stale_profile(live: DataDir) -> None:
    """A derived row no log record explains: a rebuild drops it."""
    connection = sqlite3.connect(live.state_db)
    try:
        with connection:
            connection.execute(
                "INSERT INTO profiles (id, workspace_id, canonical_id, created_at)"
                " VALUES (?, 'default', ?, '2026-01-01 00:00:00')",
                (STALE, STALE),
            )
    finally:
        connection.close()


def _build_shadow(settings: Settings) -> Path:
    live = DataDir(settings.data_dir)
    root = shadow_root(live)
    copy_state(live, root, tuple(t.name for t in DERIVED_TABLES))

    async def run() -> None:
        shadow = ShadowPipeline(settings, root, committed_offsets(live))
        shadow.start(max_retries=1)
        try:
            while shadow.done() < shadow.total():
                shadow.check()
                await asyncio.sleep(0.05)
        finally:
            await shadow.close()

    asyncio.run(run())
    return root


def _live_files(live: DataDir) -> set[str]:
    return {
        str(row[0])
        for row in _rows(live.state_db, "SELECT path FROM event_files WHERE retired_at IS NULL")
    }


def _on_disk(live: DataDir) -> set[str]:
    return {str(p.relative_to(live.events)) for p in live.events.rglob("*.parquet")}


def test_the_swap_puts_the_replayed_state_and_event_files_in_place(tmp_path: Path) -> None:
    settings = _served(tmp_path, 5)
    live = DataDir(settings.data_dir)
    _add_stale_profile(live)
    profiles = set(_rows(live.state_db, "SELECT id FROM profiles WHERE id != 'pro_not_in_the_log'"))
    old_files = _live_files(live)

    root = _build_shadow(settings)
    assert _live_files(live) == old_files  # the shadow wrote nothing live
    assert swap(live, root, SWAPPED_TABLES) >= 1

    # The stale row is gone; the replayed profiles are the ones the log made before.
    assert set(_rows(live.state_db, "SELECT id FROM profiles")) == profiles
    new_files = _live_files(live)
    assert new_files and not new_files & old_files
    # Listed files are in the live lake; the replaced ones stay for the grace period.
    assert new_files | old_files <= _on_disk(live)
    [(stored,)] = _rows(live.state_db, "SELECT sum(rows) FROM event_files WHERE retired_at IS NULL")
    assert stored == 5


@pytest.mark.parametrize("how", ["a table the shadow lacks", "an event file already live"])
def test_a_swap_that_fails_leaves_the_live_state_as_it_was(tmp_path: Path, how: str) -> None:
    settings = _served(tmp_path, 5)
    live = DataDir(settings.data_dir)
    _add_stale_profile(live)
    root = _build_shadow(settings)
    if how == "a table the shadow lacks":
        _rows(root / "state.db", "DROP TABLE merges")
    else:
        [path] = [str(r[0]) for r in _rows(root / "state.db", "SELECT path FROM event_files")][:1]
        (live.events / path).parent.mkdir(parents=True, exist_ok=True)
        (live.events / path).write_bytes(b"")
    files, on_disk = _live_files(live), _on_disk(live)
    profiles = _rows(live.state_db, "SELECT id FROM profiles ORDER BY id")

    with pytest.raises((sqlite3.OperationalError, FileExistsError)):
        swap(live, root, SWAPPED_TABLES)

    assert _rows(live.state_db, "SELECT id FROM profiles ORDER BY id") == profiles
    assert (STALE,) in profiles
    assert _live_files(live) == files
    assert _on_disk(live) == on_disk  # the files moved before the failure are gone again


def test_the_shadow_reads_the_live_log_only_up_to_its_bounds(tmp_path: Path) -> None:
    settings = _served(tmp_path, 5)
    live = DataDir(settings.data_dir)
    bounded = BoundedPartitions(live.log, {0: 3})
    try:
        assert [r.offset for r in bounded.read_sync(0, 0, 100)] == [0, 1, 2]
        assert bounded.read_sync(0, 3, 100) == []
        assert bounded.end_offset_sync(0) == 3
        asyncio.run(bounded.commit("pipeline", 0, 3))
        bounded.bounds = {0: 5}
        assert [r.offset for r in bounded.read_sync(0, 3, 100)] == [3, 4]
    finally:
        bounded.close_sync()
    # Its commits stay its own: the live pipeline's offset is untouched.
    log = LocalPartitions(live.log)
    try:
        assert log.committed_sync("pipeline", 0) == 5
    finally:
        log.close_sync()
