"""Deleting a person from the SaaS tools, each against a local sink that checks the documented
request (method, path, auth, body shape, batching) and answers as the tool does; the failure
classes a regulation retries or fails on; destinations that cannot delete; the private-network
guard on deletion requests."""

from __future__ import annotations

import hashlib
import hmac
import json
from collections.abc import Iterator
from typing import Any
from urllib.parse import parse_qs

import httpx
import pytest

from seamline.destinations.client import destination_client
from seamline.destinations.deletion import Deletion, delete_now, delete_person, retry_in
from seamline.destinations.errors import PermanentError, RetryableError
from seamline.destinations.instances import CompiledDestination, compile_destinations
from seamline.identity.identifiers import Identifier
from seamline.privacy.subject import Person
from tests.destinations.conftest import LOOPBACK
from tests.destinations.contract import TIMEOUT, reset
from tests.destinations.sink import Received, Reply, Sink


def person(
    user_ids: tuple[str, ...] = ("u1",),
    anonymous_ids: tuple[str, ...] = ("a1",),
    emails: tuple[str, ...] = ("ann@example.com",),
    phones: tuple[str, ...] = (),
) -> Person:
    kinds = {"user_id": user_ids, "anonymous_id": anonymous_ids, "email": emails, "phone": phones}
    identifiers = frozenset(Identifier(k, v) for k, values in kinds.items() for v in values)
    return Person(workspace_id="default", identifiers=identifiers, profile_ids=frozenset({"p1"}))


def instance(
    kind: str, settings: dict[str, Any], *subscriptions: tuple[str, dict[str, Any]]
) -> CompiledDestination:
    """An instance as the workspace configuration compiles it, with these (action, mapping)
    subscriptions."""
    subscribed = {
        f"s{n}": {"destination": "it", "action": action, "trigger": 'type = "track"', "mapping": m}
        for n, (action, m) in enumerate(subscriptions)
    }
    found = compile_destinations(
        {"it": {"type": kind, "settings": settings}}, subscribed, _as_stored
    )
    return found["it"]


def _as_stored(value: Any) -> Any:
    return value  # settings given in the clear: nothing sealed to unseal


@pytest.fixture
def client() -> Iterator[httpx.Client]:
    with destination_client(LOOPBACK) as opened:
        yield opened


def erase(target: CompiledDestination, client: httpx.Client, who: Person | None = None) -> Deletion:
    return delete_now(target, who or person(), client, TIMEOUT)


def bearer(got: Received, token: str) -> bool:
    return got.headers.get("authorization") == f"Bearer {token}"


# -- Braze ------------------------------------------------------------------------------------

BRAZE_KINDS = {"external_ids", "user_aliases", "braze_ids", "email_addresses", "phone_numbers"}


def braze_users_delete(got: Received) -> Reply | None:
    """Braze's /users/delete: Bearer key, one kind of identifier, 1 to 50 of them."""
    if not bearer(got, "braze-key"):
        return Reply(401, {"message": "Invalid API key"})
    body = got.json()
    if (got.method, got.path) != ("POST", "/users/delete") or len(body) != 1:
        return Reply(400, {"message": "Invalid request"})
    ((kind, values),) = body.items()
    if kind not in BRAZE_KINDS or not 1 <= len(values) <= 50:
        return Reply(400, {"message": f"invalid {kind}"})
    return None


def braze(tool: Sink) -> CompiledDestination:
    return instance("braze", {"api_key": "braze-key", "endpoint": tool.url})


def test_braze_deletes_by_external_id_then_email_50_per_request(
    server: Sink, client: httpx.Client
) -> None:
    tool = reset(server, Reply(201, {"deleted": 1, "message": "success"}), braze_users_delete)
    users = tuple(f"u{n:03}" for n in range(120))
    who = person(users, emails=("ann@example.com", "a@b.example"))
    assert erase(braze(tool), client, who) == Deletion("FINISHED")
    sent = [got.json() for got in tool.received]
    assert [(k, len(v)) for body in sent for k, v in body.items()] == [
        ("external_ids", 50), ("external_ids", 50), ("external_ids", 20), ("email_addresses", 2),
    ]  # fmt: skip
    assert [u for body in sent[:3] for u in body["external_ids"]] == list(users)


# -- Mixpanel ---------------------------------------------------------------------------------


