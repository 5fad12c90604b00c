"""Braze against a local sink that enforces /users/track's documented shape: Bearer REST key,
at most 75 attributes, events and purchases per request, each naming its user."""

from __future__ import annotations

from typing import Any

import pytest

from seamline.destinations import registry
from seamline.destinations.catalog import braze
from seamline.destinations.definition import Context
from seamline.destinations.errors import InvalidPayload, PermanentError
from seamline.destinations.http import Http
from tests.destinations.contract import Failure, assert_fails, failure_modes, reset
from tests.destinations.sink import Received, Reply, Sink

KEY = "braze-rest-key"
REQUIRED = {
    "attributes": (),
    "events": ("name", "time"),
    "purchases": ("product_id", "currency", "price", "time"),
}


def documented_shape(got: Received) -> Reply | None:
    """Braze's answer to a request that breaks the /users/track reference, else None."""
    if got.headers.get("authorization") != f"Bearer {KEY}":
        return Reply(401, {"message": "Invalid API key: unknown"})
    body = got.json()
    if (got.method, got.path) != ("POST", "/users/track") or not body or set(body) - set(REQUIRED):
        return Reply(400, {"message": "Invalid request"})
    for kind, objects in body.items():
        if not 1 <= len(objects) <= 75:
            return Reply(400, {"message": f"Too many {kind}"})
        for item in objects:
            if not any(item.get(k) for k in ("external_id", "user_alias", "braze_id", "email")):
                return Reply(400, {"message": "missing identifier"})
            if any(item.get(k) is None for k in REQUIRED[kind]):
                return Reply(400, {"message": f"invalid {kind}"})
    return None


@pytest.fixture
def tool(server: Sink) -> Sink:
    return reset(server, Reply(201, {"message": "success"}), documented_shape)


@pytest.fixture
def ctx(tool: Sink, http: Http) -> Context:
    return Context({"api_key": KEY, "endpoint": tool.url, "app_id": "app-1"}, http)


def event(user: str, **extra: Any) -> dict[str, Any]:
    return {"external_id": user, "name": "Signed Up", "time": "2024-05-01T12:00:00+02:00", **extra}


def order(user: str, *products: dict[str, Any]) -> dict[str, Any]:
    return {
        "external_id": user,
        "time": "2024-05-01T10:00:00Z",
        "products": list(products),
        "properties": {"order_id": "o-1", "products": list(products)},
    }


def perform_batch(action: str, ctx: Context, payloads: list[dict[str, Any]]) -> None:
    batch = braze.DESTINATION.actions[action].perform_batch
    assert batch is not None
    batch(ctx, payloads)


def test_the_catalog_finds_braze() -> None:
    assert registry.load("braze") is braze.DESTINATION


def test_an_event_is_tracked_with_its_time_in_utc(ctx: Context, tool: Sink) -> None:
    braze.DESTINATION.actions["track_event"].perform(
        ctx, event("u1", properties={"plan": "pro"}, update_existing_only=False, braze_id=None)
    )

    [got] = tool.received
    assert "x-braze-batch" not in got.headers
    assert got.json() == {
        "events": [
            {
                "external_id": "u1",
                "_update_existing_only": False,
                "app_id": "app-1",
                "name": "Signed Up",
                "time": "2024-05-01T10:00:00.000Z",
                "properties": {"plan": "pro"},
            }
        ]
    }


def test_events_are_sent_75_per_request(ctx: Context, tool: Sink) -> None:
    perform_batch("track_event", ctx, [event(f"u{n}") for n in range(80)])

    first, second = tool.received
    assert (len(first.json()["events"]), len(second.json()["events"])) == (75, 5)
    assert first.headers["x-braze-batch"] == "true"
    assert second.json()["events"][-1]["external_id"] == "u79"


def test_a_profile_becomes_standard_and_custom_attributes(ctx: Context, tool: Sink) -> None:
    braze.DESTINATION.actions["update_user_profile"].perform(
        ctx,
        {
            "external_id": "u1",
            "user_alias": {"alias_name": "a1"},  # incomplete, so not sent
            "email": "ada@example.com",
            "first_name": "Ada",
            "gender": "female",
            "dob": "1815-12-10",
            "country": None,
            "custom_attributes": {
                "firstName": "Ada",
                "email": "ada@example.com",
                "plan": "pro",
                "visits": 3,
            },
        },
    )

    [got] = tool.received
    assert got.json() == {
        "attributes": [
            {
                "plan": "pro",
                "visits": 3,
                "email": "ada@example.com",
                "first_name": "Ada",
                "gender": "F",
                "dob": "1815-12-10",
                "external_id": "u1",
            }
        ]
    }


