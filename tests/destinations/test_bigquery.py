"""BigQuery against a local sink playing Google: its token URL verifies the service account's
signed JWT (RS256, iss/scope/aud/exp) and issues a bearer token; `jobs.query` checks the
documented request (GoogleSQL, location, requestId), runs the statements on `warehouse_fake`
(parsed as BigQuery SQL, executed by DuckDB) and answers with `jobComplete` false first, so
that `jobs.getQueryResults` is polled, then with the rows as `{"f": [{"v": …}]}`."""

from __future__ import annotations

import base64
import json
import uuid
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qs

import pytest
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa

from seamline.destinations import registry
from seamline.destinations.catalog import bigquery
from seamline.destinations.definition import Context
from seamline.destinations.errors import PermanentError, RetryableError
from seamline.destinations.http import Http
from seamline.identity.identifiers import Identifier
from seamline.privacy.subject import Person
from tests.destinations.contract import Failure, assert_fails, failure_modes, reset
from tests.destinations.sink import Received, Reply, Sink
from tests.destinations.warehouse_fake import Warehouse, batch, message, track

KEY = rsa.generate_private_key(public_exponent=65537, key_size=2048)
PUBLIC = KEY.public_key()
JOBS = "/bigquery/v2/projects/acme-data/queries"
OK = Reply(200, {})
ACTION = bigquery.DESTINATION.actions["load_events"]


def key_file(token_uri: str) -> str:
    pem = KEY.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    ).decode()
    return json.dumps(
        {
            "type": "service_account",
            "project_id": "acme-data",
            "private_key_id": "k1",
            "private_key": pem,
            "client_email": "loader@acme-data.iam.gserviceaccount.com",
            "token_uri": token_uri,
        }
    )


def _b64(part: str) -> bytes:
    return base64.urlsafe_b64decode(part + "=" * (-len(part) % 4))


def _error(status: int, reason: str, message: str) -> Reply:
    return Reply(
        status,
        {"error": {"code": status, "message": message, "errors": [{"reason": reason}]}},
    )


@dataclass
class Google:
    """Google's token URL and BigQuery's jobs, as a sink `check`."""

    server: Sink
    warehouse: Warehouse = field(default_factory=lambda: Warehouse("bigquery", "acme-data"))
    issued: list[str] = field(default_factory=list)
    jobs: dict[str, list[list[Any]]] = field(default_factory=dict)
    queries: list[dict[str, Any]] = field(default_factory=list)
    tokens: int = 0
    running: bool = False
    """Every job stays incomplete."""
    cancelled: list[str] = field(default_factory=list)

    def __call__(self, got: Received) -> Reply | None:
        if self.server.default is not OK:
            return None
        if got.path == "/token":
            return self.token(parse_qs(got.body.decode()))
        if got.headers.get("authorization", "").removeprefix("Bearer ") not in self.issued:
            return _error(401, "authError", "Request had invalid authentication credentials.")
        if (got.method, got.path) == ("POST", JOBS):
            return self.insert(got.json())
        if got.method == "GET" and got.path.startswith(JOBS + "/"):
            assert got.query["location"] == ["EU"]
            return self.results(got.path.rsplit("/", 1)[1])
        if got.method == "POST" and got.path.endswith("/cancel"):
            assert got.query["location"] == ["EU"]
            job = got.path.split("/")[-2]
            self.cancelled.append(job)
            reference = {"projectId": "acme-data", "jobId": job, "location": "EU"}
            return Reply(
                200, {"kind": "bigquery#jobCancelResponse", "job": {"jobReference": reference}}
            )
        return _error(404, "notFound", "Not found")

    def token(self, form: dict[str, list[str]]) -> Reply:
        assert form["grant_type"] == ["urn:ietf:params:oauth:grant-type:jwt-bearer"]
        head, claims, signature = form["assertion"][0].split(".")
        try:
            PUBLIC.verify(
                _b64(signature), f"{head}.{claims}".encode(), padding.PKCS1v15(), hashes.SHA256()
            )
        except Exception:
            return Reply(
                400, {"error": "invalid_grant", "error_description": "Invalid JWT Signature."}
            )
        body, header = json.loads(_b64(claims)), json.loads(_b64(head))
        assert header == {"alg": "RS256", "kid": "k1", "typ": "JWT"}
        assert body["iss"] == "loader@acme-data.iam.gserviceaccount.com"
        assert body["scope"] == "https://www.googleapis.com/auth/bigquery"
        assert body["aud"] == f"{self.server.url}/token"
        assert 0 < body["exp"] - body["iat"] <= 3600
        self.tokens += 1
        self.issued.append(f"ya29.token-{self.tokens}")
        return Reply(
            200, {"access_token": self.issued[-1], "expires_in": 3599, "token_type": "Bearer"}
        )

    def insert(self, body: dict[str, Any]) -> Reply:
        assert body["useLegacySql"] is False and body["location"] == "EU"
        uuid.UUID(body["requestId"])
        self.queries.append(body)
        job = f"job_{len(self.jobs)}"
        try:
            self.jobs[job] = self.warehouse.execute(body["query"])
        except Exception as error:
            reason = "notFound" if "does not exist" in str(error) else "invalidQuery"
            return _error(404 if reason == "notFound" else 400, reason, str(error))
        reference = {"projectId": "acme-data", "jobId": job, "location": "EU"}
        return Reply(
            200, {"kind": "bigquery#queryResponse", "jobReference": reference, "jobComplete": False}
        )

    def results(self, job: str) -> Reply:
        if self.running:
            reference = {"projectId": "acme-data", "jobId": job, "location": "EU"}
            return Reply(200, {"jobReference": reference, "jobComplete": False})
        rows = self.jobs[job]
        return Reply(
            200,
            {
                "kind": "bigquery#getQueryResultsResponse",
                "jobReference": {"projectId": "acme-data", "jobId": job, "location": "EU"},
                "schema": {"fields": []},
                "rows": [{"f": [{"v": None if v is None else str(v)} for v in r]} for r in rows],
                "totalRows": str(len(rows)),
                "jobComplete": True,
            },
        )