def mixpanel_deletions(got: Received) -> Reply | None:
    """The GDPR API v3: POST data-deletions with the project token in the query, the GDPR
    OAuth token as Bearer, at most 2,000 distinct ids and a compliance type."""
    if not bearer(got, "gdpr-oauth"):
        return Reply(401, {"status": "error", "error": "invalid token"})
    body = got.json()
    if (
        (got.method, got.path) != ("POST", "/api/app/data-deletions/v3.0/")
        or got.query.get("token") != ["project-token"]
        or body.get("compliance_type") not in ("GDPR", "CCPA")
        or not 1 <= len(body.get("distinct_ids") or []) <= 2000
    ):
        return Reply(400, {"status": "error"})
    return Reply(200, {"status": "ok", "results": {"task_id": "1"}})


def mixpanel(tool: Sink, **extra: Any) -> CompiledDestination:
    settings = {"project_token": "project-token", "api_secret": "s", "endpoint": tool.url}
    return instance("mixpanel", settings | extra)


def test_mixpanel_asks_for_a_gdpr_deletion_of_every_distinct_id(
    server: Sink, client: httpx.Client
) -> None:
    tool = reset(server, Reply(), mixpanel_deletions)
    anonymous = tuple(f"a{n:04}" for n in range(2_100))
    assert erase(mixpanel(tool, gdpr_token="gdpr-oauth"), client, person(("u1",), anonymous))
    bodies = [got.json() for got in tool.received]
    assert [len(b["distinct_ids"]) for b in bodies] == [2_000, 101]
    assert bodies[0]["distinct_ids"][0] == "u1" and bodies[0]["compliance_type"] == "GDPR"
    assert all(got.query == {"token": ["project-token"]} for got in tool.received)


def test_mixpanel_without_the_gdpr_token_fails_and_sends_nothing(
    server: Sink, client: httpx.Client
) -> None:
    tool = reset(server, Reply(), mixpanel_deletions)
    with pytest.raises(PermanentError, match="gdpr_token"):
        erase(mixpanel(tool), client)
    assert tool.received == []


# -- HubSpot ----------------------------------------------------------------------------------


def hubspot_gdpr_delete(got: Received) -> Reply | None:
    if not bearer(got, "hs-token"):
        return Reply(401, {"category": "INVALID_AUTHENTICATION"})
    body = got.json()
    if (got.method, got.path) != ("POST", "/crm/v3/objects/contacts/gdpr-delete") or set(body) - {
        "objectId",
        "idProperty",
    }:
        return Reply(400, {"category": "VALIDATION_ERROR"})
    return Reply(204, b"")


def test_hubspot_gdpr_deletes_each_email(server: Sink, client: httpx.Client) -> None:
    tool = reset(server, Reply(), hubspot_gdpr_delete)
    target = instance("hubspot", {"access_token": "hs-token", "endpoint": tool.url})
    assert erase(target, client, person(emails=("a@x.example", "b@x.example"))).status == "FINISHED"
    assert [got.json() for got in tool.received] == [
        {"objectId": "a@x.example", "idProperty": "email"},
        {"objectId": "b@x.example", "idProperty": "email"},
    ]


# -- Google Analytics 4 -----------------------------------------------------------------------

GA4_OAUTH = {
    "oauth_client_id": "client-1",
    "oauth_client_secret": "client-secret",
    "oauth_refresh_token": "refresh-1",
    "property_id": "123456",
}


def google(got: Received) -> Reply | None:
    """Google's token endpoint (refresh-token grant) and the User Deletion API's upsert."""
    if got.path == "/token":
        form = parse_qs(got.body.decode())
        expected = {"grant_type": "refresh_token", "client_id": "client-1"}
        expected |= {"client_secret": "client-secret", "refresh_token": "refresh-1"}
        if form != {k: [v] for k, v in expected.items()}:
            return Reply(400, {"error": "invalid_grant"})
        return Reply(200, {"access_token": "ya29.token", "expires_in": 3599})
    if not bearer(got, "ya29.token"):
        return Reply(401, {"error": {"code": 401}})
    body = got.json()
    if (
        (got.method, got.path) != ("POST", "/analytics/v3/userDeletion/userDeletionRequests:upsert")
        or body.get("kind") != "analytics#userDeletionRequest"
        or body.get("propertyId") != "123456"
        or body["id"]["type"] not in ("USER_ID", "CLIENT_ID", "APP_INSTANCE_ID")
    ):
        return Reply(400, {"error": {"code": 400}})
    return Reply(200, body | {"deletionRequestTime": "2026-12-03T11:00:00Z"})


