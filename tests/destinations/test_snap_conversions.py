"""Snap Conversions API v3 against a local sink that checks the documented request shape: POST
/v3/{pixel or app id}/events?access_token=…, `{data}` of 1 to 2,000 events with an event name,
Unix-second time, action source and SHA-256 hashed user data."""

from __future__ import annotations

import datetime as dt
import re
from typing import Any

import pytest

from seamline.destinations import registry
from seamline.destinations.catalog.snap_conversions import (
    ACTION_SOURCES,
    DESTINATION,
    HASHED,
    send_event,
    send_events,
    user_data,
)
from seamline.destinations.client import destination_client
from seamline.destinations.definition import Context
from seamline.destinations.errors import InvalidPayload, PermanentError
from seamline.destinations.hashing import sha256_hex
from seamline.destinations.http import Http
from tests.destinations.ads_contract import assert_conversions_definition, naming, preset_payload
from tests.destinations.conftest import LOOPBACK
from tests.destinations.contract import Failure, assert_fails, failure_modes, reset
from tests.destinations.sink import Received, Reply, Sink

PIXEL, APP, TOKEN = "0f6a1c52-pixel", "5a1b-app", "snap-capi-token"
_EVENTS = re.compile(rf"/v3/({PIXEL}|{APP})/events(/validate)?")
WHEN = (dt.datetime.now(dt.UTC) - dt.timedelta(days=2)).replace(microsecond=0)
_HEX64 = re.compile(r"[0-9a-f]{64}")


def conversions_api(got: Received) -> Reply | None:
    """Snap's answer to a request that breaks the Conversions API v3 reference."""
    if got.query.get("access_token") != [TOKEN]:
        return Reply(401, {"status": "INVALID", "reason": "Unauthorized"})
    if got.method != "POST" or not _EVENTS.fullmatch(got.path):
        return Reply(404, {"status": "INVALID", "reason": "Not found"})
    data = got.json().get("data")
    if not isinstance(data, list) or not 1 <= len(data) <= 2000:
        return Reply(400, {"status": "INVALID", "reason": "data must hold 1 to 2000 events"})
    for event in data:
        users = event.get("user_data", {})
        hashes = [
            v
            for key, (snap, _, listed) in HASHED.items()
            for v in (users.get(snap, []) if listed else [users.get(snap, "0" * 64)])
        ]
        ok = (
            event.get("event_name")
            and isinstance(event.get("event_time"), int)
            and event.get("action_source") in ACTION_SOURCES
            and all(isinstance(h, str) and _HEX64.fullmatch(h) for h in hashes)
        )
        if not ok:
            return Reply(400, {"status": "INVALID", "reason": f"invalid event {event}"})
    return None


@pytest.fixture
def tool(server: Sink) -> Sink:
    return reset(server, Reply(200, {"status": "SUCCESS"}), conversions_api)


def context(tool: Sink, http: Http, **settings: Any) -> Context:
    base = {"pixel_id": PIXEL, "access_token": TOKEN, "endpoint": tool.url}
    return Context({**base, **settings}, http)


def purchase(**fields: Any) -> dict[str, Any]:
    return {
        "segment_event": "Order Completed",
        "action_source": "WEB",
        "event_time": WHEN.isoformat(),
        "event_id": "msg-1",
        "event_source_url": "https://shop.example/thanks",
        "user_data": {
            "email": " Jane.Doe@Example.COM ",
            "phone": "+1 (650) 555-1212",
            "external_id": "User-1",
            "state": "New York",
            "madid": "AEBE52E7-03EE-455A-B3C4-E57283966239",
            "client_ip_address": "203.0.113.9",
            "client_user_agent": "Mozilla/5.0",
            "sc_click_id": "click-1",
        },
        "custom_data": {"currency": "usd", "value": 42.5, "order_id": "o-7"},
        **fields,
    }


def test_the_catalog_finds_it() -> None:
    assert registry.load("snap-conversions") is DESTINATION


def test_a_purchase_is_sent_with_hashed_user_data(tool: Sink, http: Http) -> None:
    send_event(context(tool, http), purchase())

    [got] = tool.received
    assert (got.path, got.query) == (f"/v3/{PIXEL}/events", {"access_token": [TOKEN]})
    assert got.json() == {
        "data": [
            {
                "event_name": "PURCHASE",
                "event_time": int(WHEN.timestamp()),
                "event_id": "msg-1",
                "action_source": "WEB",
                "event_source_url": "https://shop.example/thanks",
                "user_data": {
                    "em": [sha256_hex("jane.doe@example.com")],
                    "ph": [sha256_hex("16505551212")],
                    "external_id": [sha256_hex("user-1")],
                    "st": sha256_hex("ny"),
                    "madid": "aebe52e7-03ee-455a-b3c4-e57283966239",
                    "client_ip_address": "203.0.113.9",
                    "client_user_agent": "Mozilla/5.0",
                    "sc_click_id": "click-1",
                },
                "custom_data": {"currency": "USD", "value": 42.5, "order_id": "o-7"},
            }
        ]
    }


@pytest.mark.parametrize(
    ("key", "raw", "normalised"),
    [
        ("email", "  Jane.Doe@Example.COM ", "jane.doe@example.com"),
        ("phone", "0044 20 7946 0958", "442079460958"),
        ("gender", "Male", "m"),
        ("date_of_birth", "1990-07-04", "19900704"),
        ("state", "California", "ca"),
        ("city", "Los Angeles", "losangeles"),
        ("zip", "SW1A 1AA", "sw1a1aa"),
    ],
)
def test_identifiers_are_normalised_as_snap_documents(key: str, raw: str, normalised: str) -> None:
    snap_key, _, listed = HASHED[key]
    digest = sha256_hex(normalised)
    assert user_data({key: raw}) == {snap_key: [digest] if listed else digest}