def test_each_product_of_an_order_is_a_purchase(ctx: Context, tool: Sink) -> None:
    braze.DESTINATION.actions["track_purchase"].perform(
        ctx,
        order(
            "u1",
            {"product_id": "p1", "price": 9.5, "quantity": 2, "currency": "EUR", "sku": "S1"},
            {"product_id": 7, "price": 3},
        ),
    )

    [got] = tool.received
    assert got.headers["x-braze-batch"] == "true"
    assert got.json() == {
        "purchases": [
            {
                "external_id": "u1",
                "app_id": "app-1",
                "time": "2024-05-01T10:00:00.000Z",
                "product_id": "p1",
                "currency": "EUR",
                "price": 9.5,
                "quantity": 2,
                "properties": {"sku": "S1", "order_id": "o-1"},
            },
            {
                "external_id": "u1",
                "app_id": "app-1",
                "time": "2024-05-01T10:00:00.000Z",
                "product_id": "7",
                "currency": "USD",
                "price": 3,
                "properties": {"order_id": "o-1"},
            },
        ]
    }


def test_purchases_of_a_batch_of_orders_are_sent_75_per_request(ctx: Context, tool: Sink) -> None:
    orders = [
        order(f"u{n}", {"product_id": "a", "price": 1}, {"product_id": "b", "price": 2})
        for n in range(40)
    ]

    perform_batch("track_purchase", ctx, orders)

    assert [len(got.json()["purchases"]) for got in tool.received] == [75, 5]


def test_objects_braze_drops_inside_a_201_are_a_permanent_error(ctx: Context, tool: Sink) -> None:
    tool.default = Reply(
        201,
        {
            "message": "success",
            "errors": [{"type": "'name' is invalid", "input_array": "events", "index": 1}],
        },
    )

    with pytest.raises(PermanentError, match=r"events\[1\]: 'name' is invalid"):
        perform_batch("track_event", ctx, [event("u1"), event("u2")])


def test_a_wrong_key_is_a_permanent_error(tool: Sink, http: Http) -> None:
    ctx = Context({"api_key": "revoked", "endpoint": tool.url}, http)
    with pytest.raises(PermanentError) as raised:
        braze.track_event(ctx, event("u1"))
    assert raised.value.status == 401
    assert "revoked" not in (raised.value.request or "")


@failure_modes(
    unauthorized=Reply(401, {"message": "Invalid API key: unknown"}),
    throttled=Reply(429, {"message": "rate limited"}, {"Retry-After": "3"}),
    outage=Reply(500, {"message": "oops"}),
)
def test_braze_answers_become_retry_or_not(ctx: Context, tool: Sink, failure: Failure) -> None:
    assert_fails(tool, failure, lambda: braze.track_event(ctx, event("u1")), every_request=True)


@pytest.mark.parametrize(
    ("action", "payload", "message"),
    [
        ("track_event", event("", email=None), "external_id, user_alias, braze_id, email"),
        ("track_event", event("u1", name=""), "needs a name"),
        ("track_event", event("u1", time="yesterday"), "ISO 8601"),
        ("track_event", event("u1", time=None), "must be a time"),
        (
            "update_user_profile",
            {"first_name": "Ada", "user_alias": {"alias_label": "x"}},
            "external_id",
        ),
        ("track_purchase", order("u1"), "no products"),
        ("track_purchase", order("u1", {"product_id": "p1", "price": "free"}), "numeric price"),
    ],
    ids=[
        "no user",
        "no event name",
        "unparsable time",
        "no time",
        "incomplete alias only",
        "no products",
        "price not a number",
    ],
)
def test_invalid_payloads_are_refused_before_sending(
    ctx: Context, tool: Sink, action: str, payload: dict[str, Any], message: str
) -> None:
    with pytest.raises(InvalidPayload, match=message):
        braze.DESTINATION.actions[action].perform(ctx, payload)
    assert tool.received == []


def test_one_invalid_payload_stops_the_whole_batch_before_sending(ctx: Context, tool: Sink) -> None:
    with pytest.raises(InvalidPayload, match="payload 2 of the batch"):
        perform_batch("track_event", ctx, [event("u1"), event("u2"), event("u3", name=None)])
    assert tool.received == []
