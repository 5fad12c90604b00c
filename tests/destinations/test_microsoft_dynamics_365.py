"""Microsoft Dynamics 365 against a local sink playing Entra ID's client-credentials token
endpoint and the Dataverse Web API's upsert by alternate key, `$filter` reads and deletes."""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any
from urllib.parse import parse_qs, unquote

import pytest

from seamline.destinations.catalog import microsoft_dynamics_365 as dynamics
from seamline.destinations.definition import Context, Subscribed
from seamline.destinations.errors import InvalidPayload, PermanentError
from seamline.destinations.http import Http
from seamline.destinations.mapping import compile_mapping, default_mapping, validate_payload
from seamline.identity.identifiers import Identifier
from seamline.privacy.subject import Person
from tests.destinations.contract import Failure, assert_fails, failure_modes, reset
from tests.destinations.sink import Received, Reply, Sink

API = "/api/data/v9.2/"
ACCESS = "eyJ0eXAi.dataverse"
CONTACT = "00000000-0000-0000-0000-0000000000c1"
LEAD = "00000000-0000-0000-0000-0000000000l1".replace("l", "a")
_KEYED = re.compile(r"^(contacts|leads)\((\w+)='((?:[^']|'')*)'\)$")


def error(status: int, code: str) -> Reply:
    return Reply(status, {"error": {"code": code, "message": "refused"}})


class FakeDataverse:
    """Rows by table, keyed by emailaddress1 (the only alternate key defined here)."""

    def __init__(self) -> None:
        self.rows: dict[str, dict[str, dict[str, Any]]] = {"contacts": {}, "leads": {}}
        self.tokens: list[dict[str, list[str]]] = []

    def __call__(self, got: Received) -> Reply | None:
        if got.path == "/tenant/token":
            form = parse_qs(got.body.decode())
            self.tokens.append(form)
            if form.get("client_secret") != ["secret-1"]:
                return Reply(401, {"error": "invalid_client"})
            return Reply(200, {"access_token": ACCESS, "expires_in": 3599, "token_type": "Bearer"})
        if got.headers.get("authorization") != f"Bearer {ACCESS}":
            return error(401, "0x80072184")
        if got.headers.get("odata-version") != "4.0" or not got.path.startswith(API):
            return error(400, "0x0")
        call = unquote(got.path.removeprefix(API))
        if got.method == "GET" and call == "WhoAmI":
            return Reply(200, {"UserId": "00000000-0000-0000-0000-000000000001"})
        if got.method == "GET" and call in self.rows:
            match = re.fullmatch(r"(\w+) eq '(.*)'", got.query["$filter"][0])
            assert match and got.query["$select"][0] in ("contactid", "leadid")
            ids = [
                {got.query["$select"][0]: row["id"]}
                for row in self.rows[call].values()
                if row.get(match.group(1)) == match.group(2).replace("''", "'")
            ]
            return Reply(200, {"value": ids[: int(got.query["$top"][0])]})
        if got.method == "DELETE":
            table, _, row_id = call.rstrip(")").partition("(")
            kept = {k: r for k, r in self.rows[table].items() if r["id"] != row_id}
            if len(kept) == len(self.rows[table]):
                return error(404, "0x80040217")
            self.rows[table] = kept
            return Reply(204, b"")
        keyed = _KEYED.match(call)
        if got.method != "PATCH" or not keyed:
            return error(404, "0x8006088a")
        table, key, value = keyed.group(1), keyed.group(2), keyed.group(3).replace("''", "'")
        if key != "emailaddress1":
            return error(400, "0x80060891")  # not an alternate key of the table
        exists = value in self.rows[table]
        if got.headers.get("if-match") == "*" and not exists:
            return error(404, "0x80040217")
        if got.headers.get("if-none-match") == "*" and exists:
            return error(412, "0x80040237")
        row_id = CONTACT if table == "contacts" else LEAD
        self.rows[table].setdefault(value, {"id": row_id, key: value}).update(got.json())
        return Reply(204, b"")


@pytest.fixture
def dataverse(server: Sink) -> Iterator[FakeDataverse]:
    fake = FakeDataverse()
    reset(server, Reply(204, b""), fake)
    yield fake


def ctx(tool: Sink, http: Http, **settings: Any) -> Context:
    base = {
        "environment_url": tool.url,
        "tenant_id": "contoso.onmicrosoft.com",
        "client_id": "app-1",
        "client_secret": "secret-1",
        "token_url": tool.url + "/tenant/token",
    }
    return Context(settings={**base, **settings}, http=http)