def test_a_value_already_hashed_is_kept() -> None:
    digest = sha256_hex("16505551212")
    assert user_data({"phone": digest.upper()}) == {"ph": [digest]}


def test_app_events_go_to_the_app_and_web_events_to_the_pixel(tool: Sink, http: Http) -> None:
    outcomes = send_events(
        context(tool, http, snap_app_id=APP),
        [purchase(), purchase(action_source="MOBILE_APP", app_data={"app_id": "123"}), purchase()],
    )

    assert outcomes == [None, None, None]
    assert [(got.path, len(got.json()["data"])) for got in tool.received] == [
        (f"/v3/{PIXEL}/events", 2),
        (f"/v3/{APP}/events", 1),
    ]
    assert tool.received[1].json()["data"][0]["app_data"] == {"app_id": "123"}


def test_an_app_event_without_an_app_id_fails_alone(tool: Sink, http: Http) -> None:
    outcomes = send_events(context(tool, http), [purchase(action_source="MOBILE_APP"), purchase()])

    assert isinstance(outcomes[0], InvalidPayload) and "snap_app_id" in str(outcomes[0])
    assert outcomes[1] is None


def test_the_preset_mapping_turns_a_signed_up_into_sign_up(tool: Sink, http: Http) -> None:
    message = {
        "type": "track",
        "event": "Signed Up",
        "messageId": "m-3",
        "userId": "user-3",
        "timestamp": WHEN.isoformat(),
        "properties": {},
        "context": {"traits": {"email": "ada@example.com"}, "page": {"url": "https://s/join"}},
    }
    action, payload = preset_payload(DESTINATION, message, naming("Signed Up"))

    action.perform(context(tool, http), payload)

    [event] = tool.received[0].json()["data"]
    assert event == {
        "event_name": "SIGN_UP",
        "event_time": int(WHEN.timestamp()),
        "event_id": "m-3",
        "action_source": "WEB",
        "event_source_url": "https://s/join",
        "user_data": {
            "em": [sha256_hex("ada@example.com")],
            "external_id": [sha256_hex("user-3")],
        },
    }


def test_a_batch_is_split_at_2000(tool: Sink, patient_http: Http) -> None:
    outcomes = send_events(
        context(tool, patient_http), [purchase(event_id=f"m{i}") for i in range(2001)]
    )
    assert outcomes == [None] * 2001
    assert [len(r.json()["data"]) for r in tool.received] == [2000, 1]


@pytest.mark.parametrize(
    "fields",
    [
        {"segment_event": "Coupon Applied"},
        {"action_source": "STORE"},
        {"user_data": {"external_id": "user-1", "client_ip_address": "203.0.113.9"}},
        {"event_time": (WHEN - dt.timedelta(days=36)).isoformat()},
    ],
    ids=["no event name", "bad action source", "no usable identifier", "older than 37 days"],
)
def test_invalid_events_send_nothing(tool: Sink, http: Http, fields: dict[str, Any]) -> None:
    with pytest.raises(InvalidPayload):
        send_event(context(tool, http), purchase(**fields))
    assert tool.received == []


def test_validate_only_and_the_connection_test_use_the_test_endpoint(
    tool: Sink, http: Http
) -> None:
    send_event(context(tool, http, validate_only=True), purchase())
    check = DESTINATION.test_authentication
    assert check is not None
    check(context(tool, http))
    with pytest.raises(PermanentError):
        check(context(tool, http, access_token="wrong"))
    assert [got.path for got in tool.received] == [f"/v3/{PIXEL}/events/validate"] * 3


def test_the_token_is_hidden_where_a_failure_is_recorded(tool: Sink) -> None:
    tool.replies.append(Reply(400, {"status": "INVALID", "reason": "bad"}))
    with destination_client(LOOPBACK) as client:
        http = Http(client, timeout=5.0, secrets=[TOKEN])
        with pytest.raises(PermanentError) as raised:
            send_event(context(tool, http), purchase())
    assert TOKEN not in str(raised.value) and TOKEN not in (raised.value.request or "")


@failure_modes(
    unauthorized=Reply(401, {"status": "INVALID", "reason": "Unauthorized"}),
    more={
        "forbidden pixel": Failure(Reply(403, {"status": "INVALID"}), PermanentError),
        "invalid event": Failure(Reply(400, {"status": "INVALID"}), PermanentError),
    },
    throttled=Reply(429, {"status": "INVALID"}, headers={"Retry-After": "5"}),
)
def test_snap_answers_become_retry_or_not(tool: Sink, http: Http, failure: Failure) -> None:
    assert_fails(tool, failure, lambda: send_event(context(tool, http), purchase()))


def test_definition() -> None:
    assert_conversions_definition(
        DESTINATION, secret="access_token", action="report_conversion_event", max_batch=2000
    )


def test_a_pixel_id_that_would_leave_its_path_is_refused(tool: Sink, http: Http) -> None:
    with pytest.raises(PermanentError, match="pixel_id"):
        send_event(context(tool, http, pixel_id="p/../../v2/conversion"), purchase())
    assert tool.received == []
