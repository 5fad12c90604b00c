"""Salesforce against a local sink playing an org: it issues OAuth tokens, answers 401 to
unknown or revoked ones, and enforces the documented upsert shapes (external id in the path,
sObject Collections of at most 200 records, each with attributes.type)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qs

import pytest

from seamline.destinations import registry
from seamline.destinations.catalog import salesforce
from seamline.destinations.definition import Context
from seamline.destinations.errors import InvalidPayload, PermanentError, RetryableError
from seamline.destinations.http import Http
from tests.destinations.contract import Failure, assert_fails, failure_modes, reset
from tests.destinations.sink import Received, Reply, Sink

API = "/services/data/v62.0"
EXPIRED = [{"message": "Session expired or invalid", "errorCode": "INVALID_SESSION_ID"}]


@dataclass
class Org:
    """The org's side of the protocol, as a sink `check`."""

    issued: list[str] = field(default_factory=list)
    revoked: bool = False  # every token is refused, even a fresh one
    refuse: dict[str, str] = field(default_factory=dict)  # external id -> record error code

    def __call__(self, got: Received) -> Reply | None:
        if got.path == "/services/oauth2/token":
            return self.token(parse_qs(got.body.decode()))
        token = got.headers.get("authorization", "").removeprefix("Bearer ")
        if self.revoked or token not in self.issued:
            return Reply(401, EXPIRED)
        if got.method == "PATCH" and got.path.startswith(f"{API}/sobjects/"):
            return None if got.path.count("/") == 7 else Reply(404, [{"errorCode": "NOT_FOUND"}])
        if got.method == "PATCH" and got.path.startswith(f"{API}/composite/sobjects/"):
            return self.collection(got)
        return (
            None
            if (got.method, got.path) == ("GET", f"{API}/")
            else Reply(404, [{"errorCode": "NOT_FOUND"}])
        )

    def token(self, form: dict[str, list[str]]) -> Reply:
        grant = form.get("grant_type", [""])[0]
        needed = {
            "refresh_token": ("client_id", "client_secret", "refresh_token"),
            "client_credentials": ("client_id", "client_secret"),
        }
        if (
            form.get("client_secret") != ["shh"]
            or grant not in needed
            or any(k not in form for k in needed[grant])
        ):
            return Reply(
                400, {"error": "invalid_grant", "error_description": "authentication failure"}
            )
        self.issued.append(f"token-{len(self.issued) + 1}")
        return Reply(
            200,
            {
                "access_token": self.issued[-1],
                "instance_url": "https://acme.my.salesforce.com",
                "token_type": "Bearer",
            },
        )

    def collection(self, got: Received) -> Reply:
        sobject, id_field = got.path.split("/")[-2:]
        records = got.json().get("records", [])
        if not 1 <= len(records) <= 200 or any(
            r.get("attributes", {}).get("type") != sobject or id_field not in r for r in records
        ):
            return Reply(400, [{"errorCode": "INVALID_FIELD", "message": "malformed collection"}])
        results = []
        for n, record in enumerate(records):
            code = self.refuse.get(record[id_field])
            errors = [{"statusCode": code, "message": "refused", "fields": []}] if code else []
            results.append(
                {"id": f"00Q{n:015d}", "success": not code, "errors": errors, "created": True}
            )
        return Reply(200, results)


@pytest.fixture
def org(server: Sink) -> Org:
    created = Reply(201, {"id": "00Q000000000001", "success": True, "errors": [], "created": True})
    reset(server, created, org := Org())
    return org


@pytest.fixture
def tool(server: Sink, org: Org) -> Sink:
    return server


def settings(url: str, **extra: str) -> dict[str, str]:
    return {"instance_url": url, "client_id": "consumer-key", "client_secret": "shh", **extra}


@pytest.fixture
def ctx(tool: Sink, http: Http) -> Context:
    return Context(settings(tool.url), http)


def lead(user: str, **extra: Any) -> dict[str, Any]:
    fields = {
        "external_id_field": "Seamline_Id__c",
        "external_id": user,
        "last_name": "Lovelace",
        "company": "Analytical Engines",
    }
    return fields | extra


def requests(tool: Sink) -> list[tuple[str, str]]:
    return [(got.method, got.path) for got in tool.received]


def test_the_catalog_finds_salesforce() -> None:
    assert registry.load("salesforce") is salesforce.DESTINATION