def mapped(action: str, event: dict[str, Any]) -> dict[str, Any]:
    fields = dynamics.DESTINATION.actions[action].fields
    return validate_payload(compile_mapping(default_mapping(fields))(event), fields)


IDENTIFY = {
    "type": "identify",
    "userId": "u1",
    "traits": {
        "email": "jo.o'neil@example.com",
        "first_name": "Jo",
        "last_name": "O'Neil",
        "phone": "+44 20 7946 0000",
        "address": {"city": "London", "country": "UK"},
    },
}


def test_an_identify_upserts_the_contact_by_its_email_key(
    server: Sink, http: Http, dataverse: FakeDataverse
) -> None:
    dynamics.upsert_contact(ctx(server, http), mapped("upsert_contact", IDENTIFY))

    patch = next(r for r in server.received if r.method == "PATCH")
    assert unquote(patch.path) == API + "contacts(emailaddress1='jo.o''neil@example.com')"
    assert patch.headers["content-type"] == "application/json"
    assert "if-match" not in patch.headers and "if-none-match" not in patch.headers
    assert patch.json() == {
        "firstname": "Jo",
        "lastname": "O'Neil",
        "emailaddress1": "jo.o'neil@example.com",
        "telephone1": "+44 20 7946 0000",
        "address1_city": "London",
        "address1_country": "UK",
    }
    assert dataverse.tokens == [
        {
            "grant_type": ["client_credentials"],
            "client_id": ["app-1"],
            "client_secret": ["secret-1"],
            "scope": [server.url + "/.default"],
        }
    ]


def test_a_lead_takes_its_topic_from_the_event(
    server: Sink, http: Http, dataverse: FakeDataverse
) -> None:
    event = {
        "type": "track",
        "event": "Lead Created",
        "context": {"traits": {"email": "ann@example.com"}},
        "traits": {"company": {"name": "Acme"}},
    }
    dynamics.upsert_lead(ctx(server, http), mapped("upsert_lead", event))
    assert dataverse.rows["leads"]["ann@example.com"]["subject"] == "Lead Created"
    assert dataverse.rows["leads"]["ann@example.com"]["companyname"] == "Acme"


def payload(mode: str = "upsert", **more: Any) -> dict[str, Any]:
    return {"key_attribute": "emailaddress1", "key_value": "jo@example.com", "mode": mode, **more}


def test_update_mode_never_creates_and_create_mode_never_updates(
    server: Sink, http: Http, dataverse: FakeDataverse
) -> None:
    context = ctx(server, http)
    dynamics.upsert_contact(context, payload("update", firstname="A"))
    assert dataverse.rows["contacts"] == {}
    dynamics.upsert_contact(context, payload("create", firstname="B"))
    dynamics.upsert_contact(context, payload("create", firstname="C"))
    assert dataverse.rows["contacts"]["jo@example.com"]["firstname"] == "B"
    dynamics.upsert_contact(context, payload("update", firstname="D"))
    assert dataverse.rows["contacts"]["jo@example.com"]["firstname"] == "D"
    sent = [(r.headers.get("if-match"), r.headers.get("if-none-match")) for r in server.received]
    assert sent[-4:] == [("*", None), (None, "*"), (None, "*"), ("*", None)]


def test_other_columns_and_lookups_are_sent_as_given(
    server: Sink, http: Http, dataverse: FakeDataverse
) -> None:
    account = "/accounts(00000000-0000-0000-0000-00000000000a)"
    more = {"new_plan": "pro", "parentcustomerid_account@odata.bind": account}
    dynamics.upsert_contact(ctx(server, http), payload(attributes=more))
    assert dataverse.rows["contacts"]["jo@example.com"]["parentcustomerid_account@odata.bind"]


@pytest.mark.parametrize(
    ("bad", "error_type"),
    [
        (payload(key_value=None), InvalidPayload),
        (payload(mode="merge"), InvalidPayload),
        (payload(attributes={"Bad Name": 1}), InvalidPayload),
        (payload(attributes={"x@odata.type": "y"}), InvalidPayload),
        (payload(key_attribute="email)/../x"), PermanentError),
        (payload(key_value="x" * 4_001), PermanentError),
    ],
)
def test_bad_payloads_are_refused_before_sending(
    server: Sink, http: Http, dataverse: FakeDataverse, bad: dict[str, Any], error_type: type
) -> None:
    with pytest.raises(error_type):
        dynamics.upsert_contact(ctx(server, http), bad)
    assert [r for r in server.received if r.method == "PATCH"] == []


