"""Pinterest Conversions API against a local sink that checks the documented request shape: POST
/v5/ad_accounts/{id}/events with a Bearer conversion token, `{data}` of 1 to 1,000 events whose
personal user_data keys are lists of SHA-256 hashes; the answer gives one status per event."""

from __future__ import annotations

import datetime as dt
import re
from typing import Any

import pytest

from seamline.destinations import registry
from seamline.destinations.catalog.pinterest_conversions import (
    ACTION_SOURCES,
    DESTINATION,
    HASHED,
    send_event,
    send_events,
    user_data,
)
from seamline.destinations.definition import Context
from seamline.destinations.errors import InvalidPayload, PermanentError
from seamline.destinations.hashing import sha256_hex
from seamline.destinations.http import Http
from tests.destinations.ads_contract import assert_conversions_definition, naming, preset_payload
from tests.destinations.contract import Failure, assert_fails, failure_modes, reset
from tests.destinations.sink import Received, Reply, Sink

ACCOUNT, TOKEN = "549755885175", "pina_conversion-token"
EVENTS_PATH = f"/v5/ad_accounts/{ACCOUNT}/events"
WHEN = (dt.datetime.now(dt.UTC) - dt.timedelta(hours=3)).replace(microsecond=0)
_HEX64 = re.compile(r"[0-9a-f]{64}")
_LISTED = {pinterest for pinterest, _ in HASHED.values()}


def error(status: int, message: str, code: int = 1) -> Reply:
    return Reply(status, {"code": code, "message": message})


def conversions_api(got: Received) -> Reply | None:
    """Pinterest's answer to a request that breaks the reference; for a batch holding an
    event_id starting with "refused", one status per event, that one failed (as an event
    Pinterest cannot use); otherwise None, so the scripted answer is given."""
    if got.headers.get("authorization") != f"Bearer {TOKEN}":
        return error(401, "Authentication failed.", 2)
    if (got.method, got.path) != ("POST", EVENTS_PATH):
        return error(404, "Not found")
    data = got.json().get("data")
    if not isinstance(data, list) or not 1 <= len(data) <= 1000:
        return error(400, "data must hold 1 to 1000 events")
    for event in data:
        users = event.get("user_data", {})
        ok = (
            event.get("event_name")
            and event.get("action_source") in ACTION_SOURCES
            and isinstance(event.get("event_time"), int)
            and event.get("event_id")
            and all(
                isinstance(users[key], list) and all(_HEX64.fullmatch(v) for v in users[key])
                for key in _LISTED & users.keys()
            )
            and isinstance(event.get("custom_data", {}).get("value", ""), str)
        )
        if not ok:
            return error(422, f"invalid event {event}")
    if not any(str(event["event_id"]).startswith("refused") for event in data):
        return None
    statuses = [
        {"status": "failed", "error_message": "event_time too old", "warning_message": ""}
        if str(event["event_id"]).startswith("refused")
        else {"status": "processed", "error_message": "", "warning_message": ""}
        for event in data
    ]
    processed = sum(s["status"] == "processed" for s in statuses)
    return Reply(
        200,
        {"num_events_received": len(data), "num_events_processed": processed, "events": statuses},
    )


@pytest.fixture
def tool(server: Sink) -> Sink:
    return reset(server, Reply(200, {}), conversions_api)


def context(tool: Sink, http: Http, **settings: Any) -> Context:
    base = {"ad_account_id": ACCOUNT, "conversion_token": TOKEN, "endpoint": tool.url}
    return Context({**base, **settings}, http)


def checkout(**fields: Any) -> dict[str, Any]:
    return {
        "segment_event": "Order Completed",
        "action_source": "web",
        "event_time": WHEN.isoformat(),
        "event_id": "msg-1",
        "event_source_url": "https://shop.example/thanks",
        "opt_out": False,
        "user_data": {
            "email": [" Jane.Doe@Example.COM "],
            "phone": ["+1 (650) 555-1212"],
            "external_id": ["User 1"],
            "client_ip_address": "203.0.113.9",
            "client_user_agent": "Mozilla/5.0",
        },
        "custom_data": {
            "currency": "USD",
            "value": 42.5,
            "order_id": "o-7",
            "contents": [{"id": "sku-1", "item_price": 21.25, "quantity": 2}],
        },
        **fields,
    }


def test_the_catalog_finds_it() -> None:
    assert registry.load("pinterest-conversions") is DESTINATION


def test_a_checkout_is_sent_with_hashed_lists(tool: Sink, http: Http) -> None:
    send_event(context(tool, http), checkout())

    [got] = tool.received
    assert got.query == {}
    assert got.json() == {
        "data": [
            {
                "event_name": "checkout",
                "action_source": "web",
                "event_time": int(WHEN.timestamp()),
                "event_id": "msg-1",
                "event_source_url": "https://shop.example/thanks",
                "opt_out": False,
                "user_data": {
                    "em": [sha256_hex("jane.doe@example.com")],
                    "ph": [sha256_hex("16505551212")],
                    "external_id": [sha256_hex("user1")],
                    "client_ip_address": "203.0.113.9",
                    "client_user_agent": "Mozilla/5.0",
                },
                "custom_data": {
                    "currency": "USD",
                    "value": "42.5",
                    "order_id": "o-7",
                    "contents": [{"id": "sku-1", "item_price": "21.25", "quantity": 2}],
                },
            }
        ]
    }