def test_a_lead_is_upserted_by_external_id_with_a_client_credentials_token(
    ctx: Context, tool: Sink
) -> None:
    salesforce.DESTINATION.actions["upsert_lead"].perform(
        ctx,
        lead(
            "u 1/2",
            first_name="Ada",
            email="ada@example.com",
            city="London",
            country=None,
            custom_fields={"Rating": "Hot", "Seamline_Id__c": "ignored"},
        ),
    )

    token, upsert = tool.received
    assert (token.method, token.path) == ("POST", "/services/oauth2/token")
    assert parse_qs(token.body.decode()) == {
        "client_id": ["consumer-key"],
        "client_secret": ["shh"],
        "grant_type": ["client_credentials"],
    }
    assert (upsert.method, upsert.path) == (
        "PATCH",
        f"{API}/sobjects/Lead/Seamline_Id__c/u%201%2F2",
    )
    assert upsert.headers["authorization"] == "Bearer token-1"
    assert upsert.json() == {
        "LastName": "Lovelace",
        "Company": "Analytical Engines",
        "FirstName": "Ada",
        "Email": "ada@example.com",
        "City": "London",
        "Rating": "Hot",
    }


def test_a_contact_is_upserted_with_a_refresh_token_grant(tool: Sink, http: Http) -> None:
    ctx = Context(settings(tool.url, refresh_token="5Aep-refresh"), http)
    salesforce.DESTINATION.actions["upsert_contact"].perform(
        ctx,
        {
            "external_id_field": "Ext__c",
            "external_id": "u1",
            "last_name": "Hopper",
            "account_id": "001A",
            "mailing_city": "Arlington",
        },
    )
    salesforce.upsert_contact(
        ctx, {"external_id_field": "Ext__c", "external_id": "u2", "last_name": "Hamilton"}
    )

    token, first, second = tool.received
    assert parse_qs(token.body.decode())["grant_type"] == ["refresh_token"]
    assert parse_qs(token.body.decode())["refresh_token"] == ["5Aep-refresh"]
    assert (first.path, second.path) == (
        f"{API}/sobjects/Contact/Ext__c/u1",
        f"{API}/sobjects/Contact/Ext__c/u2",
    )
    assert first.json() == {"LastName": "Hopper", "AccountId": "001A", "MailingCity": "Arlington"}
    assert ctx.state == {"salesforce.access_token": "token-1"}  # fetched once, then cached
    # What a dead letter or the event tester could show holds no credential or token.
    recorded = "\n".join(e.request_text() + str(e.response_body) for e in http.exchanges)
    assert "5Aep-refresh" not in recorded and '"token-1"' not in recorded


def test_a_batch_is_a_collection_upsert_of_at_most_200_records(ctx: Context, tool: Sink) -> None:
    payloads = [lead(f"u{n}") for n in range(250)]
    payloads.append(lead("u0", email="ada@example.com"))

    perform_batch = salesforce.DESTINATION.actions["upsert_lead"].perform_batch
    assert perform_batch is not None
    perform_batch(ctx, payloads)

    _token, first, second = tool.received
    assert (first.method, first.path) == ("PATCH", f"{API}/composite/sobjects/Lead/Seamline_Id__c")
    assert (len(first.json()["records"]), len(second.json()["records"])) == (200, 50)
    assert first.json()["allOrNone"] is False
    assert first.json()["records"][0] == {
        "attributes": {"type": "Lead"},
        "Seamline_Id__c": "u0",
        "LastName": "Lovelace",
        "Company": "Analytical Engines",
        "Email": "ada@example.com",
    }


@pytest.mark.parametrize(
    ("code", "error"),
    [("INVALID_EMAIL_ADDRESS", PermanentError), ("UNABLE_TO_LOCK_ROW", RetryableError)],
)
def test_records_refused_inside_a_collection_are_reported(
    ctx: Context, org: Org, code: str, error: type[Exception]
) -> None:
    org.refuse["u2"] = code

    with pytest.raises(error, match=f"1 of 3 Lead records: u2: {code}"):
        salesforce.upsert_leads(ctx, [lead("u1"), lead("u2"), lead("u3")])


