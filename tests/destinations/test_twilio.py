"""Twilio against a local sink that plays the Messages resource: HTTP Basic Account SID and
token, a form-encoded body with To, From or MessagingServiceSid, and Body."""

from __future__ import annotations

import base64
from typing import Any
from urllib.parse import parse_qs

import pytest

from seamline.destinations import registry
from seamline.destinations.catalog import twilio
from seamline.destinations.definition import Context
from seamline.destinations.errors import InvalidPayload, PermanentError
from seamline.destinations.http import Http
from seamline.destinations.mapping import compile_mapping, default_mapping, validate_payload
from tests.destinations.contract import Failure, assert_fails, failure_modes, reset
from tests.destinations.sink import Received, Reply, Sink

SID = "AC" + "0123456789abcdef" * 2
TOKEN = "twilio-auth-token"
SERVICE = "MG" + "fedcba9876543210" * 2
MESSAGES = f"/2010-04-01/Accounts/{SID}/Messages.json"


def error(status: int, code: int, message: str) -> Reply:
    return Reply(status, {"code": code, "message": message, "status": status})


def documented_shape(got: Received) -> Reply | None:
    """Twilio's answer to a request that breaks the Messages reference, else None."""
    expected = "Basic " + base64.b64encode(f"{SID}:{TOKEN}".encode()).decode()
    if got.headers.get("authorization") != expected:
        return error(401, 20003, "Authenticate")
    if (got.method, got.path) == ("GET", f"/2010-04-01/Accounts/{SID}.json"):
        return Reply(200, {"sid": SID, "status": "active"})
    if (got.method, got.path) != ("POST", MESSAGES):
        return error(404, 20404, "The requested resource was not found")
    if got.headers.get("content-type") != "application/x-www-form-urlencoded":
        return error(400, 21601, "unsupported content type")
    form = parse_qs(got.body.decode())
    if "To" not in form:
        return error(400, 21604, "A 'To' phone number is required.")
    if "From" not in form and "MessagingServiceSid" not in form:
        return error(400, 21603, "A 'From' phone number is required.")
    if "Body" not in form and "MediaUrl" not in form:
        return error(400, 21602, "Message body is required.")
    return None


@pytest.fixture
def tool(server: Sink) -> Sink:
    return reset(server, Reply(201, {"sid": "SM1", "status": "queued"}), documented_shape)


@pytest.fixture
def ctx(tool: Sink, http: Http) -> Context:
    return Context(
        {"account_sid": SID, "auth_token": TOKEN, "from": "+15005550006", "endpoint": tool.url},
        http,
    )


def test_the_catalog_finds_twilio() -> None:
    assert registry.load("twilio") is twilio.DESTINATION
    assert twilio.DESTINATION.delete is None


def test_the_preset_sends_a_templated_body_to_the_persons_phone(ctx: Context, tool: Sink) -> None:
    shipped = {
        "type": "track",
        "event": "Order Shipped",
        "userId": "u1",
        "properties": {"order_id": "o-17"},
        "context": {"traits": {"phone": "+44 7700 900123", "first_name": "Ada"}},
    }
    fields = twilio.DESTINATION.actions["send_sms"].fields
    mapping = default_mapping(fields) | {
        "body": {
            "@template": "Hi {{context.traits.first_name}}, order {{properties.order_id}} has shipped."
        }
    }

    twilio.send_sms(ctx, validate_payload(compile_mapping(mapping)(shipped), fields))

    [got] = tool.received
    assert got.path == MESSAGES
    assert parse_qs(got.body.decode()) == {
        "To": ["+447700900123"],
        "From": ["+15005550006"],
        "Body": ["Hi Ada, order o-17 has shipped."],
    }


def test_a_messaging_service_replaces_from_and_media_is_repeated(ctx: Context, tool: Sink) -> None:
    twilio.send_sms(
        ctx,
        {
            "to": "+15005550009",
            "messaging_service_sid": SERVICE,
            "media_url": ["https://x.io/a.png", "https://x.io/b.png"],
        },
    )

    form = parse_qs(tool.received[0].body.decode())
    assert form == {
        "To": ["+15005550009"],
        "MessagingServiceSid": [SERVICE],
        "MediaUrl": ["https://x.io/a.png", "https://x.io/b.png"],
    }


def test_twilio_sends_one_message_per_request() -> None:
    action = twilio.DESTINATION.actions["send_sms"]
    assert action.perform_batch is None and action.max_batch == 1


def test_authentication_reads_the_account(ctx: Context, tool: Sink) -> None:
    twilio.test_authentication(ctx)
    assert [got.path for got in tool.received] == [f"/2010-04-01/Accounts/{SID}.json"]


@failure_modes(
    unauthorized=error(401, 20003, "Authenticate"),
    more={
        "21610 unsubscribed": Failure(
            error(400, 21610, "Attempt to send to unsubscribed recipient"), PermanentError
        ),
        "21211 invalid to": Failure(error(400, 21211, "Invalid 'To' Phone Number"), PermanentError),
    },
    throttled=Reply(429, {"code": 20429, "message": "Too Many Requests"}, {"Retry-After": "1"}),
    outage=error(503, 20503, "Service unavailable"),
)
def test_twilio_answers_become_retry_or_not(ctx: Context, tool: Sink, failure: Failure) -> None:
    assert_fails(tool, failure, lambda: twilio.send_sms(ctx, {"to": "+15005550009", "body": "hi"}))


@pytest.mark.parametrize(
    ("payload", "settings", "message"),
    [
        ({"to": "555-0100", "body": "hi"}, {}, "E.164"),
        ({"to": "+15005550009", "body": " "}, {}, "body or media"),
        ({"to": "+15005550009", "body": "x" * 1_601}, {}, "1600"),
        ({"to": "+15005550009", "body": "hi"}, {"from": None}, "From number"),
        (
            {"to": "+15005550009", "body": "hi", "messaging_service_sid": "MG1"},
            {},
            "Messaging Service SID",
        ),
        ({"to": "+15005550009", "body": "hi"}, {"account_sid": "../../x"}, "Account SID"),
    ],
    ids=[
        "not e164",
        "blank body",
        "body too long",
        "no sender",
        "bad service sid",
        "bad account sid",
    ],
)
def test_invalid_messages_are_refused_before_sending(
    ctx: Context, tool: Sink, payload: dict[str, Any], settings: dict[str, Any], message: str
) -> None:
    ctx = Context({**ctx.settings, **settings}, ctx.http)
    error_type = PermanentError if "account_sid" in settings else InvalidPayload
    with pytest.raises(error_type, match=message):
        twilio.send_sms(ctx, payload)
    assert tool.received == []