def ga4(tool: Sink, **settings: Any) -> CompiledDestination:
    base = {"measurement_id": "G-1", "api_secret": "mp", "deletion_endpoint": tool.url}
    return instance("google-analytics-4", base | {"token_url": f"{tool.url}/token"} | settings)


def test_ga4_requests_deletion_of_each_user_and_client_id(
    server: Sink, client: httpx.Client
) -> None:
    tool = reset(server, Reply(), google)
    assert erase(ga4(tool, **GA4_OAUTH), client, person(("u1",), ("a1", "a2"))).status == "FINISHED"
    assert tool.received[0].path == "/token"
    assert [got.json()["id"] for got in tool.received[1:]] == [
        {"type": "USER_ID", "userId": "u1"},
        {"type": "CLIENT_ID", "userId": "u1"},
        {"type": "CLIENT_ID", "userId": "a1"},
        {"type": "CLIENT_ID", "userId": "a2"},
    ]


def test_ga4_without_oauth_settings_fails_naming_them(server: Sink, client: httpx.Client) -> None:
    tool = reset(server, Reply(), google)
    with pytest.raises(PermanentError, match="oauth_refresh_token, property_id"):
        erase(ga4(tool, oauth_client_id="c", oauth_client_secret="s"), client)
    assert tool.received == []


def test_ga4_a_refused_refresh_token_is_permanent_and_not_recorded(
    server: Sink, client: httpx.Client
) -> None:
    tool = reset(server, Reply(), google)
    revoked = "1//0g-revoked/x+y"  # URL-encoded in the form, so unlike itself there
    with pytest.raises(PermanentError) as raised:
        erase(ga4(tool, **GA4_OAUTH | {"oauth_refresh_token": revoked}), client)
    assert raised.value.status == 400
    assert "0g-revoked" not in str(raised.value.request) + str(raised.value)


def test_ga4_the_token_exchange_is_not_recorded(server: Sink, client: httpx.Client) -> None:
    from seamline.destinations.catalog.google_analytics_4 import _access_token
    from seamline.destinations.definition import Context
    from seamline.destinations.http import Http

    tool = reset(server, Reply(), google)
    http = Http(client, TIMEOUT)
    settings = {**GA4_OAUTH, "token_url": f"{tool.url}/token"}

    assert _access_token(Context(settings=settings, http=http)) == "ya29.token"
    recorded = "\n".join(e.request_text() + str(e.response_body) for e in http.exchanges)
    assert "client-secret" not in recorded and "ya29.token" not in recorded


# -- Salesforce -------------------------------------------------------------------------------

API = "/services/data/v62.0"


class Org:
    """A Salesforce org: tokens, SOQL queries over a few records, composite deletes."""

    def __init__(self) -> None:
        self.records = {"00Q1": ("Lead", "ann@example.com", None), "003A": ("Contact", None, "u1")}
        self.records |= {"003B": ("Contact", "bob@example.com", "u2")}
        self.queries: list[str] = []
        self.refuse: str | None = None
        self.raced: set[str] = set()  # found by the query, deleted by someone before our DELETE

    def __call__(self, got: Received) -> Reply | None:
        if got.path == "/services/oauth2/token":
            return Reply(200, {"access_token": "sf-token", "instance_url": "x"})
        if not bearer(got, "sf-token"):
            return Reply(401, [{"errorCode": "INVALID_SESSION_ID"}])
        if (got.method, got.path) == ("GET", f"{API}/query"):
            soql = got.query["q"][0]
            self.queries.append(soql)
            sobject = soql.split(" FROM ")[1].split(" ")[0]
            hits = [
                {"attributes": {"type": kind}, "Id": key}
                for key, (kind, email, external) in self.records.items()
                if kind == sobject and (f"'{email}'" in soql or f"'{external}'" in soql)
            ]
            return Reply(200, {"totalSize": len(hits), "done": True, "records": hits})
        if (got.method, got.path) == ("DELETE", f"{API}/composite/sobjects"):
            assert got.query["allOrNone"] == ["false"]
            ids = got.query["ids"][0].split(",")
            results: list[dict[str, Any]] = []
            for key in ids:
                if key in self.raced:
                    self.records.pop(key)
                if key == self.refuse:
                    error = {"statusCode": "DELETE_FAILED", "message": "in use"}
                    results.append({"id": key, "success": False, "errors": [error]})
                elif self.records.pop(key, None) is None:
                    error = {"statusCode": "ENTITY_IS_DELETED", "message": "gone"}
                    results.append({"id": key, "success": False, "errors": [error]})
                else:
                    results.append({"id": key, "success": True, "errors": []})
            return Reply(200, results)
        return Reply(404, [{"errorCode": "NOT_FOUND"}])


