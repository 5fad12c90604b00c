"""The Meta Conversions API destination against a local sink that checks the documented request
shape, and the normalising and hashing of customer information."""

from __future__ import annotations

import datetime as dt
import hashlib
import re
from typing import Any

import pytest

from seamline.destinations.catalog.meta_conversions_api import (
    ACTION_SOURCES,
    DESTINATION,
    hash_identifier,
    send_event,
    send_events,
    user_data,
)
from seamline.destinations.definition import Context
from seamline.destinations.errors import InvalidPayload, PermanentError, RetryableError
from seamline.destinations.http import Http
from tests.destinations.contract import Failure, assert_fails, failure_modes, reset
from tests.destinations.sink import Received, Reply, Sink

PIXEL, TOKEN = "1234567890", "EAAB-test-token"
EVENTS_PATH = f"/v26.0/{PIXEL}/events"
WHEN = (dt.datetime.now(dt.UTC) - dt.timedelta(hours=2)).replace(microsecond=0)
UA = "Mozilla/5.0 (Macintosh; Intel Mac OS X 14_0) Safari/605.1.15"
_HEX64 = re.compile(r"[0-9a-f]{64}")
_HASHED = ("em", "ph", "ge", "db", "ln", "fn", "ct", "st", "zp", "country", "external_id")


