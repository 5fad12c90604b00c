"""The GA4 destination against a local sink that checks the Measurement Protocol's documented
request shape and limits."""

from __future__ import annotations

import datetime as dt
import re
from typing import Any

import pytest

from seamline.destinations.catalog.google_analytics_4 import (
    DESTINATION,
    event_name,
    send_event,
    send_events,
)
from seamline.destinations.definition import Context
from seamline.destinations.errors import InvalidPayload
from seamline.destinations.http import Http
from tests.destinations.contract import HANG, Failure, assert_fails, failure_modes, reset
from tests.destinations.sink import Received, Reply, Sink

MEASUREMENT_ID, API_SECRET = "G-TEST1234", "mp-secret"
WHEN = (dt.datetime.now(dt.UTC) - dt.timedelta(hours=1)).replace(microsecond=0)
WHEN_MICROS = int(WHEN.timestamp()) * 1_000_000


def measurement_protocol(received: Received) -> Reply | None:
    """The documented rules; the real endpoint answers 2xx and drops what breaks them, so the
    sink answers 400 to make a breach visible."""
    if received.method != "POST" or received.path != "/mp/collect":
        return Reply(404)
    if received.query != {"measurement_id": [MEASUREMENT_ID], "api_secret": [API_SECRET]}:
        return Reply(400, {"error": "measurement_id and api_secret expected"})
    body = received.json()
    if not isinstance(body.get("client_id"), str) or len(received.body) >= 130_000:
        return Reply(400, {"error": "client_id required, body under 130 kB"})
    if not 1 <= len(body["events"]) <= 25 or len(body.get("user_properties", {})) > 25:
        return Reply(400, {"error": "1 to 25 events, at most 25 user properties"})
    for event in body["events"]:
        if not re.fullmatch(r"[A-Za-z]\w{0,39}", event["name"]):
            return Reply(400, {"error": f"invalid event name {event['name']}"})
    return None


@pytest.fixture
def tool(server: Sink) -> Sink:
    return reset(server, Reply(204, b""), measurement_protocol)


def context(tool: Sink, http: Http) -> Context:
    settings = {"measurement_id": MEASUREMENT_ID, "api_secret": API_SECRET, "endpoint": tool.url}
    return Context(settings=settings, http=http)


def event(**fields: Any) -> dict[str, Any]:
    return {
        "client_id": "user-1",
        "user_id": "user-1",
        "name": "Order Completed",
        "params": {"value": 42.5, "currency": "EUR"},
        "timestamp_micros": WHEN.isoformat(),
        "engagement_time_msec": 1,
        **fields,
    }


def test_one_event_is_collected(tool: Sink, http: Http) -> None:
    send_event(context(tool, http), event(user_properties={"plan": "pro"}))

    [got] = tool.received
    assert got.json() == {
        "client_id": "user-1",
        "user_id": "user-1",
        "user_properties": {"plan": {"value": "pro"}},
        "events": [
            {
                "name": "Order_Completed",
                "params": {"value": 42.5, "currency": "EUR", "engagement_time_msec": 1},
                "timestamp_micros": WHEN_MICROS,
            }
        ],
    }


def test_a_batch_is_grouped_by_client_and_split_at_25_events(tool: Sink, http: Http) -> None:
    payloads = [event(name=f"step_{i}") for i in range(30)]
    payloads.insert(3, event(client_id="anon-9", user_id=None, name="page_view"))
    send_events(context(tool, http), payloads)

    bodies = [r.json() for r in tool.received]
    assert [(b["client_id"], len(b["events"])) for b in bodies] == [
        ("user-1", 25),
        ("user-1", 5),
        ("anon-9", 1),
    ]
    assert [e["name"] for e in bodies[0]["events"][:3]] == ["step_0", "step_1", "step_2"]
    assert "user_id" not in bodies[2]


def test_events_with_different_user_properties_go_in_different_requests(
    tool: Sink, http: Http
) -> None:
    send_events(
        context(tool, http),
        [event(user_properties={"plan": "free"}), event(user_properties={"plan": "pro"})],
    )
    assert [r.json()["user_properties"] for r in tool.received] == [
        {"plan": {"value": "free"}},
        {"plan": {"value": "pro"}},
    ]


def test_a_batch_is_split_to_stay_under_130_kb(tool: Sink, http: Http) -> None:
    big = {"note": "x" * 50_000}
    send_events(context(tool, http), [event(params=big) for _ in range(3)])

    assert [len(r.json()["events"]) for r in tool.received] == [2, 1]


@pytest.mark.parametrize(
    ("raw", "lowercase", "expected"),
    [
        ("Order Completed", False, "Order_Completed"),
        ("  Order   Completed ", True, "order_completed"),
        ("purchase", False, "purchase"),
        ("événement_spécial", False, "événement_spécial"),
        ("a" * 40, False, "a" * 40),
        ("a" * 41, False, None),
        ("1st_purchase", False, None),
        ("_internal", False, None),
        ("add-to-cart", False, None),
        ("first_visit", False, None),
        ("session_start", False, None),
        ("firebase_custom", False, None),
        ("ga_custom", False, None),
        ("google_custom", False, None),
        ("", False, None),
        (None, False, None),
    ],
)
def test_event_name_rules(raw: Any, lowercase: bool, expected: str | None) -> None:
    if expected is None:
        with pytest.raises(InvalidPayload):
            event_name(raw, lowercase)
    else:
        assert event_name(raw, lowercase) == expected


@failure_modes(
    unauthorized=Reply(401, {"error": "unauthorized"}),
    throttled=Reply(429, headers={"Retry-After": "5"}),
    hang=Reply(204, b"", delay=HANG),
)
def test_google_answers_become_retry_or_not(tool: Sink, http: Http, failure: Failure) -> None:
    assert_fails(tool, failure, lambda: send_event(context(tool, http), event()))


@pytest.mark.parametrize(
    "fields",
    [
        {"client_id": None},
        {"name": "first_open"},
        {"timestamp_micros": (WHEN - dt.timedelta(hours=72)).isoformat()},
        {"timestamp_micros": "last tuesday"},
        {"user_properties": {"first_open_time": 1}},
        {"user_properties": {"a_very_long_user_property_name": 1}},
        {"user_properties": {f"p{i}": i for i in range(26)}},
        {"params": {"note": "x" * 131_000}},
    ],
    ids=[
        "no client_id",
        "reserved name",
        "older than 72 h",
        "bad timestamp",
        "reserved user property",
        "user property name over 24",
        "26 user properties",
        "event over 130 kB",
    ],
)
def test_invalid_events_send_nothing(tool: Sink, http: Http, fields: dict[str, Any]) -> None:
    with pytest.raises(InvalidPayload):
        send_events(context(tool, http), [event(), event(**fields)])
    assert tool.received == []


def test_definition() -> None:
    page_view = DESTINATION.actions["page_view"]
    assert page_view.fields["name"].default == "page_view"
    assert page_view.max_batch == 25
    assert DESTINATION.actions["custom_event"].fields["name"].default == {"@path": "$.event"}
    assert DESTINATION.secret_settings() == {
        "api_secret",
        "oauth_client_secret",
        "oauth_refresh_token",
    }
