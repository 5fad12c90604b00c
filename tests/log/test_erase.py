"""Erasing a person from the local log: their records become tombstones of the same length, so
no byte of theirs is left and every other record keeps its offset and file position; readers
(the pipeline runner, a replay, `events tail`/`count`) skip tombstones."""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from seamline.log import tombstone
from seamline.log.base import LogRecord
from seamline.log.erase import LogErasure, erase_from_log, needles_of
from seamline.log.local import LocalLog
from seamline.log.partitions import LocalPartitions
from seamline.pipeline import PipelineRunner
from seamline.pipeline.batch import Batch
from seamline.pipeline.dedup import _key
from seamline.pipeline.runner import decode_record
from seamline.spec.envelope import Envelope, Item
from tests.test_cli import cli, initialised

pytestmark = pytest.mark.anyio

MARKER = "zq-marker-91c4e7"
ALICE = ("alice-user-1", "alice-anon-1", "Alice.Person@Example.com")


def envelope(i: int, who: str, *, rerun: int | None = None) -> bytes:
    """An identify message; Alice's carries the marker in traits, properties and context."""
    alice = who == "alice"
    user_id, anonymous_id, email = ALICE if alice else (f"bob-{i}", f"bob-anon-{i}", "b@x.io")
    marker = MARKER if alice else "nothing"
    message = {
        "type": "identify",
        "messageId": f"{who}-m{i}",
        "userId": user_id,
        "anonymousId": anonymous_id,
        "traits": {"email": email, "note": marker},
        "properties": {"note": marker},
        "context": {"traits": {"note": marker}},
        "receivedAt": f"2026-12-01T10:{i // 60 % 60:02d}:{i % 60:02d}Z",
    }
    body: dict[str, object] = {"workspace_id": "w1", "source_id": "s1", "message": message}
    if rerun is not None:
        body["rerun"] = rerun
    return json.dumps(body).encode()


def is_alice(envelope: Envelope) -> bool:
    message = envelope.message
    return message.user_id == ALICE[0] or message.anonymous_id == ALICE[1]


def every_byte(root: Path) -> bytes:
    return b"".join(p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file())


def read_all(log: LocalPartitions, partition: int) -> list[LogRecord]:
    return log.read_sync(partition, 0, 1 << 30)


async def filled(root: Path, count: int, *, segment_bytes: int = 4096) -> LocalPartitions:
    """Two partitions of small segments, every third message Alice's."""
    log = LocalPartitions(root, fsync=False, segment_bytes=segment_bytes)
    writers = [log.claim(0), log.claim(1)]
    for i in range(count):
        who = "alice" if i % 3 == 0 else "bob"
        await writers[i % 2].append([envelope(i, who)])
    return log


async def test_a_persons_records_become_tombstones_and_their_bytes_are_gone(
    tmp_path: Path,
) -> None:
    root = tmp_path / "log"
    log = await filled(root, 120)
    before = {p: read_all(log, p) for p in (0, 1)}
    sizes = {p: p.stat().st_size for p in root.rglob("*.log")}
    assert MARKER.encode() in every_byte(tmp_path)
    assert len(sizes) > 4  # several segments per partition

    erased = await erase_from_log(log, is_alice, needles=needles_of(ALICE))

    assert erased.records_erased == 40
    assert erased.records_scanned == 120
    assert sorted(m.message_id for m in erased.messages) == sorted(
        f"alice-m{i}" for i in range(0, 120, 3)
    )
    everything = every_byte(tmp_path)
    for secret in (MARKER, *ALICE, ALICE[2].lower(), "alice-m"):
        assert secret.encode() not in everything, secret
    # Same files, same sizes: every record kept its file position.
    assert {p: p.stat().st_size for p in root.rglob("*.log")} == sizes
    for partition in (0, 1):
        after = read_all(log, partition)
        assert [r.offset for r in after] == [r.offset for r in before[partition]]
        for old, new in zip(before[partition], after, strict=True):
            if b"alice" in old.payload:
                assert tombstone.is_tombstone(new.payload)
                assert len(new.payload) == len(old.payload)
            else:
                assert new.payload == old.payload
        assert tombstone.erased_count(log.directory(partition)) == 20
    assert not list(root.rglob(tombstone.JOURNAL))

    again = await erase_from_log(log, is_alice, needles=needles_of(ALICE))
    assert again.records_erased == 0 and again.messages == []
    assert tombstone.erased_count(log.directory(0)) == 20
    log.close_sync()


async def test_only_records_holding_an_identifier_are_decoded(tmp_path: Path) -> None:
    log = await filled(tmp_path / "log", 300, segment_bytes=1 << 20)
    # The email as sent is mixed case; identity stores it lowercased, as the person has it.
    needles = needles_of([ALICE[2].lower()])
    erased = await erase_from_log(log, is_alice, needles=needles)
    assert erased.records_decoded == 100
    assert erased.records_erased == 100
    # Without needles every record is decoded: the same outcome, slower.
    log2 = await filled(tmp_path / "log2", 30, segment_bytes=1 << 20)
    everything = await erase_from_log(log2, is_alice, needles=None)
    assert everything.records_decoded == 30 and everything.records_erased == 10
    log.close_sync()
    log2.close_sync()