@pytest.fixture
def google(server: Sink) -> Google:
    google = Google(server)
    reset(server, OK, google)
    return google


@pytest.fixture
def ctx(google: Google, patient_http: Http) -> Context:
    url = google.server.url
    settings = {
        "service_account_key": key_file(f"{url}/token"),
        "dataset": "web",
        "location": "EU",
        "api_url": url,
    }
    return Context(settings, patient_http)


def load(ctx: Context, *messages: dict[str, Any]) -> list[Any]:
    assert ACTION.perform_batch is not None
    return list(ACTION.perform_batch(ctx, batch(*messages)))


def sent(google: Google, kind: str) -> list[str]:
    return [s for s in google.warehouse.statements if s.upper().startswith(kind)]


def test_the_catalog_finds_bigquery_with_its_secret() -> None:
    assert registry.load("bigquery") is bigquery.DESTINATION
    assert bigquery.DESTINATION.secret_settings() == {"service_account_key"}


def test_a_batch_lands_in_segments_tables_through_query_jobs(ctx: Context, google: Google) -> None:
    identify = message("identify", "m2", userId="u1", traits={"plan": "pro", "2fa": True})
    assert load(ctx, track("m1", price=10.5), identify) == [None, None]

    assert google.issued == ["ya29.token-1"]  # one token for every request
    assert sent(google, "CREATE SCHEMA") == [
        "CREATE SCHEMA IF NOT EXISTS `acme-data`.`web` OPTIONS (location = 'EU')"
    ]
    assert google.warehouse.columns["order_completed"]["price"] == "FLOAT64"
    assert google.warehouse.columns["users"]["_2fa"] == "BOOL"  # no column starts with a digit
    [row] = google.warehouse.rows("order_completed")
    assert (row["id"], row["price"], row["event_text"]) == ("m1", 10.5, "Order Completed")
    [user] = google.warehouse.rows("users")
    assert (user["id"], user["plan"], user["_2fa"]) == ("u1", "pro", True)
    gets = [got for got in google.server.received if got.method == "GET"]
    assert len(gets) == len(google.queries)  # each job polled once with getQueryResults


def test_a_new_property_adds_exactly_one_column(ctx: Context, google: Google) -> None:
    load(ctx, track("m1", price=10))
    load(ctx, track("m2", price=12, coupon="SPRING"))
    load(ctx, message("identify", "i1", userId="u1", traits={"2fa": True}))
    load(ctx, message("identify", "i2", userId="u1", traits={"2fa": False}))

    assert sent(google, "ALTER") == [
        "ALTER TABLE `acme-data`.`web`.`order_completed` ADD COLUMN IF NOT EXISTS `coupon` STRING"
    ]  # and `_2fa`, read back as 2fa, is known: not added twice


def test_a_redelivered_batch_is_merged_away(ctx: Context, google: Google) -> None:
    messages = (track("m1", price=1), track("m2", event="Signed Up"))
    load(ctx, *messages)
    load(ctx, *messages)

    assert google.warehouse.count("tracks") == 2
    assert google.warehouse.count("signed_up") == 1
    merge = sent(google, "MERGE")[-1]
    assert "ON t.`id` = s.`id` WHEN NOT MATCHED THEN INSERT" in merge


def test_users_keep_the_latest_value_of_each_trait(ctx: Context, google: Google) -> None:
    load(
        ctx, message("identify", "i1", "2026-11-29T10:00:00Z", userId="u1", traits={"plan": "pro"})
    )
    load(
        ctx,
        message(
            "identify",
            "i0",
            "2026-11-28T10:00:00Z",
            userId="u1",
            traits={"plan": "free", "team": "ops"},
        ),
    )
    [user] = google.warehouse.rows("users")
    assert (user["plan"], user["team"]) == ("pro", "ops")


