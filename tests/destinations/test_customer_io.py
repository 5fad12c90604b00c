"""Customer.io against a local sink that enforces the Track API v2's documented shape: HTTP
Basic site id and key, entities with identifiers and an action, 500 KB per batch request."""

from __future__ import annotations

import base64
from typing import Any

import pytest

from seamline.destinations import registry
from seamline.destinations.catalog import customer_io
from seamline.destinations.definition import Context
from seamline.destinations.errors import InvalidPayload, PermanentError
from seamline.destinations.http import Http
from seamline.identity.identifiers import Identifier
from seamline.privacy.subject import Person
from tests.destinations.contract import Failure, assert_fails, failure_modes, reset
from tests.destinations.payloads import default_payload
from tests.destinations.sink import Received, Reply, Sink

SITE, KEY = "site-123", "track-key"
AUTH = "Basic " + base64.b64encode(f"{SITE}:{KEY}".encode()).decode()


def _entity_problem(entity: dict[str, Any]) -> str | None:
    if entity.get("type") != "person" or entity.get("action") not in ("identify", "event", "page"):
        return "type or action"
    if not entity.get("identifiers"):
        return "identifiers"
    if entity["action"] != "identify" and not entity.get("name"):
        return "name"
    return None


def documented_shape(got: Received) -> Reply | None:
    """Customer.io's answer to a request that breaks the Track API reference, else None."""
    if got.headers.get("authorization") != AUTH:
        return Reply(401, {"meta": {"error": "Unauthorized request"}})
    if got.method in ("GET", "DELETE"):
        return (
            Reply(200, {"url": "https://track.customer.io", "region": "us"})
            if got.method == "GET"
            else None
        )
    if got.path == "/api/v2/entity":
        problem = _entity_problem(got.json())
        return Reply(400, {"errors": [{"reason": problem}]}) if problem else None
    if got.path != "/api/v2/batch":
        return Reply(404, {})
    if len(got.body) > 500_000:
        return Reply(413, {"meta": {"error": "too large"}})
    errors = [
        {"batch_index": i, "reason": problem}
        for i, entity in enumerate(got.json()["batch"])
        if (problem := _entity_problem(entity))
    ]
    return Reply(200, {"errors": errors}) if errors else None


@pytest.fixture
def tool(server: Sink) -> Sink:
    return reset(server, Reply(200, {}), documented_shape)


@pytest.fixture
def ctx(tool: Sink, http: Http) -> Context:
    return Context({"site_id": SITE, "api_key": KEY, "endpoint": tool.url}, http)


def mapped(action: str, event: dict[str, Any]) -> dict[str, Any]:
    return default_payload(customer_io.DESTINATION.actions[action], event)


def test_the_catalog_finds_customer_io() -> None:
    assert registry.load("customer-io") is customer_io.DESTINATION


def test_the_identify_preset_turns_a_segment_identify_into_an_entity(
    ctx: Context, tool: Sink
) -> None:
    identify = {
        "type": "identify",
        "userId": "user-1",
        "anonymousId": "anon-1",
        "traits": {"email": "ada@example.com", "plan": "pro", "createdAt": "2024-05-01T10:00:00Z"},
    }

    customer_io.identify_person(ctx, mapped("create_update_person", identify))

    [got] = tool.received
    assert (got.method, got.path) == ("POST", "/api/v2/entity")
    assert got.json() == {
        "type": "person",
        "action": "identify",
        "identifiers": {"id": "user-1"},
        "attributes": {
            "email": "ada@example.com",
            "plan": "pro",
            "createdAt": 1714557600,
            "created_at": 1714557600,
            "anonymous_id": "anon-1",
        },
    }


def test_an_anonymous_event_is_sent_by_anonymous_id(ctx: Context, tool: Sink) -> None:
    track = {
        "type": "track",
        "event": "Added to Cart",
        "anonymousId": "anon-1",
        "timestamp": "2024-05-01T10:00:00Z",
        "properties": {"sku": "S1"},
    }

    customer_io.track_event(ctx, mapped("track_event", track))

    [got] = tool.received
    assert got.json() == {
        "type": "person",
        "action": "event",
        "identifiers": {"anonymous_id": "anon-1"},
        "name": "Added to Cart",
        "attributes": {"sku": "S1"},
        "timestamp": 1714557600,
    }


