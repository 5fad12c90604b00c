"""HubSpot against a local sink that enforces the documented request shapes: Bearer token,
contacts batch upsert by email (at most 100 inputs), custom behavioral events."""

from __future__ import annotations

import re
from typing import Any

import pytest

from seamline.destinations import registry
from seamline.destinations.catalog import hubspot
from seamline.destinations.definition import Context
from seamline.destinations.errors import InvalidPayload, PermanentError
from seamline.destinations.http import Http
from tests.destinations.contract import Failure, assert_fails, failure_modes, reset
from tests.destinations.sink import Received, Reply, Sink

TOKEN = "pat-na1-test"


def documented_shape(got: Received) -> Reply | None:
    """HubSpot's answer to a request that breaks its API reference, else None."""
    if got.headers.get("authorization") != f"Bearer {TOKEN}":
        return Reply(401, {"status": "error", "category": "INVALID_AUTHENTICATION"})
    if (got.method, got.path) == ("GET", "/crm/v3/objects/contacts"):
        return None
    body = got.json()
    if (got.method, got.path) == ("POST", "/crm/v3/objects/contacts/batch/upsert"):
        inputs = body.get("inputs")
        ok = isinstance(inputs, list) and 1 <= len(inputs) <= 100
        ok = ok and all(
            i.get("idProperty") == "email"
            and "@" in i.get("id", "")
            and isinstance(i.get("properties"), dict)
            for i in inputs
        )
        ok = ok and len({i["id"] for i in inputs}) == len(inputs)  # duplicate ids are refused
        return None if ok else Reply(400, {"status": "error", "category": "VALIDATION_ERROR"})
    if (got.method, got.path) == ("POST", "/events/v3/send"):
        ok = re.match(r"^pe\d+_", body.get("eventName", "")) and any(
            body.get(k) for k in ("email", "utk", "objectId")
        )
        return None if ok else Reply(400, {"status": "error", "category": "VALIDATION_ERROR"})
    return Reply(404, {"status": "error", "category": "OBJECT_NOT_FOUND"})


@pytest.fixture
def tool(server: Sink) -> Sink:
    return reset(server, Reply(), documented_shape)


@pytest.fixture
def ctx(tool: Sink, http: Http) -> Context:
    return Context({"access_token": TOKEN, "endpoint": tool.url}, http)


def contact(email: str, **extra: Any) -> dict[str, Any]:
    return {"email": email, **extra}


ADA = contact(
    "Ada@Example.com",
    firstname="Ada",
    lastname="Lovelace",
    company="Analytical Engines",
    zip="W1",
    lifecyclestage="Lead",
    phone=None,
    properties={"plan": "pro", "seats": 3, "tags": ["a", "b"], "meta": {"k": 1}, "gone": None},
)


def test_the_catalog_finds_hubspot() -> None:
    assert registry.load("hubspot") is hubspot.DESTINATION


def test_upsert_contact_sends_one_upsert_by_lowercased_email(ctx: Context, tool: Sink) -> None:
    hubspot.DESTINATION.actions["upsert_contact"].perform(ctx, ADA)

    [got] = tool.received
    assert (got.method, got.path) == ("POST", "/crm/v3/objects/contacts/batch/upsert")
    assert got.json() == {
        "inputs": [
            {
                "idProperty": "email",
                "id": "ada@example.com",
                "properties": {
                    "company": "Analytical Engines",
                    "firstname": "Ada",
                    "lastname": "Lovelace",
                    "zip": "W1",
                    "lifecyclestage": "lead",
                    "plan": "pro",
                    "seats": 3,
                    "tags": "a;b",
                    "meta": '{"k": 1}',
                },
            }
        ]
    }


def test_a_batch_is_split_at_100_and_merges_repeated_emails(ctx: Context, tool: Sink) -> None:
    payloads = [contact(f"user{n}@example.com", firstname=f"U{n}") for n in range(150)]
    payloads.append(contact("USER0@example.com", lastname="Zero"))

    perform_batch = hubspot.DESTINATION.actions["upsert_contact"].perform_batch
    assert perform_batch is not None
    perform_batch(ctx, payloads)

    first, second = (got.json()["inputs"] for got in tool.received)
    assert (len(first), len(second)) == (100, 50)
    assert first[0] == {
        "idProperty": "email",
        "id": "user0@example.com",
        "properties": {"firstname": "U0", "lastname": "Zero"},
    }