def test_a_value_that_does_not_fit_its_column_is_kept_in_the_discards(
    ctx: Context, google: Google
) -> None:
    load(ctx, track("m1", paid=True))
    load(ctx, track("m2", paid="maybe"))
    assert {r["id"]: r["paid"] for r in google.warehouse.rows("order_completed")} == {
        "m1": True,
        "m2": None,
    }
    [kept] = google.warehouse.rows("seamline_discards")
    assert (kept["row_id"], kept["column_name"], kept["column_type"], kept["value"]) == (
        "m2",
        "paid",
        "BOOL",
        "maybe",
    )


def test_deletion_is_one_transaction_script(ctx: Context, google: Google) -> None:
    load(
        ctx,
        track("m1"),
        message("identify", "i1", userId="u1", traits={"plan": "pro"}),
        message("identify", "i2", userId="u2", anonymousId="anon-2"),
    )
    person = Person(
        workspace_id="w",
        identifiers=frozenset({Identifier("user_id", "u1"), Identifier("anonymous_id", "anon-1")}),
        profile_ids=frozenset(),
    )
    google.queries.clear()
    bigquery.DESTINATION.delete(ctx, person)  # type: ignore[misc]

    assert [r["id"] for r in google.warehouse.rows("identifies")] == ["i2"]
    assert [r["id"] for r in google.warehouse.rows("users")] == ["u2"]
    assert google.warehouse.count("tracks") == 0
    script = google.queries[-1]["query"].split(";\n")
    assert script[0] == "BEGIN TRANSACTION" and script[-1] == "COMMIT TRANSACTION"
    assert all(s.startswith("DELETE FROM `acme-data`.`web`.") for s in script[1:-1])


def test_a_job_running_too_long_is_cancelled_and_the_batch_retried(
    ctx: Context, google: Google
) -> None:
    load(ctx, track("m1"))
    google.running = True
    bigquery._loader(ctx).target.api.max_wait = 0.0  # type: ignore[attr-defined]
    with pytest.raises(RetryableError, match="still running"):
        load(ctx, track("m2"))
    assert len(google.cancelled) == 1 and google.cancelled[0] in google.jobs


def test_an_expired_token_is_replaced_once(ctx: Context, google: Google) -> None:
    load(ctx, track("m1"))
    google.issued.remove("ya29.token-1")  # revoked
    load(ctx, track("m2"))
    assert google.issued == ["ya29.token-2"]


def test_a_key_google_does_not_know_is_refused_for_good(google: Google, http: Http) -> None:
    other = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    key = json.loads(key_file(f"{google.server.url}/token"))
    key["private_key"] = other.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    ).decode()
    ctx = Context({"service_account_key": json.dumps(key), "api_url": google.server.url}, http)
    assert bigquery.DESTINATION.test_authentication is not None
    with pytest.raises(PermanentError, match="400"):
        bigquery.DESTINATION.test_authentication(ctx)


def test_a_key_that_is_not_one_is_refused_before_any_request(google: Google, http: Http) -> None:
    for key in ("{not json", json.dumps({"client_email": "x"}), json.dumps({"private_key": "k"})):
        with pytest.raises(PermanentError):
            load(Context({"service_account_key": key}, http), track("m1"))
    assert google.server.received == []


def test_a_table_dropped_by_hand_is_made_again_on_the_retry(ctx: Context, google: Google) -> None:
    load(ctx, track("m1"))
    google.warehouse.db.execute('DROP TABLE "acme-data"."web"."tracks"')
    del google.warehouse.columns["tracks"]
    with pytest.raises(RetryableError):
        load(ctx, track("m2"))
    load(ctx, track("m2"))
    assert [r["id"] for r in google.warehouse.rows("tracks")] == ["m2"]


@failure_modes(
    unauthorized=_error(401, "authError", "Request had invalid authentication credentials."),
    throttled=Reply(
        429, {"error": {"code": 429, "message": "Too many requests"}}, headers={"Retry-After": "30"}
    ),
    outage=_error(503, "backendError", "Backend error"),
    more={
        "403-rate": Failure(
            _error(403, "rateLimitExceeded", "Exceeded rate limits"), RetryableError
        ),
        "403-denied": Failure(_error(403, "accessDenied", "Access Denied"), PermanentError),
    },
)
def test_a_failing_bigquery_fails_the_batch_as_it_should(
    ctx: Context, google: Google, failure: Failure, http: Http
) -> None:
    load(ctx, track("m0"))  # a token in hand: the failure is BigQuery's, not the token URL's
    hurried = Context(ctx.settings, http, ctx.state)  # the short timeout, for the hang
    assert_fails(google.server, failure, lambda: load(hurried, track("m1")), every_request=True)
