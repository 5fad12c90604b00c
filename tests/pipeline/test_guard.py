"""A stage's failure never stops the pipeline: a record it raises on is held, an outage of a
store is waited out, and a stop while waiting leaves the batch uncommitted in the log."""

from __future__ import annotations

import asyncio
import sqlite3
import threading
from collections.abc import Callable
from pathlib import Path

import pytest
from sqlalchemy.exc import OperationalError

from seamline.log import LocalLog
from seamline.log.base import position
from seamline.pipeline import PipelineRunner
from seamline.pipeline.batch import Batch
from seamline.pipeline.guard import Backoff, Halted, StageGuard, is_systemic
from seamline.pipeline.store_events import StoreEvents
from seamline.spec.envelope import Item
from seamline.store.events_lake import LakeEventStore
from tests.pipeline.test_runner import item, record

pytestmark = pytest.mark.anyio
QUICK = Backoff(first=0.001, longest=0.002)


class Held:
    def __init__(self) -> None:
        self.items: list[tuple[int, str, str]] = []

    def __call__(self, items: list[Item], stage: str, error: BaseException) -> None:
        self.items.extend((i.offset, stage, type(error).__name__) for i in items)


class Poisoned:
    """A stage that raises on the messages named `poison`, like a value a stage can't take."""

    name = "poisoned"

    def __init__(self, *poison: str, error: Callable[[str], Exception] = ValueError) -> None:
        self.poison = set(poison)
        self.error = error
        self.calls = 0

    def __call__(self, batch: Batch) -> Batch:
        self.calls += 1
        for entry in batch:
            if entry.envelope.message.message_id in self.poison:
                raise self.error("Number out of range")
        return batch


class Outage:
    """A stage whose store is down for the first `failures` calls."""

    def __init__(self, failures: int) -> None:
        self.failures = failures
        self.calls = 0

    def __call__(self, batch: Batch) -> Batch:
        self.calls += 1
        if self.calls <= self.failures:
            raise sqlite3.OperationalError("disk I/O error")
        return batch


def ids(batch: Batch) -> list[str | None]:
    return [entry.envelope.message.message_id for entry in batch]


@pytest.mark.parametrize(
    ("_story", "poison", "kept"),
    [
        ("one bad record among many is held alone", ["m3"], ["m0", "m1", "m2", "m4", "m5", "m6"]),
        ("two bad records in different halves", ["m0", "m6"], ["m1", "m2", "m3", "m4", "m5"]),
        ("every record bad: all held, none lost", [f"m{i}" for i in range(7)], []),
    ],
)
def test_records_a_stage_raises_on_are_held_and_the_rest_go_on(
    _story: str, poison: list[str], kept: list[str]
) -> None:
    held = Held()
    guard = StageGuard(held, QUICK)
    out = guard.run(Poisoned(*poison), [item(i, f"m{i}") for i in range(7)])
    assert ids(out) == kept
    assert sorted(offset for offset, _, _ in held.items) == sorted(int(p[1:]) for p in poison)
    assert {(stage, error) for _, stage, error in held.items} <= {("poisoned", "ValueError")}
    assert guard.errors_held == len(poison)


def test_an_outage_is_retried_until_it_passes_and_nothing_is_held() -> None:
    held = Held()
    guard = StageGuard(held, QUICK)
    stage = Outage(failures=2)
    out = guard.run(stage, [item(i, f"m{i}") for i in range(4)])
    assert ids(out) == ["m0", "m1", "m2", "m3"]
    assert held.items == []
    assert stage.calls >= 3
    assert guard.stalled is None  # recovered


def test_a_long_outage_reports_the_stall_while_it_lasts() -> None:
    guard = StageGuard(Held(), Backoff(first=0.05, longest=0.05))
    stage = Outage(failures=10**9)
    seen: list[str | None] = []

    def watch() -> None:
        for _ in range(100):
            if guard.stalled is not None:
                seen.append(guard.stalled)
                break
            threading.Event().wait(0.01)
        guard.halt.set()

    watcher = threading.Thread(target=watch)
    watcher.start()
    with pytest.raises(Halted):
        guard.run(stage, [item(0, "m0"), item(1, "m1")])
    watcher.join()
    assert seen and "OperationalError" in seen[0] and "disk I/O error" in seen[0]


def test_a_systemic_error_tied_to_one_record_is_narrowed_down_after_retries() -> None:
    # A value the database refuses can raise an "operational" error; retrying forever would
    # stop the pipeline as surely as a crash.
    held = Held()
    guard = StageGuard(held, QUICK)
    stage = Poisoned("m2", error=_operational)
    out = guard.run(stage, [item(i, f"m{i}") for i in range(4)])
    assert ids(out) == ["m0", "m1", "m3"]
    assert [offset for offset, _, _ in held.items] == [2]


def _operational(text: str) -> Exception:
    return OperationalError("INSERT …", {}, sqlite3.OperationalError(text))


def test_a_single_record_batch_in_an_outage_is_never_held() -> None:
    guard = StageGuard(Held(), Backoff(first=0.001, longest=0.001, max_retries=8))
    with pytest.raises(sqlite3.OperationalError):
        guard.run(Outage(failures=10**9), [item(0, "m0")])
    assert guard.errors_held == 0


def test_what_counts_as_systemic() -> None:
    assert is_systemic(OSError(28, "No space left on device"))
    assert is_systemic(_operational("database is locked"))
    assert not is_systemic(ValueError("Number out of range"))
    assert not is_systemic(KeyError("x"))


async def test_the_runner_holds_a_poisoned_record_and_commits_past_it(tmp_path: Path) -> None:
    log = LocalLog(tmp_path / "log")
    await log.append([record(f"m{i}") for i in range(6)])
    store = LakeEventStore(tmp_path / "events")
    held = Held()
    runner = PipelineRunner(
        log,
        (Poisoned("m1"),),
        tail=(StoreEvents(store), Poisoned("m4")),
        batch_size=4,
        guard=StageGuard(held, QUICK),
    )
    stop = asyncio.Event()
    stop.set()
    await runner.run(stop)
    assert await log.committed("pipeline") == 6
    assert [offset for offset, _, _ in held.items] == [position(0, 1), position(0, 4)]
    # m4 failed after the event store took it: it is stored, and held for what came after.
    stored = store.query("SELECT message_id FROM events ORDER BY log_offset")
    assert [row[0] for row in stored] == ["m0", "m2", "m3", "m4", "m5"]
    await log.close()
    store.close()


async def test_stopping_during_an_outage_leaves_the_batch_in_the_log(tmp_path: Path) -> None:
    log = LocalLog(tmp_path / "log")
    await log.append([record("m0"), record("m1")])
    guard = StageGuard(Held(), Backoff(first=0.05, longest=0.05))
    runner = PipelineRunner(log, (Outage(failures=10**9),), guard=guard)
    stop = asyncio.Event()
    task = asyncio.create_task(runner.run(stop))
    for _ in range(200):
        if guard.stalled is not None:
            break
        await asyncio.sleep(0.01)
    assert guard.stalled is not None
    stop.set()
    await asyncio.wait_for(task, 5)
    assert await log.committed("pipeline") == 0  # processed again after a restart
    await log.close()
