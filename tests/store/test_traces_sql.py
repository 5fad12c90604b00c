"""Message traces in the state store (SQLite and PostgreSQL): written per batch, rewritten when
a batch is processed again, found by messageId, and pruned past the retention."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Engine

from seamline.pipeline.trace import PRUNE_BATCH, TraceRecorder, WriteTraces
from seamline.spec.envelope import Envelope, Item
from seamline.spec.messages import Message
from seamline.store.traces_sql import SqlTraces, attempt_row, insert_attempts

HOUR = 3600.0


def row(position: int, message_id: str, at: float, **stages: Any) -> dict[str, Any]:
    return {
        "position": position,
        "workspace_id": "default",
        "message_id": message_id,
        "profile_id": None,
        "traced_at": at,
        "body": "{}",
        "stages": {"accepted": {"sourceId": "s"}, **stages},
    }


def test_a_batch_processed_again_rewrites_its_traces(engine: Engine) -> None:
    traces = SqlTraces(engine)
    traces.write([row(1, "m", 100.0), row(2, "m", 100.0, stopped="duplicate")])
    traces.write([row(1, "m", 200.0, held={"disposition": "drop"})])
    found, attempts = traces.find("default", "m")
    assert [(t.position, t.traced_at) for t in found] == [(1, 200.0), (2, 100.0)]
    assert found[0].stages["held"] == {"disposition": "drop"}
    assert attempts == []
    assert traces.find("other", "m") == ([], [])


def test_attempts_are_found_in_order(engine: Engine) -> None:
    traces = SqlTraces(engine)
    with engine.begin() as conn:
        insert_attempts(
            conn,
            [
                attempt_row("default", "m", None, "hook", "s", 1, "retry", 500, "boom", 1.0),
                attempt_row("default", "m", None, "hook", "s", 2, "delivered", None, None, 2.0),
            ],
        )
    _, attempts = traces.find("default", "m")
    assert [(a.attempt, a.outcome, a.status) for a in attempts] == [
        (1, "retry", 500),
        (2, "delivered", None),
    ]


def test_pruning_removes_what_is_older_than_the_retention_in_small_batches(
    engine: Engine,
) -> None:
    traces = SqlTraces(engine)
    now = 1_000_000.0
    old = [row(i, f"old-{i}", now - 73 * HOUR) for i in range(PRUNE_BATCH + 5)]
    traces.write([*old, row(10**6, "new", now - HOUR)])
    with engine.begin() as conn:
        insert_attempts(
            conn, [attempt_row("default", "old-1", None, "h", "s", 1, "retry", 500, "x", 1.0)]
        )
    recorder = TraceRecorder()
    writer = WriteTraces(recorder, traces, retention_hours=72, clock=lambda: now)
    assert writer.prune(now) == PRUNE_BATCH + 1  # a full batch of traces and the attempt
    writer([])  # behind: the next batch prunes again at once
    assert traces.find("default", "old-1") == ([], [])
    assert all(not traces.find("default", f"old-{i}")[0] for i in range(PRUNE_BATCH + 5))
    assert [t.message_id for t in traces.find("default", "new")[0]] == ["new"]
    assert traces.count() == 1


def test_the_recorder_writes_a_batch_and_the_messages_stopped_before_it(engine: Engine) -> None:
    traces = SqlTraces(engine)
    recorder = TraceRecorder()
    items = [
        Item(i, Envelope(workspace_id="default", source_id="s", message=message(f"m{i}")))
        for i in range(3)
    ]
    recorder.accept(items)
    recorder.stop(0, "duplicate")
    recorder.note(1, "traits", {"name": "plan", "value": "pro"})
    WriteTraces(recorder, traces, 72, clock=lambda: 5.0)([items[1]._replace(profile_id="p1")])
    assert traces.find("default", "m0")[0][0].stages["stopped"] == "duplicate"
    written = traces.find("default", "m1")[0][0]
    assert written.profile_id == "p1"
    assert written.stages["traits"] == [{"name": "plan", "value": "pro"}]
    assert traces.find("default", "m2") == ([], [])  # still in flight: the next batch's


def message(message_id: str) -> Message:
    return Message(type="track", event="A", user_id="u", message_id=message_id)
