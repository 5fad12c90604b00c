"""The source-function stage over batches, with a scripted runner: raw webhook records become
the messages their function emitted, at positions after the record's, with ids that a replay
makes again; every kind of failure holds the raw record with its reason; other messages pass."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import msgspec
import pytest

from seamline.collect.webhook_record import RawRequest, raw_envelope
from seamline.log.base import position
from seamline.protocols.records import HeldMessage, ViolationRecord
from seamline.sources.stage import RECEIVED_AT_HEADER, RunSourceFunctions
from seamline.spec import Limits
from seamline.spec.envelope import Envelope, Item
from seamline.spec.messages import Message
from seamline.store.webhooks_sql import WebhookSource

NOW = datetime(2026, 12, 3, 12, 0, tzinfo=UTC)


@dataclass
class Outcome:
    status: str
    messages: list[Any] = field(default_factory=list)
    objects: list[Any] = field(default_factory=list)
    error: str | None = None


@dataclass
class Scripted:
    """A runner answering each request by its body (`"ok"`, `"raise"` …)."""

    answers: dict[str, Outcome]
    seen: list[dict[str, Any]] = field(default_factory=list)

    def run(self, requests: list[dict[str, Any]]) -> list[Outcome]:
        self.seen.extend(requests)
        return [self.answers[r["body"]] for r in requests]


def webhook(function: str | None = "fn") -> WebhookSource:
    return WebhookSource(
        source_id="src_hook",
        workspace_id="default",
        token_hash="0" * 64,
        function=function,
        created_at=NOW,
        updated_at=NOW,
    )


def raw_item(body: str, offset: int) -> Item:
    request = RawRequest(
        method="POST", url="http://x/v1/webhooks/[token]", headers={}, query={}, body=body
    )
    return Item(position(0, offset), raw_envelope("default", "src_hook", request, NOW))


def tracked(event: str, **extra: Any) -> dict[str, Any]:
    return {"type": "track", "event": event, "userId": "u1", **extra}


class Held:
    def __init__(self) -> None:
        self.held: list[HeldMessage] = []

    def __call__(self, found: list[ViolationRecord], held: list[HeldMessage]) -> None:
        self.held.extend(held)


def stage(runner: Any, hook: WebhookSource | None = None) -> tuple[RunSourceFunctions, Held]:
    held = Held()
    found = hook or webhook()
    run = RunSourceFunctions(lambda _id: found, lambda _hook: runner, held, Limits())
    return run, held


def test_emitted_messages_replace_the_record_with_ids_a_replay_makes_again() -> None:
    runner = Scripted({"two": Outcome("ok", [tracked("A"), tracked("B", messageId="mine")])})
    other = Item(
        position(0, 3),
        Envelope(
            workspace_id="default",
            source_id="web",
            message=Message(type="track", event="X", user_id="u", message_id="m"),
        ),
    )
    item = raw_item("two", 4)
    run, held = stage(runner)
    first = run([other, item])
    assert first[0] is other
    assert [i.offset for i in first[1:]] == [item.offset, item.offset + 1]
    raw_id = item.envelope.message.message_id
    assert [i.envelope.message.message_id for i in first[1:]] == [f"{raw_id}-0", "mine"]
    assert all(i.envelope.message.received_at == NOW for i in first[1:])
    assert all(i.envelope.source_id == "src_hook" for i in first[1:])
    again = run([item])
    assert [i.envelope.message.message_id for i in again] == [f"{raw_id}-0", "mine"]
    assert held.held == []
    # The function sees when the request was received (a replay checks signatures by it).
    assert runner.seen[0]["headers"][RECEIVED_AT_HEADER] == f"{NOW.timestamp():.3f}"


@pytest.mark.parametrize(
    ("outcome", "reason"),
    [
        (Outcome("error", error="Traceback …\nValueError: no order"), "error: Traceback"),
        (Outcome("timeout", error="on_request took longer than 1.0 s"), "timeout"),
        (Outcome("crashed", error="worker exited with code -9 (SIGKILL)"), "crashed"),
        (Outcome("invalid", error="a call may emit at most 1000"), "invalid"),
        (Outcome("ok", [{"type": "track", "userId": "u1"}]), "emitted an invalid message"),
        (Outcome("ok", ["not an object"]), "emitted an invalid message"),
        (Outcome("ok", objects=[{"collection": "rooms", "id": "1", "properties": {}}]), "rooms"),
    ],
)
def test_a_failure_holds_the_raw_record_with_the_reason(outcome: Outcome, reason: str) -> None:
    run, held = stage(Scripted({"x": outcome, "fine": Outcome("ok", [tracked("Fine")])}))
    bad, good = raw_item("x", 1), raw_item("fine", 2)
    out = run([bad, good])
    assert [i.envelope.message.event for i in out] == ["Fine"]
    [kept] = held.held
    assert kept.disposition == "function_error"
    assert reason in kept.reason
    assert kept.log_offset == bad.offset
    # The raw request is what is held: re-running it runs the function again.
    assert msgspec.json.decode(kept.message)["type"] == "webhook"


def test_users_objects_become_identify_calls() -> None:
    users = {"collection": "users", "id": "u9", "properties": {"plan": "pro"}}
    run, _ = stage(Scripted({"x": Outcome("ok", objects=[users])}))
    [made] = run([raw_item("x", 1)])
    assert made.envelope.message.type == "identify"
    assert made.envelope.message.user_id == "u9"
    assert msgspec.json.decode(made.envelope.message.traits) == {"plan": "pro"}


def test_a_source_without_function_or_runner_holds_its_requests() -> None:
    run, held = stage(None, webhook(function=None))
    assert run([raw_item("x", 1)]) == []
    assert "has no source function" in held.held[0].reason
    failing = RunSourceFunctions(
        lambda _id: webhook(),
        lambda _hook: "source function 'fn' cannot start: boom",
        Held(),
        Limits(),
    )
    assert failing([raw_item("x", 1)]) == []


def test_batches_without_webhook_records_pass_untouched() -> None:
    run, held = stage(Scripted({}))
    batch = [
        Item(
            position(0, 1),
            Envelope(
                workspace_id="default",
                source_id="web",
                message=Message(type="track", event="X", user_id="u", message_id="m"),
            ),
        )
    ]
    assert run(batch) is batch
    assert held.held == []