def salesforce(tool: Sink) -> CompiledDestination:
    settings = {"instance_url": tool.url, "client_id": "c", "client_secret": "shh"}
    mapping = {"external_id_field": "Seamline_Id__c", "external_id": {"@path": "$.userId"}}
    return instance("salesforce", settings, ("upsert_contact", mapping))


def test_salesforce_deletes_leads_and_contacts_found_by_email_and_external_id(
    server: Sink, client: httpx.Client
) -> None:
    org = Org()
    tool = reset(server, Reply(), org)
    who = person(("u1", "o'brien"), emails=("ann@example.com",))
    assert erase(salesforce(tool), client, who).status == "FINISHED"
    assert list(org.records) == ["003B"]  # bob is someone else
    lead, contact = org.queries
    assert lead == "SELECT Id FROM Lead WHERE Email IN ('ann@example.com')"
    assert contact == (
        "SELECT Id FROM Contact WHERE Email IN ('ann@example.com') "
        "OR Seamline_Id__c IN ('o\\'brien', 'u1')"
    )


def test_salesforce_a_record_it_refuses_to_delete_fails_the_deletion(
    server: Sink, client: httpx.Client
) -> None:
    org = Org()
    org.refuse = "003A"
    tool = reset(server, Reply(), org)
    with pytest.raises(PermanentError, match="003A: DELETE_FAILED in use"):
        erase(salesforce(tool), client)


def test_salesforce_a_record_deleted_meanwhile_is_no_failure(
    server: Sink, client: httpx.Client
) -> None:
    org = Org()
    org.raced = {"003A"}
    tool = reset(server, Reply(), org)
    assert erase(salesforce(tool), client).status == "FINISHED"
    assert list(org.records) == ["003B"]


# -- Meta Custom Audiences --------------------------------------------------------------------