async def test_progress_reaches_the_bytes_of_the_log(tmp_path: Path) -> None:
    log = await filled(tmp_path / "log", 60)
    seen: list[tuple[int, int]] = []
    total = sum(p.stat().st_size for p in (tmp_path / "log").rglob("*.log"))
    await erase_from_log(
        log, is_alice, needles=needles_of(ALICE), progress=lambda *a: seen.append(a)
    )
    assert seen[-1] == (total, total)
    assert [done for done, _ in seen] == sorted(done for done, _ in seen)
    log.close_sync()


async def test_the_pipeline_and_a_replay_skip_tombstones(tmp_path: Path) -> None:
    log = await filled(tmp_path / "log", 90)
    await erase_from_log(log, is_alice, needles=needles_of(ALICE))
    processed: list[Item] = []

    def collect(batch: Batch) -> Batch:
        processed.extend(batch)
        return batch

    # A replay is the runner reading every partition from zero under a consumer of its own.
    runner = PipelineRunner(log, [collect], batch_size=7, consumer="replay")
    stop = asyncio.Event()
    stop.set()
    await runner.run(stop)
    assert runner.undecodable == 0
    assert all(item.envelope.message.user_id != ALICE[0] for item in processed)
    assert sorted(item.envelope.message.message_id or "" for item in processed) == sorted(
        f"bob-m{i}" for i in range(90) if i % 3
    )
    assert runner.committed == {0: 45, 1: 45}  # offsets past the tombstones, as before
    log.close_sync()


async def test_a_record_of_several_envelopes_keeps_the_others(tmp_path: Path) -> None:
    log = LocalPartitions(tmp_path / "log", fsync=False)
    writer = log.claim(0)
    mixed = b"[" + b",".join([envelope(1, "bob"), envelope(2, "alice"), envelope(3, "bob")]) + b"]"
    await writer.append([envelope(0, "bob"), mixed, envelope(4, "bob")])
    erased = await erase_from_log(log, is_alice, needles=needles_of(ALICE))
    assert (erased.records_rewritten, erased.records_erased) == (1, 0)
    records = read_all(log, 0)
    assert len(records[1].payload) == len(mixed)
    assert [e.message.message_id for e in decode_record(records[1].payload)] == [
        "bob-m1",
        "bob-m3",
    ]
    assert records[0].payload == envelope(0, "bob") and records[2].payload == envelope(4, "bob")
    assert MARKER.encode() not in every_byte(tmp_path)
    assert tombstone.erased_count(log.directory(0)) == 0  # a record, not a tombstone
    log.close_sync()


APPENDER = """
import sys
from pathlib import Path
from seamline.log.partitions import LocalPartitions
writer = LocalPartitions(Path(sys.argv[1]), fsync=False, segment_bytes=1 << 30).claim(0)
stop = Path(sys.argv[2])
appended = 0
print("ready", flush=True)
while appended < 1000 or not stop.exists():
    writer.submit([b'{"appended": %d, "pad": "%s"}' % (appended, b"x" * (appended % 50))])
    appended += 1
writer.close_sync()
print(appended, flush=True)
"""


async def test_appends_from_another_process_survive_an_erasure(tmp_path: Path) -> None:
    root = tmp_path / "log"
    log = LocalPartitions(root, fsync=False, segment_bytes=1 << 30)
    writer = log.claim(0)
    await writer.append([envelope(i, "alice" if i % 2 else "bob") for i in range(2000)])
    writer.close_sync()
    stop = tmp_path / "stop"
    appender = subprocess.Popen(
        [sys.executable, "-c", APPENDER, str(root), str(stop)],
        stdout=subprocess.PIPE,
        env={**os.environ, "PYTHONPATH": str(Path(__file__).parents[2] / "src")},
    )
    assert appender.stdout is not None and appender.stdout.readline() == b"ready\n"
    try:
        # Three erasures while it appends into the segment they overwrite.
        erasures = [await erase_from_log(log, is_alice, needles=needles_of(ALICE)) for _ in "abc"]
    finally:
        stop.touch()
        appended = int(appender.stdout.readline())
        assert appender.wait() == 0
        appender.stdout.close()
    assert [e.records_erased for e in erasures] == [1000, 0, 0]
    reader = LocalPartitions(root)
    records = read_all(reader, 0)
    assert len(records) == 2000 + appended
    assert [json.loads(r.payload)["appended"] for r in records[2000:]] == list(range(appended))
    assert sum(tombstone.is_tombstone(r.payload) for r in records) == 1000
    assert MARKER.encode() not in every_byte(root)
    # A writer starting now (its recovery reads to the segment's end) keeps everything.
    restarted = LocalPartitions(root)
    assert restarted.claim(0).log.end_offset_sync() == 2000 + appended
    restarted.close_sync()
    reader.close_sync()
    log.close_sync()