def test_an_expired_token_is_refreshed_once_and_the_request_retried(
    ctx: Context, tool: Sink
) -> None:
    ctx.state["salesforce.access_token"] = "expired"

    salesforce.upsert_lead(ctx, lead("u1"))

    assert requests(tool) == [
        ("PATCH", f"{API}/sobjects/Lead/Seamline_Id__c/u1"),
        ("POST", "/services/oauth2/token"),
        ("PATCH", f"{API}/sobjects/Lead/Seamline_Id__c/u1"),
    ]
    assert tool.received[-1].headers["authorization"] == "Bearer token-1"
    assert ctx.state["salesforce.access_token"] == "token-1"


def test_a_second_401_after_the_refresh_is_a_permanent_error(
    ctx: Context, tool: Sink, org: Org
) -> None:
    org.revoked = True

    with pytest.raises(PermanentError) as raised:
        salesforce.upsert_lead(ctx, lead("u1"))

    assert raised.value.status == 401
    assert requests(tool) == [
        ("POST", "/services/oauth2/token"),
        ("PATCH", f"{API}/sobjects/Lead/Seamline_Id__c/u1"),
        ("POST", "/services/oauth2/token"),
        ("PATCH", f"{API}/sobjects/Lead/Seamline_Id__c/u1"),
    ]


def test_refused_credentials_are_permanent_and_kept_out_of_the_error(
    tool: Sink, http: Http
) -> None:
    ctx = Context(settings(tool.url, client_secret="wrong", refresh_token="5Aep-refresh"), http)
    with pytest.raises(PermanentError) as raised:
        salesforce.upsert_lead(ctx, lead("u1"))

    assert raised.value.status == 400
    assert "5Aep" not in str(raised.value.request) and "wrong" not in str(raised.value.request)
    assert all("5Aep" not in exchange.request_text() for exchange in http.exchanges)
    assert requests(tool) == [("POST", "/services/oauth2/token")]


@failure_modes(
    unauthorized=Reply(401, EXPIRED),  # to the upsert, again after the token is refreshed
    throttled=Reply(429, [{"errorCode": "REQUEST_LIMIT_EXCEEDED"}], {"Retry-After": "11"}),
    outage=Reply(500, [{"errorCode": "UNKNOWN_EXCEPTION"}]),
)
def test_salesforce_answers_become_retry_or_not(ctx: Context, tool: Sink, failure: Failure) -> None:
    # The org still issues tokens; every upsert gets the failure's reply.
    assert_fails(tool, failure, lambda: salesforce.upsert_lead(ctx, lead("u1")), every_request=True)


def test_authentication_fetches_a_fresh_token_and_lists_resources(ctx: Context, tool: Sink) -> None:
    ctx.state["salesforce.access_token"] = "token-from-before"
    assert salesforce.DESTINATION.test_authentication is not None

    salesforce.DESTINATION.test_authentication(ctx)

    assert requests(tool) == [("POST", "/services/oauth2/token"), ("GET", f"{API}/")]


@pytest.mark.parametrize(
    ("action", "payload", "message"),
    [
        ("upsert_lead", lead("u1", last_name=None), "needs LastName"),
        ("upsert_lead", lead("u1", company=""), "needs Company"),
        ("upsert_lead", lead("u1", last_name=None, company=None), "needs LastName and Company"),
        ("upsert_lead", lead(""), "no value for the external id"),
        ("upsert_lead", lead("u1", external_id_field="Id; DROP"), "API name"),
        (
            "upsert_contact",
            {"external_id_field": "Ext__c", "external_id": "u1", "first_name": "Ada"},
            "Contact needs LastName",
        ),
    ],
    ids=[
        "lead without last name",
        "lead without company",
        "lead without either",
        "no external id",
        "bad external id field",
        "contact without last name",
    ],
)
def test_invalid_payloads_are_refused_before_sending(
    ctx: Context, tool: Sink, action: str, payload: dict[str, Any], message: str
) -> None:
    with pytest.raises(InvalidPayload, match=message):
        salesforce.DESTINATION.actions[action].perform(ctx, payload)
    assert tool.received == []


def test_one_invalid_payload_stops_the_whole_batch_before_sending(ctx: Context, tool: Sink) -> None:
    with pytest.raises(InvalidPayload, match="payload 1 of the batch"):
        salesforce.upsert_leads(ctx, [lead("u1"), lead("u2", company=None)])
    assert tool.received == []
