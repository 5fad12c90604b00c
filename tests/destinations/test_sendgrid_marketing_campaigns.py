"""SendGrid Marketing Campaigns against a local sink that plays the contacts API: Bearer key,
the upsert's `contacts` and `list_ids`, field definitions, search by email, list removal and
deletion by ids."""

from __future__ import annotations

from typing import Any

import pytest

from seamline.destinations import registry
from seamline.destinations.catalog import sendgrid_marketing_campaigns as sendgrid
from seamline.destinations.definition import Context
from seamline.destinations.errors import InvalidPayload, PermanentError
from seamline.destinations.http import Http
from seamline.identity.identifiers import Identifier
from seamline.privacy.subject import Person
from tests.destinations.contract import Failure, assert_fails, failure_modes, reset
from tests.destinations.payloads import default_payload
from tests.destinations.sink import Received, Reply, Sink

KEY = "SG.test-key"
LIST = "ca7a3796-e8a8-4029-9ccb-df8937940562"
CONTACTS = {"ada@example.com": "c-ada", "bob@example.com": "c-bob"}
FIELDS = {
    "custom_fields": [{"id": "e1_T", "name": "plan", "field_type": "Text"}],
    "reserved_fields": [],
}


def documented_shape(got: Received) -> Reply | None:
    """SendGrid's answer to a request that breaks its reference, else None."""
    if got.headers.get("authorization") != f"Bearer {KEY}":
        return Reply(401, {"errors": [{"field": None, "message": "authorization required"}]})
    if (got.method, got.path) == ("GET", "/v3/marketing/field_definitions"):
        return Reply(200, FIELDS)
    if (got.method, got.path) == ("GET", "/v3/scopes"):
        return Reply(200, {"scopes": ["marketing.read"]})
    if (got.method, got.path) == ("PUT", "/v3/marketing/contacts"):
        contacts = got.json().get("contacts") or []
        if not 1 <= len(contacts) <= 30_000 or len(got.body) > 6_000_000:
            return Reply(413, {"errors": [{"message": "too large"}]})
        if not all(
            any(c.get(k) for k in ("email", "external_id", "anonymous_id", "phone_number_id"))
            for c in contacts
        ):
            return Reply(400, {"errors": [{"field": "contacts", "message": "identifier required"}]})
        return None
    if (got.method, got.path) == ("POST", "/v3/marketing/contacts/search/emails"):
        emails = got.json()["emails"]
        if len(emails) > 100:
            return Reply(400, {"errors": [{"message": "too many"}]})
        result = {e: {"contact": {"id": CONTACTS[e], "email": e}} for e in emails if e in CONTACTS}
        return (
            Reply(200, {"result": result})
            if result
            else Reply(404, {"errors": [{"message": "not found"}]})
        )
    if got.method == "DELETE":
        ids = (got.query.get("contact_ids") or got.query.get("ids") or [""])[0].split(",")
        return (
            None
            if 1 <= len(ids) <= 100 and all(ids)
            else Reply(400, {"errors": [{"message": "ids"}]})
        )
    return Reply(404, {"errors": [{"message": "not found"}]})


@pytest.fixture
def tool(server: Sink) -> Sink:
    return reset(server, Reply(202, {"job_id": "job-2"}), documented_shape)


@pytest.fixture
def ctx(tool: Sink, http: Http) -> Context:
    return Context({"api_key": KEY, "endpoint": tool.url}, http)


def mapped(action: str, event: dict[str, Any], **literals: Any) -> dict[str, Any]:
    return default_payload(sendgrid.DESTINATION.actions[action], event, **literals)


def test_the_catalog_finds_sendgrid() -> None:
    assert registry.load("sendgrid-marketing-campaigns") is sendgrid.DESTINATION


def test_the_identify_preset_upserts_a_contact_with_custom_fields_by_id(
    ctx: Context, tool: Sink
) -> None:
    identify = {
        "type": "identify",
        "userId": "u1",
        "traits": {"email": "ada@example.com", "firstName": "Ada", "plan": "pro"},
    }

    sendgrid.upsert_contact(
        ctx, mapped("upsert_contact", identify, custom_fields={"plan": {"@path": "$.traits.plan"}})
    )

    definitions, upsert = tool.received
    assert definitions.path == "/v3/marketing/field_definitions"
    assert upsert.json() == {
        "contacts": [
            {
                "email": "ada@example.com",
                "external_id": "u1",
                "first_name": "Ada",
                "custom_fields": {"e1_T": "pro"},
            }
        ]
    }


