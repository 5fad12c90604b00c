"""Reddit Conversions API against a local sink that checks the documented request shape: POST
/api/v2.0/conversions/events/{account}, a Bearer conversion token, `{test_mode, events}` with
at most 1,000 events, each with event_at, event_type.tracking_type and hashed identifiers."""

from __future__ import annotations

import datetime as dt
import re
from typing import Any

import pytest

from seamline.destinations import registry
from seamline.destinations.catalog.reddit_conversions import (
    DESTINATION,
    TRACKING_TYPES,
    send_event,
    send_events,
)
from seamline.destinations.definition import Context
from seamline.destinations.errors import InvalidPayload, PermanentError
from seamline.destinations.hashing import sha256_hex
from seamline.destinations.http import Http
from tests.destinations.ads_contract import assert_conversions_definition, naming, preset_payload
from tests.destinations.contract import Failure, assert_fails, failure_modes, reset
from tests.destinations.sink import Received, Reply, Sink

ACCOUNT, TOKEN = "a2_test123", "reddit-conversion-token"
EVENTS_PATH = f"/api/v2.0/conversions/events/{ACCOUNT}"
WHEN = (dt.datetime.now(dt.UTC) - dt.timedelta(hours=1)).replace(microsecond=0)
_HEX64 = re.compile(r"[0-9a-f]{64}")
_HASHED = ("email", "external_id", "ip_address", "phone_number", "aaid", "idfa")


def conversions_api(got: Received) -> Reply | None:
    """Reddit's answer to a request that breaks the Conversions API reference."""
    if got.headers.get("authorization") != f"Bearer {TOKEN}":
        return Reply(401, {"message": "Unauthorized"})
    if (got.method, got.path) != ("POST", EVENTS_PATH):
        return Reply(404, {"message": "Not found"})
    body = got.json()
    events = body.get("events")
    if not isinstance(body.get("test_mode"), bool) or not isinstance(events, list):
        return Reply(400, {"message": "invalid body"})
    if not 1 <= len(events) <= 1000:
        return Reply(400, {"message": "events must hold 1 to 1000 events"})
    for event in events:
        kind = event.get("event_type", {})
        user = event.get("user", {})
        ok = (
            dt.datetime.fromisoformat(event["event_at"]).tzinfo is not None
            and (
                kind.get("tracking_type") in TRACKING_TYPES
                or (kind.get("tracking_type") == "Custom" and kind.get("custom_event_name"))
            )
            and all(_HEX64.fullmatch(user[key]) for key in _HASHED if key in user)
        )
        if not ok:
            return Reply(400, {"message": f"invalid event {event}"})
    return None


@pytest.fixture
def tool(server: Sink) -> Sink:
    return reset(server, Reply(200, {"message": "Successfully processed"}), conversions_api)


def context(tool: Sink, http: Http, **settings: Any) -> Context:
    base = {"ad_account_id": ACCOUNT, "conversion_token": TOKEN, "endpoint": tool.url}
    return Context({**base, **settings}, http)


def purchase(**fields: Any) -> dict[str, Any]:
    return {
        "segment_event": "Order Completed",
        "event_at": WHEN.isoformat(),
        "click_id": "t2_click",
        "conversion_id": "msg-1",
        "event_metadata": {"currency": "USD", "value_decimal": 42.5, "item_count": 2},
        "products": [{"id": "sku-1", "name": "Mug", "category": "Kitchen"}],
        "user": {
            "email": "Al.ice$+Apple@Example.Com",
            "external_id": " user-1 ",
            "ip_address": "203.0.113.9",
            "phone_number": "+1 (650) 555-1212",
            "user_agent": "Mozilla/5.0",
            "uuid": "1684189007728.7c7f",
        },
        **fields,
    }


def test_the_catalog_finds_it() -> None:
    assert registry.load("reddit-conversions") is DESTINATION


def test_a_purchase_is_sent_with_hashed_identifiers(tool: Sink, http: Http) -> None:
    send_event(context(tool, http, test_mode=True), purchase())

    [got] = tool.received
    assert got.headers["authorization"] == f"Bearer {TOKEN}"
    assert got.json() == {
        "test_mode": True,
        "events": [
            {
                "event_at": WHEN.isoformat().replace("+00:00", "Z"),
                "event_type": {"tracking_type": "Purchase"},
                "click_id": "t2_click",
                "event_metadata": {
                    "currency": "USD",
                    "value_decimal": 42.5,
                    "item_count": 2,
                    "conversion_id": "msg-1",
                    "products": [{"id": "sku-1", "name": "Mug", "category": "Kitchen"}],
                },
                "user": {
                    # Reddit's own example: Al.ice$+Apple@Example.Com canonicalises to
                    # alice@example.com, whose SHA-256 it documents.
                    "email": "ff8d9819fc0e12bf0d24892e45987e249a28dce836a85cad60e28eaaa8c6d976",
                    "external_id": sha256_hex("user-1"),
                    "ip_address": sha256_hex("203.0.113.9"),
                    "phone_number": sha256_hex("+16505551212"),
                    "user_agent": "Mozilla/5.0",
                    "uuid": "1684189007728.7c7f",
                },
            }
        ],
    }