def test_contacts_refused_inside_a_207_are_a_permanent_error(ctx: Context, tool: Sink) -> None:
    tool.default = Reply(
        207,
        {
            "status": "COMPLETE",
            "results": [],
            "numErrors": 1,
            "errors": [{"message": "Property values were not valid"}],
        },
    )

    with pytest.raises(PermanentError, match="Property values were not valid"):
        hubspot.upsert_contact(ctx, ADA)


def test_custom_behavioral_event_is_sent_with_flattened_properties(
    ctx: Context, tool: Sink
) -> None:
    hubspot.DESTINATION.actions["send_custom_behavioral_event"].perform(
        ctx,
        {
            "eventName": "pe123456_signed_up",
            "occurredAt": "2024-05-01T10:00:00.000Z",
            "email": "ada@example.com",
            "properties": {"plan": "pro", "features": ["x", "y"]},
        },
    )

    [got] = tool.received
    assert (got.method, got.path) == ("POST", "/events/v3/send")
    assert got.json() == {
        "eventName": "pe123456_signed_up",
        "occurredAt": "2024-05-01T10:00:00.000Z",
        "email": "ada@example.com",
        "properties": {"plan": "pro", "features": "x;y"},
    }


def test_authentication_reads_one_contact(ctx: Context, tool: Sink) -> None:
    assert hubspot.DESTINATION.test_authentication is not None
    hubspot.DESTINATION.test_authentication(ctx)

    [got] = tool.received
    assert (got.method, got.path, got.query) == (
        "GET",
        "/crm/v3/objects/contacts",
        {"limit": ["1"]},
    )


def test_a_wrong_token_is_a_permanent_error(tool: Sink, http: Http) -> None:
    ctx = Context({"access_token": "revoked", "endpoint": tool.url}, http)
    with pytest.raises(PermanentError) as raised:
        hubspot.upsert_contact(ctx, ADA)
    assert raised.value.status == 401
    assert "revoked" not in (raised.value.request or "")


@failure_modes(
    unauthorized=Reply(401, {"status": "error", "category": "INVALID_AUTHENTICATION"}),
    throttled=Reply(429, {"category": "RATE_LIMITS"}, {"Retry-After": "7"}),
    outage=Reply(500, {"category": "INTERNAL_ERROR"}),
)
def test_hubspot_answers_become_retry_or_not(ctx: Context, tool: Sink, failure: Failure) -> None:
    assert_fails(tool, failure, lambda: hubspot.upsert_contact(ctx, ADA), every_request=True)


@pytest.mark.parametrize(
    ("action", "payload", "message"),
    [
        ("upsert_contact", {"firstname": "Ada"}, "by email"),
        ("upsert_contact", {"email": "not an email"}, "by email"),
        ("send_custom_behavioral_event", {"eventName": "signed_up", "email": "a@b.c"}, "pe<HubID>"),
        ("send_custom_behavioral_event", {"eventName": "pe1_signed_up"}, "email, utk or objectId"),
    ],
    ids=["no email", "bad email", "event name without pe<HubID>_", "event without a contact"],
)
def test_invalid_payloads_are_refused_before_sending(
    ctx: Context, tool: Sink, action: str, payload: dict[str, Any], message: str
) -> None:
    with pytest.raises(InvalidPayload, match=message):
        hubspot.DESTINATION.actions[action].perform(ctx, payload)
    assert tool.received == []


def test_one_invalid_payload_stops_the_whole_batch_before_sending(ctx: Context, tool: Sink) -> None:
    with pytest.raises(InvalidPayload, match="payload 1 of the batch"):
        hubspot.upsert_contacts(ctx, [ADA, {"firstname": "no email"}])
    assert tool.received == []
