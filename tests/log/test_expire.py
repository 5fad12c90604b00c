"""Retention on the embedded log: whole expired segments go once committed, offsets stay."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

from seamline.log import LocalLog
from seamline.log.expire import expire_partition
from seamline.privacy.retention import Cutoffs
from seamline.spec.envelope import Envelope, envelope_encoder
from seamline.spec.messages import Message

NOW = datetime(2026, 12, 3, 12, 0, tzinfo=UTC)
OLD = NOW - timedelta(days=45)
NEW = NOW - timedelta(days=2)


def record(message_id: str, at: datetime, workspace: str = "default") -> bytes:
    message = Message(type="track", message_id=message_id, event="E", received_at=at)
    return envelope_encoder.encode(Envelope(workspace_id=workspace, source_id="s", message=message))


def segmented(directory: Path, payloads: list[bytes]) -> LocalLog:
    """A log with one record per segment (every append rolls to a new one)."""
    log = LocalLog(directory, fsync=False, segment_bytes=64)
    for payload in payloads:
        log.submit([payload]).result()
    return log


def segments(directory: Path) -> list[int]:
    return sorted(int(p.stem) for p in directory.glob("*.log"))


def thirty_days(workspaces: dict[str, str] | None = None) -> Cutoffs:
    return Cutoffs(workspaces or {"default": "30d"}, NOW)


def ids(log: LocalLog, offset: int = 0) -> list[tuple[int, str]]:
    return [
        (r.offset, r.payload.decode().split('"messageId":"')[1][:2])
        for r in log.read_sync(offset, 100)
    ]


def test_committed_expired_segments_go_and_offsets_stay(tmp_path: Path) -> None:
    log = segmented(
        tmp_path, [record(f"o{i}", OLD) for i in range(3)] + [record("n0", NEW), record("n1", NEW)]
    )
    assert segments(tmp_path) == [0, 1, 2, 3, 4]
    reader = LocalLog(tmp_path, writable=False)
    assert len(reader.read_sync(0, 100)) == 5  # opened its files before the expiry

    dropped = expire_partition(tmp_path, 5, thirty_days().expired)

    assert (dropped.segments, dropped.records) == (3, 3)
    assert segments(tmp_path) == [3, 4]
    assert b"o0" not in b"".join(p.read_bytes() for p in tmp_path.glob("*.log"))
    # The writer's and another process's reader: asked from 0, they read on from offset 3.
    assert ids(log) == [(3, "n0"), (4, "n1")]
    assert ids(reader) == [(3, "n0"), (4, "n1")]
    assert reader.has(0) and not reader.has(5)
    assert log.submit([record("n2", NEW)]).result() == 5
    log.close_sync()
    reopened = LocalLog(tmp_path)
    assert reopened.end_offset_sync() == 6 and ids(reopened, 1) == [(3, "n0"), (4, "n1"), (5, "n2")]
    reopened.close_sync()
    reader.close_sync()


def test_an_uncommitted_old_segment_is_kept(tmp_path: Path) -> None:
    log = segmented(tmp_path, [record(f"o{i}", OLD) for i in range(4)])
    # The pipeline committed offset 2: segments 0 and 1 may go, 2 not (nor 3, the active one).
    dropped = expire_partition(tmp_path, 2, thirty_days().expired)
    assert (dropped.segments, dropped.records) == (2, 2)
    assert segments(tmp_path) == [2, 3]
    assert ids(log) == [(2, "o2"), (3, "o3")]
    log.close_sync()


def test_the_segment_being_appended_to_is_never_deleted(tmp_path: Path) -> None:
    log = segmented(tmp_path, [record("o0", OLD), record("o1", OLD)])
    assert expire_partition(tmp_path, 2, thirty_days().expired).segments == 1
    assert segments(tmp_path) == [1]
    assert log.end_offset_sync() == 2
    log.close_sync()


def test_a_segment_with_one_young_record_stops_the_expiry(tmp_path: Path) -> None:
    log = LocalLog(tmp_path, fsync=False, segment_bytes=64)
    log.submit([record("o0", OLD), record("n0", NEW)]).result()  # one segment, mixed
    log.submit([record("o1", OLD)]).result()
    log.submit([record("o2", OLD)]).result()
    assert len(segments(tmp_path)) == 3
    assert expire_partition(tmp_path, 4, thirty_days().expired).segments == 0
    log.close_sync()


def test_each_workspace_expires_by_its_own_setting(tmp_path: Path) -> None:
    log = segmented(
        tmp_path, [record("a0", OLD, "a"), record("b0", OLD, "b"), record("a1", NEW, "a")]
    )
    # a keeps 30 days, b is unlimited: b's old record holds its segment and all after it.
    dropped = expire_partition(tmp_path, 3, thirty_days({"a": "30d"}).expired)
    assert dropped.segments == 1
    assert ids(log) == [(1, "b0"), (2, "a1")]
    assert (
        expire_partition(tmp_path, 3, thirty_days({"a": "30d", "b": "30d"}).expired).segments == 1
    )
    log.close_sync()


def test_unlimited_expires_nothing(tmp_path: Path) -> None:
    log = segmented(tmp_path, [record(f"o{i}", OLD - timedelta(days=3000)) for i in range(3)])
    cutoffs = Cutoffs({"default": "unlimited"}, NOW)
    assert not cutoffs
    assert expire_partition(tmp_path, 3, cutoffs.expired).segments == 0
    assert segments(tmp_path) == [0, 1, 2]
    log.close_sync()


def test_erased_records_count_as_expired(tmp_path: Path) -> None:
    # An erasure overwrites a record with a tombstone (a payload starting with NUL).
    log = segmented(
        tmp_path, [record("o0", OLD), b"\x00seamline:erased\x00\x00", record("n0", NEW)]
    )
    assert expire_partition(tmp_path, 3, thirty_days().expired).segments == 2
    assert ids(log) == [(2, "n0")]
    log.close_sync()