def test_a_custom_event_and_a_hashed_value_and_an_advertising_id(tool: Sink, http: Http) -> None:
    digest = sha256_hex("jane@example.com")
    send_event(
        context(tool, http),
        {
            "custom_event_name": "Quote Requested",
            "user": {"email": digest.upper(), "advertising_id": "AAID-1", "device_type": "android"},
        },
    )
    [event] = tool.received[0].json()["events"]
    assert event["event_type"] == {
        "tracking_type": "Custom",
        "custom_event_name": "Quote Requested",
    }
    assert event["user"] == {"email": digest, "aaid": sha256_hex("AAID-1")}


def test_the_preset_mapping_turns_an_order_completed_into_a_purchase(
    tool: Sink, http: Http
) -> None:
    message = {
        "type": "track",
        "event": "Order Completed",
        "messageId": "m-77",
        "userId": "user-7",
        "timestamp": WHEN.isoformat(),
        "properties": {"revenue": 99.0, "currency": "EUR", "products": [{"product_id": "p1"}]},
        "context": {"traits": {"email": "ada@example.com"}, "ip": "198.51.100.4"},
    }
    action, payload = preset_payload(DESTINATION, message, naming("Order Completed"))

    action.perform(context(tool, http), payload)

    [event] = tool.received[0].json()["events"]
    assert event["event_type"] == {"tracking_type": "Purchase"}
    assert event["event_metadata"] == {
        "currency": "EUR",
        "value_decimal": 99.0,
        "conversion_id": "m-77",
        "products": [{"id": "p1"}],
    }
    assert event["user"] == {
        "email": sha256_hex("ada@example.com"),
        "external_id": sha256_hex("user-7"),
        "ip_address": sha256_hex("198.51.100.4"),
    }


def test_a_batch_is_split_at_1000_and_a_bad_payload_is_refused_alone(
    tool: Sink, patient_http: Http
) -> None:
    payloads = [purchase(conversion_id=f"m{i}") for i in range(1001)]
    payloads.insert(5, purchase(event_at=(WHEN - dt.timedelta(days=8)).isoformat()))

    outcomes = send_events(context(tool, patient_http), payloads)

    assert isinstance(outcomes[5], InvalidPayload) and "older than" in str(outcomes[5])
    assert outcomes[:5] + outcomes[6:] == [None] * 1001
    assert [len(r.json()["events"]) for r in tool.received] == [1000, 1]


@pytest.mark.parametrize(
    "fields",
    [
        {"segment_event": "Coupon Applied"},
        {"segment_event": None, "tracking_type": "Checkout"},
        {"user": {"user_agent": "Mozilla/5.0"}},
        {"event_at": "yesterday"},
    ],
    ids=["no standard event", "unknown tracking type", "no identifier", "bad time"],
)
def test_invalid_events_send_nothing(tool: Sink, http: Http, fields: dict[str, Any]) -> None:
    with pytest.raises(InvalidPayload):
        send_event(context(tool, http), purchase(**fields))
    assert tool.received == []


def test_authentication_sends_one_test_mode_event(tool: Sink, http: Http) -> None:
    check = DESTINATION.test_authentication
    assert check is not None
    check(context(tool, http))
    with pytest.raises(PermanentError):
        check(context(tool, http, conversion_token="wrong"))
    body = tool.received[0].json()
    assert body["test_mode"] is True and len(body["events"]) == 1


@failure_modes(
    unauthorized=Reply(401, {"message": "Unauthorized"}),
    more={
        "forbidden account": Failure(Reply(403, {"message": "Forbidden"}), PermanentError),
        "invalid event": Failure(Reply(400, {"message": "invalid event_at"}), PermanentError),
    },
    throttled=Reply(429, {"message": "Too Many Requests"}, headers={"Retry-After": "30"}),
)
def test_reddit_answers_become_retry_or_not(tool: Sink, http: Http, failure: Failure) -> None:
    assert_fails(tool, failure, lambda: send_event(context(tool, http), purchase()))


def test_definition() -> None:
    assert_conversions_definition(
        DESTINATION, secret="conversion_token", action="standard_event", max_batch=1000
    )
    assert {p.action for p in DESTINATION.presets} == {"standard_event"}


def test_an_account_id_that_would_leave_its_path_is_refused(tool: Sink, http: Http) -> None:
    with pytest.raises(PermanentError, match="ad_account_id"):
        send_event(context(tool, http, ad_account_id="../../v1/other"), purchase())
    assert tool.received == []
