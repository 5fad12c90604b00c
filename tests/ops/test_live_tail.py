"""The live debugger's tail over a real local log, without a server: it starts at the end,
skips erased records, filters by workspace first, and its sampler caps and spreads."""

from __future__ import annotations

from pathlib import Path

import pytest

from seamline.log.partitions import LocalPartitions
from seamline.log.tombstone import tombstone
from seamline.ops.live_tail import LiveFilter, LiveTail, LocalTailSource, Sampler
from seamline.spec.envelope import Envelope, envelope_encoder
from seamline.spec.messages import Message

pytestmark = pytest.mark.anyio


def record(message_id: str, workspace_id: str = "default") -> bytes:
    message = Message(type="track", event="E", user_id="u", message_id=message_id)
    envelope = Envelope(workspace_id=workspace_id, source_id="src_a", message=message)
    return envelope_encoder.encode(envelope)


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


@pytest.mark.parametrize(
    ("rate", "arriving", "seconds", "most"),
    [
        (20, 1000, 10, 20 * 10 + 10),  # a flood shows `rate` a second (+ the half-second bucket)
        (5, 1000, 10, 5 * 10 + 3),
        (20, 10, 10, 10 * 10),  # fewer than the rate: every message is shown
    ],
)
def test_the_sampler_shows_at_most_rate_a_second(
    rate: int, arriving: int, seconds: int, most: int
) -> None:
    clock = Clock()
    sampler = Sampler(rate, clock)
    shown = 0
    for _ in range(seconds * 10):  # a look every 0.1 s
        clock.now += 0.1
        picked = sampler.pick(arriving // 10)
        assert picked == sorted(set(picked))
        assert all(0 <= i < arriving // 10 for i in picked)
        shown += len(picked)
    assert shown <= most
    assert shown >= min(arriving, rate) * seconds - rate


def test_the_sampler_spreads_its_picks_over_a_batch() -> None:
    clock = Clock()
    sampler = Sampler(20, clock)
    clock.now = 10.0  # a full bucket: 10 tokens
    assert sampler.pick(100) == [0, 10, 20, 30, 40, 50, 60, 70, 80, 90]


def test_a_new_stream_shows_a_first_burst_whole() -> None:
    clock = Clock()
    sampler = Sampler(100, clock)
    clock.now += 0.001  # the messages arrive a moment after the stream opened
    assert sampler.pick(5) == [0, 1, 2, 3, 4]
    assert len(Sampler(100, clock).pick(80)) == 50  # up to half a second's worth


async def test_the_tail_starts_at_the_end_and_skips_erased_records(tmp_path: Path) -> None:
    log = LocalPartitions(tmp_path / "log")
    writer = log.claim(0)
    await writer.append([record("old")])
    tail = LiveTail(
        LocalTailSource(tmp_path / "log"), LiveFilter(workspace_id="default"), Sampler(100)
    )
    await tail.start()
    erased = record("erased")
    await writer.append(
        [record("new"), tombstone(len(erased)), record("theirs", workspace_id="other")]
    )
    shown = []
    for _ in range(50):
        shown += await tail.poll(0.01)
        if shown:
            break
    assert [m["messageId"] for m in shown] == ["new"]
    assert shown[0]["offset"] == 1 and shown[0]["partition"] == 0
    assert (tail.seen, tail.shown) == (1, 1)
    await tail.close()
    await writer.close()