def test_a_key_that_is_not_an_alternate_key_is_permanent(
    server: Sink, http: Http, dataverse: FakeDataverse
) -> None:
    with pytest.raises(PermanentError, match="400"):
        dynamics.upsert_contact(ctx(server, http), payload(key_attribute="new_externalid"))


def test_credentials_are_checked_with_who_am_i(
    server: Sink, http: Http, dataverse: FakeDataverse
) -> None:
    dynamics.check_credentials(ctx(server, http))
    assert server.received[-1].path == API + "WhoAmI"
    with pytest.raises(PermanentError, match="refused"):
        dynamics.check_credentials(ctx(server, http, client_secret="wrong"))
    recorded = " ".join(e.request_body + str(e.response_body) for e in http.exchanges)
    assert "secret-1" not in recorded and ACCESS not in recorded


def test_the_tenant_must_be_one_when_no_token_url_is_given(http: Http) -> None:
    settings = {"environment_url": "https://contoso.crm.dynamics.com", "tenant_id": "a/../b"}
    with pytest.raises(PermanentError, match="tenant_id"):
        dynamics.check_credentials(Context(settings=settings, http=http))


def test_an_expired_token_is_renewed_once(
    server: Sink, http: Http, dataverse: FakeDataverse
) -> None:
    context = ctx(server, http)
    context.state["dynamics.access_token"] = ("expired", float("inf"))
    dynamics.upsert_contact(context, payload())
    assert len(dataverse.tokens) == 1 and "jo@example.com" in dataverse.rows["contacts"]


def test_deletion_finds_contacts_and_leads_and_deletes_them(
    server: Sink, http: Http, dataverse: FakeDataverse
) -> None:
    context = ctx(server, http)
    dynamics.upsert_contact(context, payload())
    dynamics.upsert_lead(context, payload())
    context.subscriptions = (Subscribed("upsert_lead", {"key_attribute": "new_userid"}),)
    person = Person(
        workspace_id="w",
        identifiers=frozenset({Identifier("email", "jo@example.com"), Identifier("user_id", "u1")}),
        profile_ids=frozenset(),
    )

    dynamics.delete_person(context, person)
    dynamics.delete_person(context, person)  # nothing left: still a success

    assert dataverse.rows == {"contacts": {}, "leads": {}}
    deletes = [unquote(r.path) for r in server.received if r.method == "DELETE"]
    assert deletes == [API + f"contacts({CONTACT})", API + f"leads({LEAD})"]
    filters = {r.query["$filter"][0] for r in server.received if r.method == "GET"}
    assert filters == {"emailaddress1 eq 'jo@example.com'", "new_userid eq 'u1'"}


def test_deletion_pages_through_many_rows_with_one_email(
    server: Sink, http: Http, dataverse: FakeDataverse
) -> None:
    dataverse.rows["contacts"] = {
        f"k{n}": {"id": f"00000000-0000-0000-0000-{n:012d}", "emailaddress1": "jo@example.com"}
        for n in range(120)
    }
    person = Person(
        workspace_id="w",
        identifiers=frozenset({Identifier("email", "jo@example.com")}),
        profile_ids=frozenset(),
    )
    dynamics.delete_person(ctx(server, http), person)
    assert dataverse.rows["contacts"] == {}
    assert len([r for r in server.received if r.method == "DELETE"]) == 120


@failure_modes(
    unauthorized=error(401, "0x80072184"),
    throttled=Reply(429, {"error": {"code": "0x80072322"}}, {"Retry-After": "12"}),
    more={
        "400": Failure(error(400, "0x80060888"), PermanentError),
        "403": Failure(error(403, "0x80040220"), PermanentError),
    },
)
def test_failures(server: Sink, http: Http, failure: Failure) -> None:
    reset(server, Reply(204, b""), None)  # no fake: the first request gets the failure
    context = ctx(server, http)
    context.state["dynamics.access_token"] = (ACCESS, float("inf"))
    if failure.reply.status == 401:
        server.replies.append(failure.reply)  # the token request after it is refused too
    assert_fails(server, failure, lambda: dynamics.upsert_contact(context, payload()))
