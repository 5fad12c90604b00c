"""Iterable against a local sink that enforces its API reference: the `Api-Key` header, an
email or userId on every user, event and subscriber, and the bulk endpoints' shapes."""

from __future__ import annotations

from typing import Any

import pytest

from seamline.destinations import registry
from seamline.destinations.catalog import iterable
from seamline.destinations.definition import Context
from seamline.destinations.errors import InvalidPayload, PermanentError
from seamline.destinations.http import Http
from seamline.identity.identifiers import Identifier
from seamline.privacy.subject import Person
from tests.destinations.contract import Failure, assert_fails, failure_modes, reset
from tests.destinations.payloads import default_payload
from tests.destinations.sink import Received, Reply, Sink

KEY = "iterable-server-key"
ITEMS = {
    "/api/users/bulkUpdate": "users",
    "/api/events/trackBulk": "events",
    "/api/lists/subscribe": "subscribers",
    "/api/lists/unsubscribe": "subscribers",
}
SUCCESS = {"msg": "", "code": "Success", "params": None}


def documented_shape(got: Received) -> Reply | None:
    """Iterable's answer to a request that breaks its reference, else None."""
    if got.headers.get("api-key") != KEY:
        return Reply(401, {"msg": "Invalid API key", "code": "BadApiKey"})
    if got.method in ("GET", "DELETE"):
        if got.path == "/api/users/byUserId/ghost":
            return Reply(404, {"msg": "User not found", "code": "NotFound"})
        return None
    body = got.json()
    items = [body] if got.path in ("/api/users/update", "/api/events/track") else None
    if got.path in ITEMS:
        items = body.get(ITEMS[got.path]) or []
        if not 1 <= len(items) <= 1_000:
            return Reply(400, {"msg": "too many", "code": "BadParams"})
        if "lists" in got.path and not isinstance(body.get("listId"), int):
            return Reply(400, {"msg": "listId", "code": "BadParams"})
    if items is None:
        return Reply(404, {"msg": "no route", "code": "NotFound"})
    if not all(item.get("email") or item.get("userId") for item in items):
        return Reply(400, {"msg": "email or userId", "code": "BadParams"})
    if "events" in got.path and not all(item.get("eventName") for item in items):
        return Reply(400, {"msg": "eventName", "code": "BadParams"})
    return None


@pytest.fixture
def tool(server: Sink) -> Sink:
    return reset(server, Reply(200, SUCCESS), documented_shape)


@pytest.fixture
def ctx(tool: Sink, http: Http) -> Context:
    return Context({"api_key": KEY, "endpoint": tool.url}, http)


def mapped(action: str, event: dict[str, Any], **literals: Any) -> dict[str, Any]:
    return default_payload(iterable.DESTINATION.actions[action], event, **literals)


def test_the_catalog_finds_iterable() -> None:
    assert registry.load("iterable") is iterable.DESTINATION


def test_the_track_preset_turns_a_segment_event_into_an_iterable_event(
    ctx: Context, tool: Sink
) -> None:
    event = {
        "type": "track",
        "event": "Trial Started",
        "userId": "user-1",
        "messageId": "msg-1",
        "timestamp": "2024-05-01T10:00:00.000Z",
        "properties": {"plan": "pro", "ends_at": "2024-05-15T10:00:00Z", "day": "2024-05-15"},
        "context": {"traits": {"email": "ada@example.com"}},
    }

    iterable.track_event(ctx, mapped("track_event", event))

    [got] = tool.received
    assert (got.method, got.path) == ("POST", "/api/events/track")
    assert got.json() == {
        "email": "ada@example.com",
        "userId": "user-1",
        "eventName": "Trial Started",
        "id": "msg-1",
        "createdAt": 1714557600,
        "dataFields": {"plan": "pro", "ends_at": "2024-05-15 10:00:00 +00:00", "day": "2024-05-15"},
    }


def test_an_identify_updates_the_user_with_its_traits(ctx: Context, tool: Sink) -> None:
    identify = {
        "type": "identify",
        "userId": "user-1",
        "traits": {"email": "a@x.io", "phone": "+15005550006"},
    }

    iterable.update_user(ctx, mapped("update_user", identify))

    [got] = tool.received
    assert got.json() == {
        "email": "a@x.io",
        "userId": "user-1",
        "dataFields": {"email": "a@x.io", "phone": "+15005550006", "phoneNumber": "+15005550006"},
        "mergeNestedObjects": False,
        "preferUserId": True,
    }


