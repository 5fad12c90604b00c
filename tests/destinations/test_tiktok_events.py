"""TikTok Events API 2.0 against a local sink that checks the documented request shape: POST
/open_api/v1.3/event/track/ with an Access-Token header, `{event_source: web, event_source_id,
data}` of 1 to 1,000 events; and TikTok's way of refusing, a 200 whose body's code is not 0."""

from __future__ import annotations

import datetime as dt
import re
from typing import Any

import pytest

from seamline.destinations import registry
from seamline.destinations.catalog.tiktok_events import (
    DESTINATION,
    send_event,
    send_events,
    tiktok_user,
)
from seamline.destinations.definition import Context
from seamline.destinations.errors import InvalidPayload, PermanentError, RetryableError
from seamline.destinations.hashing import sha256_hex
from seamline.destinations.http import Http
from tests.destinations.ads_contract import assert_conversions_definition, naming, preset_payload
from tests.destinations.contract import Failure, assert_fails, failure_modes, reset
from tests.destinations.sink import Received, Reply, Sink

PIXEL, TOKEN = "C4ABCDEF0123456789", "tiktok-events-token"
TRACK_PATH = "/open_api/v1.3/event/track/"
WHEN = (dt.datetime.now(dt.UTC) - dt.timedelta(minutes=5)).replace(microsecond=0)
_HEX64 = re.compile(r"[0-9a-f]{64}")


def answer(code: int, message: str) -> Reply:
    return Reply(200, {"code": code, "message": message, "request_id": "r-1", "data": {}})


def events_api(got: Received) -> Reply | None:
    """TikTok's answer (a 200 with a non-zero code) to a request that breaks the reference."""
    if got.headers.get("access-token") != TOKEN:
        return answer(40105, "The access token is invalid.")
    if (got.method, got.path) != ("POST", TRACK_PATH):
        return Reply(404, {"code": 40400, "message": "Not found"})
    body = got.json()
    data = body.get("data")
    if body.get("event_source") != "web" or body.get("event_source_id") != PIXEL:
        return answer(40002, "event_source_id: invalid pixel code")
    if not isinstance(data, list) or not 1 <= len(data) <= 1000:
        return answer(40002, "data: 1 to 1000 events")
    for event in data:
        user = event.get("user", {})
        ok = (
            event.get("event")
            and isinstance(event.get("event_time"), int)
            and all(
                isinstance(user.get(key, []), list) and all(_HEX64.fullmatch(v) for v in user[key])
                for key in ("email", "phone", "external_id")
                if key in user
            )
        )
        if not ok:
            return answer(40002, f"invalid event {event}")
    return None


@pytest.fixture
def tool(server: Sink) -> Sink:
    return reset(server, answer(0, "OK"), events_api)


def context(tool: Sink, http: Http, **settings: Any) -> Context:
    base = {"pixel_code": PIXEL, "access_token": TOKEN, "endpoint": tool.url}
    return Context({**base, **settings}, http)


def payment(**fields: Any) -> dict[str, Any]:
    return {
        "segment_event": "Order Completed",
        "event_time": WHEN.isoformat(),
        "event_id": "msg-1",
        "user": {
            "email": [" Jane.Doe@Example.COM "],
            "phone": ["(650) 555-1212 ext", "+1 650 555 1213"],
            "external_id": ["User-1"],
            "ttp": "ttp-cookie",
            "ip": "203.0.113.9",
            "user_agent": "Mozilla/5.0",
        },
        "properties": {
            "contents": [{"content_id": "sku-1", "price": 21.25, "quantity": 2}],
            "content_type": "product",
            "currency": "USD",
            "value": 42.5,
            "order_id": "o-7",
        },
        "url": "https://shop.example/thanks?ttclid=E.C.P.abc",
        "referrer": "https://shop.example/cart",
        **fields,
    }


def test_the_catalog_finds_it() -> None:
    assert registry.load("tiktok-events") is DESTINATION