def test_a_batch_goes_to_the_batch_endpoint_100_per_request(ctx: Context, tool: Sink) -> None:
    customer_io.track_events(ctx, [{"person_id": f"u{n}", "name": "Viewed"} for n in range(150)])
    assert [(got.path, len(got.json()["batch"])) for got in tool.received] == [
        ("/api/v2/batch", 100),
        ("/api/v2/batch", 50),
    ]


def test_a_batch_is_cut_at_500_kb(ctx: Context, tool: Sink) -> None:
    big = {"text": "x" * 30_000}
    customer_io.track_events(
        ctx, [{"person_id": f"u{n}", "name": "Viewed", "data": big} for n in range(20)]
    )
    assert [len(got.json()["batch"]) for got in tool.received] == [16, 4]
    assert all(len(got.body) <= 500_000 for got in tool.received)


def test_entities_refused_inside_a_batch_are_a_permanent_error(ctx: Context, tool: Sink) -> None:
    tool.default = Reply(
        200, {"errors": [{"batch_index": 1, "reason": "invalid", "message": "bad"}]}
    )
    with pytest.raises(PermanentError, match=r"refused 1 of 2 entities: \[1\] invalid bad"):
        customer_io.track_events(
            ctx, [{"person_id": "u1", "name": "A"}, {"person_id": "u2", "name": "B"}]
        )


def test_authentication_asks_for_the_region(ctx: Context, tool: Sink) -> None:
    customer_io.test_authentication(ctx)
    assert [(got.method, got.path) for got in tool.received] == [("GET", "/api/v1/accounts/region")]


@failure_modes(
    unauthorized=Reply(401, {"meta": {"error": "Unauthorized request"}}),
    more={"400": Failure(Reply(400, {"meta": {"error": "invalid"}}), PermanentError)},
    throttled=Reply(429, {}, {"Retry-After": "2"}),
)
def test_customer_io_answers_become_retry_or_not(
    ctx: Context, tool: Sink, failure: Failure
) -> None:
    assert_fails(
        tool, failure, lambda: customer_io.track_event(ctx, {"person_id": "u1", "name": "A"})
    )


@pytest.mark.parametrize(
    ("action", "payload", "message"),
    [
        ("create_update_person", {"anonymous_id": "a1", "attributes": {}}, "person_id, email"),
        ("track_event", {"name": "A"}, "anonymous_id"),
        ("track_page_view", {"person_id": "u1"}, "needs a URL"),
        ("track_event", {"person_id": "u1", "name": "A", "data": {"t": "x" * 33_000}}, "32 KB"),
    ],
    ids=["identify without id", "event for nobody", "page without url", "entity too big"],
)
def test_invalid_payloads_are_refused_before_sending(
    ctx: Context, tool: Sink, action: str, payload: dict[str, Any], message: str
) -> None:
    with pytest.raises(InvalidPayload, match=message):
        customer_io.DESTINATION.actions[action].perform(ctx, payload)
    assert tool.received == []


def test_timestamps_are_left_as_text_when_conversion_is_off(tool: Sink, http: Http) -> None:
    ctx = Context(
        {"site_id": SITE, "api_key": KEY, "endpoint": tool.url, "convert_timestamp": False}, http
    )
    customer_io.identify_person(ctx, {"person_id": "u1", "attributes": {"trial_end": "2024-05-01"}})
    assert tool.received[0].json()["attributes"] == {"trial_end": "2024-05-01"}


def test_deletion_deletes_by_user_id_and_email(ctx: Context, tool: Sink) -> None:
    ids = {Identifier("email", "ada@example.com"), Identifier("user_id", "user 1")}
    customer_io.delete_person(
        ctx, Person(workspace_id="w", identifiers=frozenset(ids), profile_ids=frozenset())
    )
    assert [(got.method, got.path) for got in tool.received] == [
        ("DELETE", "/api/v1/customers/user%201"),
        ("DELETE", "/api/v1/customers/ada@example.com"),
    ]


def test_the_eu_region_has_its_own_host(http: Http) -> None:
    ctx = Context({"site_id": SITE, "api_key": KEY, "region": "EU"}, http)
    assert customer_io._url(ctx, "/api/v2/entity") == "https://track-eu.customer.io/api/v2/entity"
