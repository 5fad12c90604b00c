"""The webhook destination against a local sink: the JSON bodies and signatures it sends, batch
mode, and how the receiver's answers become retry-or-not errors."""

from __future__ import annotations

import hashlib
import hmac
import json
from typing import Any

import pytest

from seamline.destinations.catalog.webhook import DESTINATION, send, send_batch
from seamline.destinations.definition import Context
from seamline.destinations.errors import InvalidPayload, PermanentError
from seamline.destinations.http import Http
from tests.destinations.contract import Failure, assert_fails, failure_modes, reset
from tests.destinations.sink import Received, Reply, Sink

SECRET = "whsec-test"
EVENT = {"type": "track", "event": "Signed Up", "userId": "u1", "properties": {"plan": "pro"}}


def receiver(received: Received) -> Reply | None:
    """What a receiver verifying Segment-style signatures checks."""
    if received.headers.get("content-type") != "application/json":
        return Reply(415, {"error": "JSON only"})
    if "x-signature" in received.headers:
        sha1 = hmac.new(SECRET.encode(), received.body, hashlib.sha1).hexdigest()
        sha256 = hmac.new(SECRET.encode(), received.body, hashlib.sha256).hexdigest()
        if (received.headers["x-signature"], received.headers.get("x-signature-256")) != (
            sha1,
            sha256,
        ):
            return Reply(401, {"error": "bad signature"})
    return None


@pytest.fixture
def tool(server: Sink) -> Sink:
    return reset(server, Reply(), receiver)


def context(http: Http, **settings: Any) -> Context:
    return Context(settings=settings, http=http)


def payload(url: str, data: Any = EVENT, **fields: Any) -> dict[str, Any]:
    return {"url": url, "method": "POST", "data": data, **fields}


def test_one_event_is_posted_as_its_json_with_both_signatures(tool: Sink, http: Http) -> None:
    send(
        context(http, shared_secret=SECRET),
        payload(f"{tool.url}/hooks/in", headers={"X-Team": "growth"}),
    )

    [got] = tool.received
    assert (got.method, got.path) == ("POST", "/hooks/in")
    assert got.body == json.dumps(EVENT, separators=(",", ":")).encode()
    assert got.headers["x-team"] == "growth"
    assert got.headers["x-signature"] == hmac.new(SECRET.encode(), got.body, "sha1").hexdigest()
    assert (
        got.headers["x-signature-256"] == hmac.new(SECRET.encode(), got.body, "sha256").hexdigest()
    )


def test_without_a_secret_nothing_is_signed_and_put_or_patch_are_used(
    tool: Sink, http: Http
) -> None:
    send(context(http), payload(f"{tool.url}/a", method="PUT", data={"é": 1}))
    send(context(http), payload(f"{tool.url}/b", method="patch"))

    assert [(r.method, r.path) for r in tool.received] == [("PUT", "/a"), ("PATCH", "/b")]
    assert tool.received[0].body == '{"é":1}'.encode()
    assert all("x-signature" not in r.headers for r in tool.received)


def test_batch_mode_sends_arrays_of_at_most_batch_size(tool: Sink, http: Http) -> None:
    events = [{**EVENT, "messageId": f"m{i}"} for i in range(5)]
    send_batch(
        context(http, shared_secret=SECRET),
        [
            payload(f"{tool.url}/bulk", event, enable_batching=True, batch_size=2)
            for event in events
        ],
    )

    assert [r.json() for r in tool.received] == [events[0:2], events[2:4], events[4:5]]
    assert all(r.path == "/bulk" for r in tool.received)  # and each signature checked


def test_a_batch_is_split_by_url_and_sent_one_by_one_when_batching_is_off(
    tool: Sink, http: Http
) -> None:
    a, b, c = ({**EVENT, "messageId": m} for m in "abc")
    send_batch(
        context(http),
        [
            payload(f"{tool.url}/x", a, enable_batching=True),
            payload(f"{tool.url}/y", b, enable_batching=True),
            payload(f"{tool.url}/x", c, enable_batching=True),
        ],
    )
    assert [(r.path, r.json()) for r in tool.received] == [("/x", [a, c]), ("/y", [b])]

    tool.received.clear()
    send_batch(context(http), [payload(f"{tool.url}/x", a), payload(f"{tool.url}/x", b)])
    assert [r.json() for r in tool.received] == [a, b]


@failure_modes(
    unauthorized=Reply(401, {"error": "unauthorized"}),
    more={"404": Failure(Reply(404), PermanentError)},
    throttled=Reply(429, headers={"Retry-After": "7"}),
)
def test_receiver_answers_become_retry_or_not(tool: Sink, http: Http, failure: Failure) -> None:
    assert_fails(tool, failure, lambda: send(context(http), payload(f"{tool.url}/in")))


@pytest.mark.parametrize(
    "fields",
    [
        {"url": ""},
        {"method": "GET"},
        {"headers": {"X-Name": "Zoë"}},
        {"headers": "X-Team: growth"},
        {"enable_batching": True, "batch_size": 0},
    ],
    ids=["no url", "GET", "non-ASCII header", "headers not an object", "batch size 0"],
)
def test_invalid_payloads_send_nothing(tool: Sink, http: Http, fields: dict[str, Any]) -> None:
    good = payload(f"{tool.url}/in")
    bad = {**good, **fields}
    with pytest.raises(InvalidPayload):
        send_batch(context(http), [good, bad])
    assert tool.received == []


def test_definition() -> None:
    action = DESTINATION.actions["send"]
    assert action.fields["data"].default == {"@path": "$."}
    assert action.fields["method"].choices == ("POST", "PUT", "PATCH")
    assert action.max_batch == 4_000
    assert DESTINATION.secret_settings() == {"shared_secret"}