def test_a_payment_is_sent_with_hashed_identifiers(tool: Sink, http: Http) -> None:
    send_event(context(tool, http, test_event_code="TEST42"), payment())

    [got] = tool.received
    assert got.headers["access-token"] == TOKEN
    assert got.json() == {
        "event_source": "web",
        "event_source_id": PIXEL,
        "test_event_code": "TEST42",
        "data": [
            {
                "event": "CompletePayment",
                "event_time": int(WHEN.timestamp()),
                "event_id": "msg-1",
                "user": {
                    "email": [sha256_hex("jane.doe@example.com")],
                    "phone": [sha256_hex("+6505551212"), sha256_hex("+16505551213")],
                    "external_id": [sha256_hex("user-1")],
                    "ttclid": "E.C.P.abc",
                    "ttp": "ttp-cookie",
                    "ip": "203.0.113.9",
                    "user_agent": "Mozilla/5.0",
                },
                "properties": {
                    "contents": [{"content_id": "sku-1", "price": 21.25, "quantity": 2}],
                    "content_type": "product",
                    "currency": "USD",
                    "value": 42.5,
                    "order_id": "o-7",
                },
                "page": {
                    "url": "https://shop.example/thanks?ttclid=E.C.P.abc",
                    "referrer": "https://shop.example/cart",
                },
                "limited_data_use": False,
            }
        ],
    }


def test_hashing_vectors_and_a_value_already_hashed() -> None:
    digest = sha256_hex("ada@example.com")
    assert tiktok_user(
        {"email": [digest.upper(), "  ADA@example.com"], "phone": "0044 20 7946 0958"}
    ) == {"email": [digest, digest], "phone": [sha256_hex("+442079460958")]}


def test_the_preset_mapping_turns_a_product_added_into_add_to_cart(tool: Sink, http: Http) -> None:
    message = {
        "type": "track",
        "event": "Product Added",
        "messageId": "m-5",
        "anonymousId": "anon-5",
        "timestamp": WHEN.isoformat(),
        "properties": {"product_id": "p1", "price": 9.5, "currency": "EUR", "ttclid": "click-5"},
        "context": {"ip": "198.51.100.4", "page": {"url": "https://s/p1"}},
    }
    action, payload = preset_payload(DESTINATION, message, naming("Product Added"))

    action.perform(context(tool, http), payload)

    [event] = tool.received[0].json()["data"]
    assert event == {
        "event": "AddToCart",
        "event_time": int(WHEN.timestamp()),
        "event_id": "m-5",
        "user": {
            "external_id": [sha256_hex("anon-5")],
            "ttclid": "click-5",
            "ip": "198.51.100.4",
        },
        "properties": {"content_type": "product", "currency": "EUR", "value": 9.5},
        "page": {"url": "https://s/p1"},
        "limited_data_use": False,
    }


def test_a_batch_is_split_at_1000(tool: Sink, patient_http: Http) -> None:
    outcomes = send_events(
        context(tool, patient_http), [payment(event_id=f"m{i}") for i in range(1001)]
    )
    assert outcomes == [None] * 1001
    assert [len(r.json()["data"]) for r in tool.received] == [1000, 1]


def test_an_event_without_a_name_is_refused_alone(tool: Sink, http: Http) -> None:
    outcomes = send_events(
        context(tool, http), [payment(segment_event="Coupon Applied"), payment()]
    )
    assert isinstance(outcomes[0], InvalidPayload) and outcomes[1] is None
    assert len(tool.received) == 1


@failure_modes(
    unauthorized=Reply(401, {"code": 40105, "message": "Unauthorized"}),
    more={
        "200 bad token": Failure(answer(40105, "The access token is invalid"), PermanentError),
        "200 no permission": Failure(
            answer(40001, "No permission to operate pixel"), PermanentError
        ),
        "200 invalid": Failure(answer(40002, "event: invalid"), PermanentError),
        "200 too frequent": Failure(answer(40100, "Requests made too frequently"), RetryableError),
        "200 system error": Failure(answer(50002, "Internal error"), RetryableError),
    },
    throttled=Reply(429, {"code": 40100}, headers={"Retry-After": "2"}),
)
def test_tiktok_answers_become_retry_or_not(tool: Sink, http: Http, failure: Failure) -> None:
    assert_fails(tool, failure, lambda: send_event(context(tool, http), payment()))


def test_definition() -> None:
    assert_conversions_definition(
        DESTINATION, secret="access_token", action="report_web_event", max_batch=1000
    )