async def test_recovery_writes_a_torn_tombstone_again_instead_of_cutting_the_log(
    tmp_path: Path,
) -> None:
    root = tmp_path / "p0"
    log = LocalLog(root, fsync=False)
    await log.append([envelope(i, "alice" if i == 1 else "bob") for i in range(5)])
    await log.close()
    segment = tombstone.segment_path(root, 0)
    second = 8 + len(envelope(0, "bob"))
    length = len(envelope(1, "alice"))
    # An erasure that crashed halfway through its write: journalled, the frame half written.
    (root / tombstone.JOURNAL).write_text(
        json.dumps({"spots": [[0, second, length, True]], "erased": {"0": 1}})
    )
    with segment.open("r+b") as handle:
        handle.seek(second)
        handle.write(tombstone.frame(tombstone.tombstone(length))[: length // 2])
    assert MARKER.encode() in segment.read_bytes()

    reopened = LocalLog(root, fsync=False)  # a collect worker starting again

    records = await reopened.read(0, 10)
    assert [r.offset for r in records] == [0, 1, 2, 3, 4]
    assert tombstone.is_tombstone(records[1].payload)
    assert MARKER.encode() not in segment.read_bytes()
    assert tombstone.erased_count(root) == 1 and not (root / tombstone.JOURNAL).exists()
    await reopened.close()


def test_dedup_keys_are_the_pipelines() -> None:
    erased = LogErasure()
    from seamline.log.erase import erase_record

    erase_record(envelope(5, "alice", rerun=7), is_alice, erased)
    [message] = erased.messages
    [decoded] = decode_record(envelope(5, "alice", rerun=7))
    assert message.dedup_key == _key(Item(0, decoded)) == ("s1", "alice-m5#rerun-7")
    assert erased.message_ids == {"w1": {"alice-m5"}}


async def test_events_tail_and_count_skip_tombstones(tmp_path: Path) -> None:
    data = Path(initialised(tmp_path))
    log = LocalPartitions(data / "log", fsync=False)
    writer = log.claim(0)
    await writer.append([envelope(i, "alice" if i % 3 == 0 else "bob") for i in range(30)])
    writer.close_sync()
    await erase_from_log(log, is_alice, needles=needles_of(ALICE))

    counted = cli("--data-dir", str(data), "events", "count", "--json")
    assert counted.returncode == 0, counted.stderr
    assert json.loads(counted.stdout)["accepted"] == 20
    tailed = cli("--data-dir", str(data), "events", "tail", "--from-start")
    assert tailed.returncode == 0, tailed.stderr
    lines = [json.loads(line) for line in tailed.stdout.splitlines()]
    assert [line["messageId"] for line in lines] == [f"bob-m{i}" for i in range(30) if i % 3]
    last = cli("--data-dir", str(data), "events", "tail", "-n", "3")
    assert [json.loads(line)["messageId"] for line in last.stdout.splitlines()] == [
        "bob-m26",
        "bob-m28",
        "bob-m29",
    ]
    log.close_sync()


async def test_the_erasures_files_are_private_whatever_the_umask(tmp_path: Path) -> None:
    log = await filled(tmp_path / "log", 9)
    old = os.umask(0)
    try:
        await erase_from_log(log, is_alice, needles=needles_of(ALICE))
    finally:
        os.umask(old)
    made = [log.directory(0) / tombstone.LOCK, log.directory(0) / tombstone.COUNTS]
    assert {oct(path.stat().st_mode & 0o777) for path in made} == {"0o600"}
    log.close_sync()


@pytest.mark.parametrize(
    ("written", "after"),
    [
        ("half", "tombstone"),  # torn mid-write: nothing whole is left, so it is erased
        ("nothing", "as before"),  # never written: left for the erasure run again to find
        ("whole", "kept messages"),  # written: stays
    ],
)
def test_recovery_of_a_record_rewritten_with_the_messages_it_keeps(
    tmp_path: Path, written: str, after: str
) -> None:
    root = tmp_path / "p0"
    mixed = b"[" + envelope(1, "bob") + b"," + envelope(2, "alice") + b"]"
    kept = b"[" + envelope(1, "bob") + b"]"
    kept += b" " * (len(mixed) - len(kept))
    log = LocalLog(root, fsync=False)
    log.submit([envelope(0, "bob"), mixed, envelope(3, "bob")]).result()
    log.close_sync()
    at = 8 + len(envelope(0, "bob"))
    (root / tombstone.JOURNAL).write_text(
        json.dumps({"spots": [[0, at, len(mixed), False]], "erased": {}})
    )
    new_frame = tombstone.frame(kept)
    with tombstone.segment_path(root, 0).open("r+b") as handle:
        handle.seek(at)
        handle.write(
            {"half": new_frame[: len(new_frame) // 2], "whole": new_frame}.get(written, b"")
        )

    tombstone.redo_pending(root)

    reader = LocalLog(root, writable=False)
    record = reader.read_sync(1, 1)[0].payload
    reader.close_sync()
    expected = {"tombstone": tombstone.tombstone(len(mixed)), "as before": mixed}
    assert record == expected.get(after, kept)
    assert not (root / tombstone.JOURNAL).exists()