@pytest.mark.parametrize(
    ("key", "raw", "normalised"),
    [
        ("email", "  Jane.Doe@Example.COM ", "jane.doe@example.com"),
        ("phone", "+44 20 7946-0958", "442079460958"),
        ("gender", "Female", "f"),
        ("gender", "non-binary", "n"),
        ("date_of_birth", "1990-07-04", "19900704"),
        ("first_name", "Mary Ann", "maryann"),
        ("state", "CA", "ca"),
        ("country", "US", "us"),
        (
            "mobile_ad_id",
            "AEBE52E7-03EE-455A-B3C4-E57283966239",
            "aebe52e7-03ee-455a-b3c4-e57283966239",
        ),
    ],
)
def test_identifiers_are_normalised_as_pinterest_documents(
    key: str, raw: str, normalised: str
) -> None:
    pinterest_key = HASHED[key][0]
    assert user_data({key: raw}) == {pinterest_key: [sha256_hex(normalised)]}


def test_a_value_already_hashed_is_kept() -> None:
    digest = sha256_hex("jane@example.com")
    assert user_data({"email": [digest.upper(), "ada@example.com"]}) == {
        "em": [digest, sha256_hex("ada@example.com")]
    }


def test_the_preset_mapping_turns_a_product_added_into_add_to_cart(tool: Sink, http: Http) -> None:
    message = {
        "type": "track",
        "event": "Product Added",
        "messageId": "m-9",
        "anonymousId": "anon-9",
        "timestamp": WHEN.isoformat(),
        "properties": {"product_id": "p1", "price": 9.5, "quantity": 1, "currency": "EUR"},
        "context": {
            "ip": "198.51.100.4",
            "userAgent": "Mozilla/5.0",
            "page": {"url": "https://s/p1"},
        },
    }
    action, payload = preset_payload(DESTINATION, message, naming("Product Added"))

    action.perform(context(tool, http), payload)

    [event] = tool.received[0].json()["data"]
    assert (event["event_name"], event["event_id"], event["action_source"]) == (
        "add_to_cart",
        "m-9",
        "web",
    )
    assert event["event_source_url"] == "https://s/p1"
    assert event["user_data"] == {
        "external_id": [sha256_hex("anon-9")],
        "client_ip_address": "198.51.100.4",
        "client_user_agent": "Mozilla/5.0",
    }
    assert event["custom_data"] == {"currency": "EUR", "value": "9.5", "num_items": 1}


def test_a_failed_event_fails_alone_and_batches_split_at_1000(
    tool: Sink, patient_http: Http
) -> None:
    payloads = [checkout(event_id=f"m{i}") for i in range(1001)]
    payloads[3] = checkout(event_id="refused-3")
    payloads[7] = checkout(user_data={"email": [" "]})

    outcomes = send_events(context(tool, patient_http), payloads)

    assert isinstance(outcomes[3], PermanentError) and "event_time too old" in str(outcomes[3])
    assert isinstance(outcomes[7], InvalidPayload)
    assert [o for i, o in enumerate(outcomes) if i not in (3, 7)] == [None] * 999
    assert [len(r.json()["data"]) for r in tool.received] == [1000]


@pytest.mark.parametrize(
    "fields",
    [
        {"segment_event": "Coupon Applied"},
        {"action_source": "website"},
        {"event_id": None},
        {"user_data": {"client_ip_address": "203.0.113.9", "phone": ["+16505551212"]}},
        {"event_time": (WHEN - dt.timedelta(days=8)).isoformat()},
    ],
    ids=["no event name", "bad action source", "no event id", "no usable identifier", "too old"],
)
def test_invalid_events_send_nothing(tool: Sink, http: Http, fields: dict[str, Any]) -> None:
    with pytest.raises(InvalidPayload):
        send_event(context(tool, http), checkout(**fields))
    assert tool.received == []


def test_authentication_posts_a_test_event(tool: Sink, http: Http) -> None:
    check = DESTINATION.test_authentication
    assert check is not None
    check(context(tool, http))
    with pytest.raises(PermanentError):
        check(context(tool, http, conversion_token="wrong"))
    assert tool.received[0].query == {"test": ["true"]}


@failure_modes(
    unauthorized=Reply(401, {"code": 2, "message": "Authentication failed."}),
    more={
        "forbidden": Failure(error(403, "Not authorized to access the ad account"), PermanentError),
        "unprocessable": Failure(error(422, "Invalid event"), PermanentError),
    },
    throttled=Reply(429, {"code": 8, "message": "Rate limited"}, headers={"Retry-After": "10"}),
)
def test_pinterest_answers_become_retry_or_not(tool: Sink, http: Http, failure: Failure) -> None:
    assert_fails(tool, failure, lambda: send_event(context(tool, http), checkout()))


def test_definition() -> None:
    assert_conversions_definition(
        DESTINATION, secret="conversion_token", action="report_conversion_event", max_batch=1000
    )


def test_an_account_id_that_would_leave_its_path_is_refused(tool: Sink, http: Http) -> None:
    with pytest.raises(PermanentError, match="ad_account_id"):
        send_event(context(tool, http, ad_account_id="1/../../x"), checkout())
    assert tool.received == []