def sha256(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


def graph_error(code: int, message: str, transient: bool = False) -> Reply:
    error = {"message": message, "type": "OAuthException", "code": code, "is_transient": transient}
    return Reply(400, {"error": error})


def conversions_api(received: Received) -> Reply | None:
    if received.method == "GET" and received.path == f"/v26.0/{PIXEL}":
        ok = received.headers.get("authorization") == f"Bearer {TOKEN}"
        return Reply(200, {"id": PIXEL}) if ok else graph_error(190, "Invalid OAuth access token")
    if received.path != EVENTS_PATH:
        return graph_error(100, "Unsupported post request")
    if (
        received.headers.get("authorization") != f"Bearer {TOKEN}"
        or "access_token" in received.query
    ):
        return graph_error(190, "Invalid OAuth access token")
    data = received.json()["data"]
    if not 1 <= len(data) <= 1000:
        return graph_error(100, "data must hold 1 to 1000 events")
    for event in data:
        users = event.get("user_data", {})
        if not (
            event.get("event_name")
            and isinstance(event.get("event_time"), int)
            and event.get("action_source") in ACTION_SOURCES
            and users
            and all(
                _HEX64.fullmatch(v)
                for key in _HASHED
                for v in ([users[key]] if isinstance(users.get(key), str) else users.get(key, []))
            )
        ):
            return graph_error(100, f"Invalid parameter in {event}")
    return None


@pytest.fixture
def tool(server: Sink) -> Sink:
    accepted = Reply(200, {"events_received": 1, "messages": [], "fbtrace_id": "A1b2"})
    return reset(server, accepted, conversions_api)


def context(tool: Sink, http: Http, **settings: Any) -> Context:
    base = {"pixel_id": PIXEL, "access_token": TOKEN, "endpoint": tool.url}
    return Context(settings={**base, **settings}, http=http)


def purchase(**fields: Any) -> dict[str, Any]:
    return {
        "event_name": "Purchase",
        "event_time": WHEN.isoformat(),
        "action_source": "website",
        "event_id": "msg-1",
        "event_source_url": "https://shop.example/checkout",
        "user_data": {
            "externalId": ["user-1"],
            "email": " Jane.Doe@Example.COM ",
            "phone": "+1 (650) 555-1212",
            "client_ip_address": "203.0.113.9",
            "client_user_agent": UA,
            "fbp": "fb.1.1596403881668.1116446470",
        },
        "value": 42.5,
        "currency": "USD",
        "order_id": "o-77",
        "contents": [{"id": "sku-1", "quantity": 2, "item_price": 21.25}],
        **fields,
    }


def test_one_purchase_is_sent_with_hashed_user_data(tool: Sink, http: Http) -> None:
    send_event(context(tool, http, test_event_code="TEST123"), purchase())

    [got] = tool.received
    assert (got.method, got.path, got.query) == ("POST", EVENTS_PATH, {})
    assert got.headers["authorization"] == f"Bearer {TOKEN}"
    assert got.json() == {
        "data": [
            {
                "event_name": "Purchase",
                "event_time": int(WHEN.timestamp()),
                "action_source": "website",
                "event_id": "msg-1",
                "event_source_url": "https://shop.example/checkout",
                "user_data": {
                    "em": sha256("jane.doe@example.com"),
                    "ph": sha256("16505551212"),
                    "external_id": [sha256("user-1")],
                    "client_ip_address": "203.0.113.9",
                    "client_user_agent": UA,
                    "fbp": "fb.1.1596403881668.1116446470",
                },
                "custom_data": {
                    "value": 42.5,
                    "currency": "USD",
                    "order_id": "o-77",
                    "contents": [{"id": "sku-1", "quantity": 2, "item_price": 21.25}],
                },
            }
        ],
        "test_event_code": "TEST123",
    }


def test_a_batch_is_split_at_1000_events(tool: Sink, patient_http: Http) -> None:
    send_events(context(tool, patient_http), [purchase(event_id=f"m{i}") for i in range(1001)])

    assert [len(r.json()["data"]) for r in tool.received] == [1000, 1]
    assert tool.received[1].json()["data"][0]["event_id"] == "m1000"


@pytest.mark.parametrize(
    ("key", "raw", "normalised"),
    [
        ("email", "  Jane.Doe@Example.COM ", "jane.doe@example.com"),
        ("phone", "+1 (650) 555-1212", "16505551212"),
        ("phone", "0044 20 7946 0958", "442079460958"),
        ("gender", "Female", "f"),
        ("gender", "m", "m"),
        ("dateOfBirth", "1997-12-26T00:00:00.000Z", "19971226"),
        ("dateOfBirth", "19971226", "19971226"),
        ("firstName", "Mary-Ann", "maryann"),
        ("lastName", "O'Brien", "obrien"),
        ("firstName", "Zoë", "zoë"),
        ("city", "Menlo Park", "menlopark"),
        ("state", "California", "ca"),
        ("state", "New York", "ny"),
        ("state", "CA", "ca"),
        ("state", "Bavaria", "bavaria"),
        ("zip", "94025-1234", "94025"),
        ("zip", "SW1A 1AA", "sw1a1aa"),
        ("country", "US", "us"),
        ("externalId", " User-42 ", "user-42"),
    ],
)
def test_identifiers_are_normalised_as_meta_documents_then_hashed(
    key: str, raw: str, normalised: str
) -> None:
    assert hash_identifier(key, raw) == sha256(normalised)


def test_an_identifier_already_hashed_is_not_hashed_again() -> None:
    digest = sha256("jane.doe@example.com")
    assert hash_identifier("email", digest.upper()) == digest
    assert user_data({"phone": digest, "externalId": [digest, "user-2"]}) == {
        "ph": digest,
        "external_id": [digest, sha256("user-2")],
    }


def test_identifiers_that_normalise_to_nothing_are_left_out() -> None:
    assert user_data({"email": " ", "gender": "x", "phone": "n/a", "fbc": None, "fbp": "fb.1"}) == {
        "fbp": "fb.1"
    }


def test_authentication_reads_the_pixel(tool: Sink, http: Http) -> None:
    check = DESTINATION.test_authentication
    assert check is not None
    check(context(tool, http))
    with pytest.raises(PermanentError):
        check(context(tool, http, access_token="expired"))
    assert [(r.method, r.path, r.query) for r in tool.received] == [
        ("GET", f"/v26.0/{PIXEL}", {"fields": ["id"]})
    ] * 2


@failure_modes(
    unauthorized=Reply(401, {"error": {"message": "unauthorized"}}),
    more={
        "expired token": Failure(graph_error(190, "Error validating access token"), PermanentError),
        "invalid parameter": Failure(graph_error(100, "Invalid parameter"), PermanentError),
        "throttled": Failure(graph_error(17, "User request limit reached"), RetryableError),
        "transient": Failure(
            graph_error(1, "An unknown error occurred", transient=True), RetryableError
        ),
    },
    throttled=Reply(429, headers={"Retry-After": "60"}),
)
def test_meta_answers_become_retry_or_not(tool: Sink, http: Http, failure: Failure) -> None:
    assert_fails(tool, failure, lambda: send_event(context(tool, http), purchase()))


@pytest.mark.parametrize(
    "fields",
    [
        {"event_name": ""},
        {"action_source": "web"},
        {"event_time": (WHEN - dt.timedelta(days=7)).isoformat()},
        {"event_time": "soon"},
        {"event_source_url": None},
        {"user_data": {"email": "jane@example.com"}},  # website events need the user agent
        {"user_data": {}},
        {"user_data": "jane@example.com"},
        {"currency": None},
        {"value": None},
    ],
    ids=[
        "no event name",
        "unknown action source",
        "older than 7 days",
        "bad time",
        "website without URL",
        "website without user agent",
        "no identifier",
        "user_data not an object",
        "purchase without currency",
        "purchase without value",
    ],
)
def test_invalid_events_send_nothing(tool: Sink, http: Http, fields: dict[str, Any]) -> None:
    with pytest.raises(InvalidPayload):
        send_events(context(tool, http), [purchase(), purchase(**fields)])
    assert tool.received == []


def test_a_server_side_event_needs_no_browser_data(tool: Sink, http: Http) -> None:
    send_event(
        context(tool, http),
        {
            "event_name": "Lead",
            "event_time": WHEN.isoformat(),
            "action_source": "system_generated",
            "user_data": {"email": "jane@example.com"},
            "custom_data": {"lead_source": "webinar"},
        },
    )
    [got] = tool.received
    assert got.json()["data"][0]["custom_data"] == {"lead_source": "webinar"}


def test_definition() -> None:
    purchase_action = DESTINATION.actions["purchase"]
    assert purchase_action.fields["event_name"].default == "Purchase"
    assert purchase_action.fields["value"].default == {"@path": "$.properties.revenue"}
    assert purchase_action.max_batch == 1000
    assert DESTINATION.actions["custom_event"].fields["event_id"].default == {
        "@path": "$.messageId"
    }
    assert DESTINATION.secret_settings() == {"access_token"}