def test_batches_go_to_the_bulk_endpoints_1000_per_request(ctx: Context, tool: Sink) -> None:
    iterable.update_users(ctx, [{"userId": f"u{n}"} for n in range(1_001)])
    iterable.track_events(ctx, [{"userId": "u1", "eventName": "Viewed"}] * 3)

    assert [
        (got.path, len(next(iter(v for v in got.json().values())))) for got in tool.received
    ] == [
        ("/api/users/bulkUpdate", 1_000),
        ("/api/users/bulkUpdate", 1),
        ("/api/events/trackBulk", 3),
    ]


def test_audience_entered_and_exited_subscribe_and_unsubscribe(ctx: Context, tool: Sink) -> None:
    entered = {
        "type": "track",
        "event": "Audience Entered",
        "userId": "user-1",
        "context": {"traits": {"email": "a@x.io"}},
    }
    iterable.subscribe(ctx, mapped("subscribe_to_list", entered, listId=42))
    iterable.unsubscribe(
        ctx, mapped("unsubscribe_from_list", entered | {"event": "Audience Exited"}, listId=42)
    )

    subscribed, unsubscribed = tool.received
    assert subscribed.path == "/api/lists/subscribe"
    assert subscribed.json() == {
        "listId": 42,
        "subscribers": [{"email": "a@x.io", "userId": "user-1"}],
    }
    assert unsubscribed.path == "/api/lists/unsubscribe"
    assert unsubscribed.json()["channelUnsubscribe"] is False


def test_a_bulk_answer_with_failures_is_a_permanent_error(ctx: Context, tool: Sink) -> None:
    tool.default = Reply(200, {"successCount": 1, "failCount": 1, "invalidEmails": ["bad@"]})
    with pytest.raises(PermanentError, match=r"refused 1 of 2.*bad@"):
        iterable.update_users(ctx, [{"email": "bad@"}, {"email": "ok@x.io"}])


def test_authentication_lists_channels(ctx: Context, tool: Sink) -> None:
    iterable.test_authentication(ctx)
    assert [(got.method, got.path) for got in tool.received] == [("GET", "/api/channels")]


@failure_modes(
    unauthorized=Reply(401, {"msg": "Invalid API key", "code": "BadApiKey"}),
    more={"400": Failure(Reply(400, {"code": "InvalidEmailAddressError"}), PermanentError)},
    throttled=Reply(429, {"code": "RateLimitExceeded"}, {"Retry-After": "1"}),
)
def test_iterable_answers_become_retry_or_not(ctx: Context, tool: Sink, failure: Failure) -> None:
    payload = {"userId": "u1", "eventName": "Viewed"}
    assert_fails(tool, failure, lambda: iterable.track_event(ctx, payload))


@pytest.mark.parametrize(
    ("action", "payload", "message"),
    [
        ("track_event", {"eventName": "x"}, "email or a userId"),
        ("track_event", {"userId": "u1"}, "eventName"),
        ("subscribe_to_list", {"userId": "u1", "listId": "42; drop"}, "listId"),
        ("track_event", {"userId": "u1", "eventName": "x", "createdAt": "soon"}, "ISO 8601"),
    ],
    ids=["nobody", "no name", "list id not a number", "bad time"],
)
def test_invalid_payloads_are_refused_before_sending(
    ctx: Context, tool: Sink, action: str, payload: dict[str, Any], message: str
) -> None:
    with pytest.raises(InvalidPayload, match=message):
        iterable.DESTINATION.actions[action].perform(ctx, payload)
    assert tool.received == []


def test_deletion_deletes_by_email_and_by_user_id_and_a_missing_user_is_done(
    ctx: Context, tool: Sink
) -> None:
    ids = {
        Identifier("email", "ada@example.com"),
        Identifier("user_id", "u/1"),
        Identifier("user_id", "ghost"),
    }
    iterable.delete_person(
        ctx, Person(workspace_id="w", identifiers=frozenset(ids), profile_ids=frozenset())
    )

    assert [(got.method, got.path) for got in tool.received] == [
        ("DELETE", "/api/users/ada@example.com"),
        ("DELETE", "/api/users/byUserId/ghost"),
        ("DELETE", "/api/users/byUserId/u%2F1"),
    ]


def test_the_eu_data_center_has_its_own_host(http: Http) -> None:
    ctx = Context({"api_key": KEY, "region": "EU"}, http)
    assert iterable._url(ctx, "/api/users/update") == "https://api.eu.iterable.com/api/users/update"
    with pytest.raises(PermanentError, match="unknown Iterable region"):
        iterable._url(Context({"api_key": KEY, "region": "MARS"}, http), "/")