def sha256(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


def graph_users_delete(got: Received) -> Reply | None:
    if not bearer(got, "meta-token"):
        return Reply(401, {"error": {"code": 190, "message": "bad token"}})
    payload = got.json().get("payload") or {}
    schema, data = payload.get("schema") or [], payload.get("data") or []
    if (
        got.method != "DELETE"
        or not got.path.startswith("/v21.0/")
        or not got.path.endswith("/users")
        or not set(schema) <= {"EMAIL", "PHONE", "EXTERN_ID"}
        or any(len(row) != len(schema) for row in data)
        or not 1 <= len(data) <= 10_000
    ):
        return Reply(400, {"error": {"code": 100, "message": "Invalid parameter"}})
    return Reply(200, {"audience_id": got.path.split("/")[2], "num_received": len(data)})


def meta(tool: Sink, *audiences: Any) -> CompiledDestination:
    settings = {"access_token": "meta-token", "endpoint": tool.url, "api_version": "21.0"}
    subscriptions = [("sync_audience", {"audience_id": a, "email": "x"}) for a in audiences]
    return instance("meta-custom-audiences", settings, *subscriptions)


def test_meta_removes_the_person_from_every_literal_audience(
    server: Sink, client: httpx.Client
) -> None:
    tool = reset(server, Reply(), graph_users_delete)
    target = meta(tool, "111", "222", {"@path": "$.properties.audience_id"}, "111")
    who = person(("U1",), emails=("ann@example.com",), phones=("+33612345678",))
    assert erase(target, client, who).status == "FINISHED"
    assert [got.path for got in tool.received] == ["/v21.0/111/users", "/v21.0/222/users"]
    assert tool.received[0].json()["payload"] == {
        "schema": ["EMAIL", "PHONE", "EXTERN_ID"],
        "data": [
            [sha256("ann@example.com"), "", ""],
            ["", sha256("33612345678"), ""],
            ["", "", sha256("u1")],
        ],
    }


def test_meta_without_a_literal_audience_is_not_supported(
    server: Sink, client: httpx.Client
) -> None:
    tool = reset(server, Reply(), graph_users_delete)
    found = erase(meta(tool, {"@path": "$.properties.audience_id"}), client)
    assert found.status == "NOT_SUPPORTED" and "audience id" in found.reason
    assert tool.received == []


# -- Webhook ----------------------------------------------------------------------------------


def webhook(tool: Sink, *urls: Any, **settings: Any) -> CompiledDestination:
    subscriptions = [
        ("send", {"url": url, "method": "PUT", "headers": {"X-Team": "data"}}) for url in urls
    ]
    return instance("webhook", {"shared_secret": "hook-secret", **settings}, *subscriptions)


def test_the_webhook_receives_a_signed_delete_message_at_each_literal_url(
    server: Sink, client: httpx.Client
) -> None:
    tool = reset(server, Reply(), None)
    target = webhook(tool, f"{tool.url}/a", f"{tool.url}/b", {"@path": "$.properties.url"})
    who = person(("u1",), ("a1", "a2"))
    assert erase(target, client, who).status == "FINISHED"
    assert [(got.method, got.path) for got in tool.received] == [("POST", "/a"), ("POST", "/b")]
    got = tool.received[0]
    body = got.json()
    assert {k: body[k] for k in ("type", "userId", "userIds", "anonymousIds", "emails")} == {
        "type": "delete",
        "userId": "u1",
        "userIds": ["u1"],
        "anonymousIds": ["a1", "a2"],
        "emails": ["ann@example.com"],
    }
    assert body["messageId"].startswith("delete-") and body["timestamp"].endswith("Z")
    assert got.headers["x-team"] == "data"
    signed = hmac.new(b"hook-secret", got.body, hashlib.sha256).hexdigest()
    assert got.headers["x-signature-256"] == signed  # signed over the body, as deliveries are
    erase(target, client, who)
    assert json.loads(tool.received[-1].body)["messageId"] == body["messageId"]


def test_the_webhook_deletion_url_setting_wins(server: Sink, client: httpx.Client) -> None:
    tool = reset(server, Reply(), None)
    target = webhook(tool, f"{tool.url}/a", deletion_url=f"{tool.url}/privacy")
    assert erase(target, client).status == "FINISHED"
    assert [got.path for got in tool.received] == ["/privacy"]


def test_a_webhook_with_no_literal_url_is_not_supported(server: Sink, client: httpx.Client) -> None:
    tool = reset(server, Reply(), None)
    found = erase(webhook(tool, {"@path": "$.properties.url"}), client)
    assert found.status == "NOT_SUPPORTED" and "literal URL" in found.reason


# -- what every destination shares -------------------------------------------------------------


@pytest.mark.parametrize(
    "kind", ["slack", "meta-conversions-api"], ids=["slack", "meta-conversions-api"]
)
def test_tools_without_a_deletion_api_are_not_supported(kind: str, client: httpx.Client) -> None:
    found = erase(instance(kind, {}), client)
    assert found.status == "NOT_SUPPORTED" and "no deletion API" in found.reason


FAILURES = {
    "500": (Reply(500), RetryableError, None),
    "429": (Reply(429, headers={"Retry-After": "7"}), RetryableError, 7.0),
    "400": (Reply(400), PermanentError, None),
    "401": (Reply(401), PermanentError, None),
    "403": (Reply(403), PermanentError, None),
}


@pytest.mark.parametrize("answer", list(FAILURES), ids=list(FAILURES))
@pytest.mark.parametrize("tool_name", ["braze", "mixpanel", "hubspot", "webhook"])
def test_failures_are_classified_as_deliveries_are(
    server: Sink, client: httpx.Client, tool_name: str, answer: str
) -> None:
    reply, error, retry_after = FAILURES[answer]
    tool = reset(server, reply, None)
    target = {
        "braze": lambda: braze(tool),
        "mixpanel": lambda: mixpanel(tool, gdpr_token="gdpr-oauth"),
        "hubspot": lambda: instance("hubspot", {"access_token": "t", "endpoint": tool.url}),
        "webhook": lambda: webhook(tool, f"{tool.url}/hook"),
    }[tool_name]()
    with pytest.raises(error) as raised:
        erase(target, client)
    assert type(raised.value) is error and raised.value.status == int(answer)
    assert getattr(raised.value, "retry_after", None) == retry_after


def test_retry_in_follows_retry_after_else_backs_off() -> None:
    assert retry_in(RetryableError("busy", retry_after=7.0), attempts=3) == 7.0
    assert 2.0 <= retry_in(RetryableError("down"), attempts=2) <= 4.0


@pytest.mark.anyio
async def test_deletion_requests_go_through_the_private_network_guard(server: Sink) -> None:
    tool = reset(server, Reply(), braze_users_delete)
    with pytest.raises(PermanentError, match="was not sent"):
        await delete_person(braze(tool), person(), timeout=TIMEOUT)
    assert tool.received == []
    opened = await delete_person(braze(tool), person(), timeout=TIMEOUT, allow_private=LOOPBACK)
    assert opened == Deletion("FINISHED") and len(tool.received) == 2