def test_audience_entered_upserts_into_the_list(ctx: Context, tool: Sink) -> None:
    entered = {
        "type": "track",
        "event": "Audience Entered",
        "userId": "u1",
        "context": {"traits": {"email": "ada@example.com"}},
    }

    sendgrid.add_to_list(ctx, mapped("add_to_list", entered, list_id=LIST))

    [got] = tool.received
    assert got.json() == {
        "contacts": [{"email": "ada@example.com", "external_id": "u1"}],
        "list_ids": [LIST],
    }


def test_upserts_are_sent_1000_per_request(ctx: Context, tool: Sink) -> None:
    sendgrid.upsert_contacts(ctx, [{"email": f"p{n}@example.com"} for n in range(1_001)])
    assert [len(got.json()["contacts"]) for got in tool.received] == [1_000, 1]


def test_audience_exited_removes_the_known_contacts_from_the_list(ctx: Context, tool: Sink) -> None:
    sendgrid.remove_from_lists(
        ctx,
        [
            {"email": "ada@example.com", "list_id": LIST},
            {"email": "nobody@example.com", "list_id": LIST},
        ],
    )

    search, removal = tool.received
    assert search.json() == {"emails": ["ada@example.com", "nobody@example.com"]}
    assert (removal.method, removal.path) == ("DELETE", f"/v3/marketing/lists/{LIST}/contacts")
    assert removal.query == {"contact_ids": ["c-ada"]}


def test_removing_someone_sendgrid_does_not_know_sends_no_removal(ctx: Context, tool: Sink) -> None:
    sendgrid.remove_from_list(ctx, {"email": "nobody@example.com", "list_id": LIST})
    assert [got.path for got in tool.received] == ["/v3/marketing/contacts/search/emails"]


def test_authentication_reads_the_scopes(ctx: Context, tool: Sink) -> None:
    sendgrid.test_authentication(ctx)
    assert [got.path for got in tool.received] == ["/v3/scopes"]


@failure_modes(
    unauthorized=Reply(401, {"errors": [{"message": "authorization required"}]}),
    more={
        "403": Failure(Reply(403, {"errors": [{"message": "access forbidden"}]}), PermanentError),
        "400": Failure(
            Reply(400, {"errors": [{"field": "email", "message": "invalid"}]}), PermanentError
        ),
    },
    throttled=Reply(429, {"errors": [{"message": "too many requests"}]}, {"Retry-After": "6"}),
)
def test_sendgrid_answers_become_retry_or_not(ctx: Context, tool: Sink, failure: Failure) -> None:
    assert_fails(tool, failure, lambda: sendgrid.upsert_contact(ctx, {"email": "ada@example.com"}))


@pytest.mark.parametrize(
    ("action", "payload", "message"),
    [
        ("upsert_contact", {"first_name": "Ada"}, "needs one of email"),
        ("add_to_list", {"email": "a@example.com", "list_id": "../scopes"}, "UUID"),
        ("remove_from_list", {"list_id": LIST}, "email"),
    ],
    ids=["contact for nobody", "list not a uuid", "removal without email"],
)
def test_invalid_payloads_are_refused_before_sending(
    ctx: Context, tool: Sink, action: str, payload: dict[str, Any], message: str
) -> None:
    with pytest.raises(InvalidPayload, match=message):
        sendgrid.DESTINATION.actions[action].perform(ctx, payload)
    assert tool.received == []


def test_an_unknown_custom_field_is_refused_after_reading_the_definitions(
    ctx: Context, tool: Sink
) -> None:
    with pytest.raises(InvalidPayload, match="no custom fields tier"):
        sendgrid.upsert_contact(ctx, {"email": "a@example.com", "custom_fields": {"tier": "gold"}})
    assert [got.path for got in tool.received] == ["/v3/marketing/field_definitions"]


def test_deletion_deletes_the_contacts_found_by_email(ctx: Context, tool: Sink) -> None:
    ids = {
        Identifier("email", "ada@example.com"),
        Identifier("email", "bob@example.com"),
        Identifier("user_id", "u1"),
    }
    sendgrid.delete_person(
        ctx, Person(workspace_id="w", identifiers=frozenset(ids), profile_ids=frozenset())
    )

    _, deletion = tool.received
    assert (deletion.method, deletion.path) == ("DELETE", "/v3/marketing/contacts")
    assert sorted(deletion.query["ids"][0].split(",")) == ["c-ada", "c-bob"]


def test_the_eu_region_has_its_own_host(http: Http) -> None:
    ctx = Context({"api_key": KEY, "region": "EU"}, http)
    assert sendgrid._url(ctx, "/v3/scopes") == "https://api.eu.sendgrid.com/v3/scopes"
