"""Segment and RudderStack: messages forwarded through their Tracking APIs' `/v1/batch`, and
deletion through their regulation APIs, against a local sink."""

from __future__ import annotations

import base64
from typing import Any

import pytest

from seamline.destinations.catalog import _tracking_api, rudderstack, segment
from seamline.destinations.definition import Context
from seamline.destinations.errors import CannotDelete, InvalidPayload, PermanentError
from seamline.destinations.http import Http
from seamline.identity.identifiers import Identifier
from seamline.privacy.subject import Person
from tests.destinations.contract import Failure, assert_fails, failure_modes, reset
from tests.destinations.sink import Received, Reply, Sink

WRITE_KEY = "wk_live_0123456789"
_BASIC = "Basic " + base64.b64encode(f"{WRITE_KEY}:".encode()).decode()


def tracking_api(received: Received) -> Reply | None:
    """Segment's and RudderStack's `/v1/batch`: Basic auth with the write key, a `batch` list
    of Spec messages each with a type and an id, 400 for an unreadable body."""
    if received.path.endswith("/regulations"):
        return None
    if received.method != "POST" or received.path != "/v1/batch":
        return Reply(404, {})
    if received.headers.get("authorization") != _BASIC:
        return Reply(401, b"Invalid write key")
    body = received.json()
    if not isinstance(body.get("batch"), list) or not isinstance(body.get("sentAt"), str):
        return Reply(400, {"error": "invalid batch"})
    for message in body["batch"]:
        if message.get("type") not in _tracking_api.TYPES or "writeKey" in message:
            return Reply(400, {"error": "invalid message"})
        if not (message.get("userId") or message.get("anonymousId")):
            return Reply(400, {"error": "userId or anonymousId is required"})
    return None


@pytest.fixture
def tool(server: Sink) -> Sink:
    return reset(server, Reply(200, {"success": True}), tracking_api)


def message(n: int, **extra: Any) -> dict[str, Any]:
    return {
        "type": "track",
        "event": "Order Completed",
        "messageId": f"m{n}",
        "userId": f"u{n}",
        "writeKey": "seamline-source-key",
        "properties": {"total": n},
        **extra,
    }


def _segment(tool: Sink, http: Http, **settings: Any) -> Context:
    return Context(settings={"write_key": WRITE_KEY, "endpoint": tool.url, **settings}, http=http)


def _rudder(tool: Sink, http: Http, **settings: Any) -> Context:
    base = {"write_key": WRITE_KEY, "data_plane_url": tool.url}
    return Context(settings={**base, **settings}, http=http)


def test_segment_forwards_the_messages_unchanged_but_for_the_write_key(
    tool: Sink, http: Http
) -> None:
    outcomes = segment.send_batch(_segment(tool, http), [{"message": message(1)}])

    assert outcomes == [None]
    [got] = tool.received
    [forwarded] = got.json()["batch"]
    assert forwarded == {k: v for k, v in message(1).items() if k != "writeKey"}


def test_a_batch_is_split_under_the_request_limit(tool: Sink, http: Http) -> None:
    limits = _tracking_api.Limits(message=1_000, request=1_000)
    payloads = [{"message": message(n)} for n in range(20)]

    outcomes = _tracking_api.forward(_segment(tool, http), tool.url, payloads, limits)

    assert outcomes == [None] * 20
    sizes = [len(r.body) for r in tool.received]
    assert len(sizes) > 1 and max(sizes) <= 1_000
    ids = [m["messageId"] for r in tool.received for m in r.json()["batch"]]
    assert ids == [f"m{n}" for n in range(20)]


def test_an_oversized_or_untyped_message_is_refused_alone(tool: Sink, http: Http) -> None:
    big = message(2, properties={"blob": "x" * 40_000})
    payloads = [{"message": message(1)}, {"message": big}, {"message": {"type": "nope"}}]

    outcomes = segment.send_batch(_segment(tool, http), payloads)

    assert outcomes[0] is None
    assert isinstance(outcomes[1], InvalidPayload) and "32,000" in str(outcomes[1])
    assert isinstance(outcomes[2], InvalidPayload)
    assert [m["messageId"] for m in tool.received[0].json()["batch"]] == ["m1"]


def test_rudderstack_needs_its_data_plane(tool: Sink, http: Http) -> None:
    ctx = Context(settings={"write_key": WRITE_KEY}, http=http)
    with pytest.raises(PermanentError, match="data_plane_url"):
        rudderstack.send(ctx, {"message": message(1)})


@failure_modes(
    unauthorized=Reply(401, b"Invalid write key"),
    throttled=Reply(429, b"Too many requests", {"Retry-After": "5"}),
    more={"413": Failure(Reply(413, b"Request size too large"), PermanentError)},
)
def test_rudderstack_failures(tool: Sink, http: Http, failure: Failure) -> None:
    ctx = _rudder(tool, http)
    assert_fails(tool, failure, lambda: rudderstack.send(ctx, {"message": message(1)}))


PERSON = Person(
    workspace_id="w",
    identifiers=frozenset(
        {Identifier("user_id", "u1"), Identifier("anonymous_id", "a1"), Identifier("email", "e")}
    ),
    profile_ids=frozenset({"p1"}),
)


def test_segment_deletes_a_person_by_user_id_with_a_regulation(tool: Sink, http: Http) -> None:
    ctx = _segment(tool, http, public_api_token="sgp_token", public_api_endpoint=tool.url)

    segment.delete_person(ctx, PERSON)

    [got] = tool.received
    assert got.path == "/regulations"
    assert got.headers["authorization"] == "Bearer sgp_token"
    assert got.json() == {
        "regulationType": "DELETE_ONLY",
        "subjectType": "USER_ID",
        "subjectIds": ["u1"],
    }


def test_deletion_needs_its_credentials(tool: Sink, http: Http) -> None:
    with pytest.raises(CannotDelete, match="public_api_token"):
        segment.delete_person(_segment(tool, http), PERSON)
    with pytest.raises(CannotDelete, match="personal_access_token"):
        rudderstack.delete_person(_rudder(tool, http), PERSON)
    assert tool.received == []


def test_rudderstack_suppresses_and_deletes_in_the_named_destinations(
    tool: Sink, http: Http
) -> None:
    ctx = _rudder(
        tool,
        http,
        personal_access_token="pat",
        deletion_destination_ids="d1, d2",
        api_endpoint=tool.url,
    )

    rudderstack.delete_person(ctx, PERSON)

    [got] = tool.received
    assert got.path == "/v2/regulations"
    assert got.json() == {
        "regulationType": "suppress_with_delete",
        "destinationIds": ["d1", "d2"],
        "users": [{"userId": "u1"}, {"anonymousId": "a1"}],
    }
