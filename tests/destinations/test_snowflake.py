"""Snowflake against a local sink playing the SQL API v2: it verifies the key-pair JWT (or
takes an OAuth token), checks each request's documented shape (async, requestId,
MULTI_STATEMENT_COUNT), answers 202 with a statement handle and then the result on
`GET /api/v2/statements/{handle}`, and runs the statements on `warehouse_fake` (parsed as
Snowflake SQL, executed by DuckDB)."""

from __future__ import annotations

import base64
import hashlib
import json
import uuid
from dataclasses import dataclass, field
from typing import Any

import pytest
import sqlglot
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa

from seamline.destinations import registry
from seamline.destinations.catalog import snowflake
from seamline.destinations.definition import Context
from seamline.destinations.errors import InvalidPayload, PermanentError, RetryableError
from seamline.destinations.http import Http
from seamline.identity.identifiers import Identifier
from seamline.privacy.subject import Person
from tests.destinations.contract import Failure, assert_fails, failure_modes, reset
from tests.destinations.sink import Received, Reply, Sink
from tests.destinations.warehouse_fake import Warehouse, batch, message, track

KEY = rsa.generate_private_key(public_exponent=65537, key_size=2048)
PEM = KEY.private_bytes(
    serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
).decode()
PUBLIC = KEY.public_key()
FINGERPRINT = base64.b64encode(
    hashlib.sha256(
        PUBLIC.public_bytes(
            serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
        )
    ).digest()
).decode()
ACTION = snowflake.DESTINATION.actions["load_events"]
OK = Reply(200, {})


def _b64(part: str) -> bytes:
    return base64.urlsafe_b64decode(part + "=" * (-len(part) % 4))


@dataclass
class SqlApi:
    """Snowflake's side of the SQL API, as a sink `check`."""

    server: Sink
    warehouse: Warehouse = field(default_factory=lambda: Warehouse("snowflake", "ANALYTICS"))
    results: dict[str, list[list[Any]]] = field(default_factory=dict)
    polls: int = 1
    """202 answers to each statement's first status requests before its result."""
    waiting: dict[str, int] = field(default_factory=dict)
    cancelled: list[str] = field(default_factory=list)

    def __call__(self, got: Received) -> Reply | None:
        if self.server.default is not OK:
            return None  # a test plays a failure on every request
        refused = self.authenticate(got.headers)
        if refused is not None:
            return refused
        if (got.method, got.path) == ("POST", "/api/v2/statements"):
            return self.submit(got)
        if got.method == "POST" and got.path.endswith("/cancel"):
            self.cancelled.append(got.path.split("/")[-2])
            return Reply(200, {"code": "000604", "message": "SQL execution canceled"})
        if got.method == "GET" and got.path.startswith("/api/v2/statements/"):
            return self.status(got.path.rsplit("/", 1)[1])
        return Reply(404, {"code": "390404", "message": "not found"})

    def authenticate(self, headers: dict[str, str]) -> Reply | None:
        token = headers.get("authorization", "").removeprefix("Bearer ")
        kind = headers.get("x-snowflake-authorization-token-type")
        if kind == "OAUTH" and token == "oauth-access-token":
            return None
        if kind != "KEYPAIR_JWT" or token.count(".") != 2:
            return Reply(401, {"code": "390303", "message": "Invalid OAuth access token."})
        head, claims, signature = token.split(".")
        try:
            PUBLIC.verify(
                _b64(signature), f"{head}.{claims}".encode(), padding.PKCS1v15(), hashes.SHA256()
            )
        except Exception:
            return Reply(401, {"code": "390144", "message": "JWT token is invalid."})
        body = json.loads(_b64(claims))
        if (
            json.loads(_b64(head))["alg"] != "RS256"
            or body["sub"] != "XY12345.LOADER"
            or body["iss"] != f"XY12345.LOADER.SHA256:{FINGERPRINT}"
            or not 0 < body["exp"] - body["iat"] <= 3600
        ):
            return Reply(401, {"code": "390144", "message": "JWT token is invalid."})
        return None

    def submit(self, got: Received) -> Reply:
        body = got.json()
        assert got.query["async"] == ["true"]
        uuid.UUID(got.query["requestId"][0])
        assert got.headers["accept"] == "application/json"
        assert (body["database"], body["warehouse"]) == ("ANALYTICS", "LOADING")
        count = len([s for s in sqlglot.parse(body["statement"], read="snowflake") if s])
        declared = body.get("parameters", {}).get("MULTI_STATEMENT_COUNT", "1")
        handle = str(uuid.uuid4())
        if int(declared) != count:
            return Reply(
                422,
                {
                    "code": "000008",
                    "message": f"Actual statement count {count} did not match the desired "
                    f"statement count {declared}.",
                    "sqlState": "0A000",
                    "statementHandle": handle,
                },
            )
        try:
            self.results[handle] = self.warehouse.execute(body["statement"])
        except Exception as error:  # the statement failed: Snowflake's 422
            missing = "does not exist" in str(error)
            state, code = ("42S02", "002003") if missing else ("42000", "001003")
            return Reply(
                422,
                {
                    "code": code,
                    "message": str(error),
                    "sqlState": state,
                    "statementHandle": handle,
                },
            )
        self.waiting[handle] = self.polls
        return Reply(
            202,
            {
                "code": "333334",
                "message": "Asynchronous execution in progress. Use provided query id to "
                "perform query monitoring and management.",
                "statementHandle": handle,
                "statementStatusUrl": f"/api/v2/statements/{handle}",
            },
        )

    def status(self, handle: str) -> Reply:
        if self.waiting.get(handle, 0) > 1:
            self.waiting[handle] -= 1
            return Reply(202, {"code": "333334", "statementHandle": handle})
        rows = self.results[handle]
        return Reply(
            200,
            {
                "resultSetMetaData": {
                    "numRows": len(rows),
                    "format": "jsonv2",
                    "rowType": [],
                    "partitionInfo": [{"rowCount": len(rows), "uncompressedSize": 100}],
                },
                "data": [[None if v is None else str(v) for v in row] for row in rows],
                "code": "090001",
                "statementStatusUrl": f"/api/v2/statements/{handle}",
                "sqlState": "00000",
                "statementHandle": handle,
                "message": "Statement executed successfully.",
            },
        )


@pytest.fixture
def api(server: Sink) -> SqlApi:
    api = SqlApi(server)
    reset(server, OK, api)
    return api


def settings(url: str, **extra: str) -> dict[str, str]:
    return {
        "account": "xy12345.us-east-1",
        "user": "loader",
        "private_key": PEM,
        "database": "analytics",
        "warehouse": "loading",
        "api_url": url,
        **extra,
    }


@pytest.fixture
def ctx(api: SqlApi, patient_http: Http) -> Context:
    return Context(settings(api.server.url), patient_http)


def load(ctx: Context, *messages: dict[str, Any]) -> list[Any]:
    assert ACTION.perform_batch is not None
    return list(ACTION.perform_batch(ctx, batch(*messages)))


def sent(api: SqlApi, kind: str) -> list[str]:
    return [s for s in api.warehouse.statements if s.upper().startswith(kind)]


def test_the_catalog_finds_snowflake_with_its_secrets() -> None:
    assert registry.load("snowflake") is snowflake.DESTINATION
    assert snowflake.DESTINATION.secret_settings() == {
        "private_key",
        "private_key_passphrase",
        "oauth_token",
    }


def test_a_batch_lands_in_segments_tables_through_async_statements(
    ctx: Context, api: SqlApi
) -> None:
    identify = message("identify", "m2", userId="u1", traits={"plan": "pro", "age": 36})
    assert load(ctx, track("m1", price=10.5, coupon="WELCOME"), identify) == [None, None]

    assert {t.lower() for t in api.warehouse.columns} == {
        "tracks",
        "order_completed",
        "identifies",
        "users",
    }
    order = api.warehouse.columns["ORDER_COMPLETED"]
    assert (order["PRICE"], order["COUPON"], order["RECEIVED_AT"]) == (
        "FLOAT",
        "VARCHAR",
        "TIMESTAMPTZ",  # as sqlglot writes Snowflake's TIMESTAMP_TZ back
    )
    [row] = api.warehouse.rows("order_completed")
    assert (row["id"], row["user_id"], row["price"], row["coupon"]) == ("m1", "u1", 10.5, "WELCOME")
    assert row["context_library_name"] == "analytics.js" and row["uuid_ts"] is not None
    [user] = api.warehouse.rows("users")
    assert (user["id"], user["plan"], user["age"]) == ("u1", "pro", 36)
    # Each statement was a POST answered 202, then one status request with the result.
    methods = [got.method for got in api.server.received]
    assert methods.count("POST") == methods.count("GET") == len(api.warehouse.statements)
    assert sent(api, "CREATE SCHEMA") == ['CREATE SCHEMA IF NOT EXISTS "ANALYTICS"."SEAMLINE"']


def test_a_new_property_adds_exactly_one_column(ctx: Context, api: SqlApi) -> None:
    load(ctx, track("m1", price=10))
    before = len(api.warehouse.statements)

    load(ctx, track("m2", price=12, coupon="SPRING"), track("m3", price=3))

    alters = sent(api, "ALTER")
    assert alters == [
        'ALTER TABLE "ANALYTICS"."SEAMLINE"."ORDER_COMPLETED" ADD COLUMN IF NOT EXISTS '
        '"COUPON" VARCHAR'
    ]
    assert not sent(api, "CREATE TABLE")[4:]  # no table made twice
    assert [s.split()[0] for s in api.warehouse.statements[before:]] == [
        "ALTER",
        "MERGE",
        "MERGE",
    ]  # the schema is known: no information schema query
    assert sorted(r["coupon"] or "" for r in api.warehouse.rows("order_completed")) == [
        "",
        "",
        "SPRING",
    ]


def test_a_redelivered_batch_is_merged_away(ctx: Context, api: SqlApi) -> None:
    messages = (track("m1", price=1), track("m2", event="Signed Up"), track("m1", price=1))
    load(ctx, *messages)
    load(ctx, *messages)

    assert api.warehouse.count("tracks") == 2
    assert api.warehouse.count("order_completed") == 1
    merge = sent(api, "MERGE")[-1]
    assert 'ON t."ID" = s."ID" WHEN NOT MATCHED THEN INSERT' in merge
    assert "WHEN MATCHED" not in merge  # events are never rewritten


def test_users_keep_the_latest_value_of_each_trait(ctx: Context, api: SqlApi) -> None:
    at = "2026-11-29T10:00:00Z"
    load(ctx, message("identify", "i1", at, userId="u1", traits={"plan": "pro", "seats": 3}))
    later = message("identify", "i2", "2026-11-30T10:00:00Z", userId="u1", traits={"plan": "max"})
    earlier = message(
        "identify",
        "i0",
        "2026-11-28T10:00:00Z",
        userId="u1",
        traits={"plan": "free", "team": "ops"},
    )
    load(ctx, later)
    load(ctx, earlier)

    [user] = api.warehouse.rows("users")
    assert (user["plan"], user["seats"], user["team"]) == ("max", 3, "ops")
    assert api.warehouse.count("identifies") == 3


def test_a_value_that_does_not_fit_its_column_is_kept_in_the_discards(
    ctx: Context, api: SqlApi
) -> None:
    load(ctx, track("m1", price=10))
    load(ctx, track("m2", price="ten"))

    prices = {r["id"]: r["price"] for r in api.warehouse.rows("order_completed")}
    assert prices == {"m1": 10.0, "m2": None}
    [kept] = api.warehouse.rows("seamline_discards")
    assert (kept["table_name"], kept["row_id"], kept["column_name"], kept["value"]) == (
        "order_completed",
        "m2",
        "price",
        "ten",
    )
    assert kept["column_type"] == "FLOAT"


def test_a_message_of_no_known_type_is_refused_alone(ctx: Context, api: SqlApi) -> None:
    outcomes = load(ctx, {"type": "dance", "messageId": "x"}, track("m1"))
    assert isinstance(outcomes[0], InvalidPayload) and outcomes[1] is None
    assert api.warehouse.count("tracks") == 1


def test_deletion_removes_the_person_in_one_transaction(ctx: Context, api: SqlApi) -> None:
    load(ctx, track("m1", price=1))
    load(
        ctx,
        track("m2", price="free"),
        message("identify", "i1", userId="u1", traits={"plan": "pro"}),
        message("identify", "i2", userId="u2", anonymousId="anon-2", traits={"plan": "max"}),
        message("page", "p1", anonymousId="anon-1", name="Home"),
    )
    person = Person(
        workspace_id="w",
        identifiers=frozenset({Identifier("user_id", "u1"), Identifier("anonymous_id", "anon-1")}),
        profile_ids=frozenset({"p"}),
    )
    api.server.received.clear()
    snowflake.DESTINATION.delete(ctx, person)  # type: ignore[misc]

    w = api.warehouse
    assert [r["id"] for r in w.rows("identifies")] == ["i2"]
    assert [r["id"] for r in w.rows("users")] == ["u2"]
    assert w.count("tracks") == w.count("order_completed") == w.count("pages") == 0
    assert w.count("seamline_discards") == 0
    posts = [got.json() for got in api.server.received if got.method == "POST"]
    assert len(posts) == 2  # the information schema, then every DELETE in one request
    statements = posts[1]["statement"].split(";\n")
    assert statements[0] == "BEGIN" and statements[-1] == "COMMIT"
    assert posts[1]["parameters"] == {"MULTI_STATEMENT_COUNT": str(len(statements))}


def test_a_person_in_an_empty_schema_is_deleted_without_a_delete(ctx: Context, api: SqlApi) -> None:
    person = Person(
        workspace_id="w",
        identifiers=frozenset({Identifier("user_id", "u9")}),
        profile_ids=frozenset(),
    )
    snowflake.DESTINATION.delete(ctx, person)  # type: ignore[misc]
    assert not sent(api, "DELETE")


def test_a_slow_statement_is_polled_until_it_finishes(ctx: Context, api: SqlApi) -> None:
    api.polls = 3
    load(ctx, track("m1"))
    assert api.warehouse.count("tracks") == 1
    gets = [got for got in api.server.received if got.method == "GET"]
    assert len(gets) == 3 * len(api.warehouse.statements)


def test_a_statement_running_too_long_is_cancelled_and_the_batch_retried(
    ctx: Context, api: SqlApi
) -> None:
    load(ctx, track("m1"))
    api.polls = 1_000
    snowflake._loader(ctx).target.api.max_wait = 0.0  # type: ignore[attr-defined]
    with pytest.raises(RetryableError, match="still running"):
        load(ctx, track("m2"))
    assert len(api.cancelled) == 1 and api.cancelled[0] in api.waiting


def test_an_oauth_token_is_sent_as_an_oauth_bearer(api: SqlApi, http: Http) -> None:
    ctx = Context(
        settings(api.server.url, private_key="", user="", oauth_token="oauth-access-token"), http
    )
    assert snowflake.DESTINATION.test_authentication is not None
    snowflake.DESTINATION.test_authentication(ctx)
    [got] = [g for g in api.server.received if g.method == "POST"]
    assert got.headers["x-snowflake-authorization-token-type"] == "OAUTH"
    assert got.json()["statement"] == "SELECT 1"


def test_a_key_snowflake_does_not_know_is_refused_for_good(api: SqlApi, http: Http) -> None:
    other = (
        rsa.generate_private_key(public_exponent=65537, key_size=2048)
        .private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
        .decode()
    )
    ctx = Context(settings(api.server.url, private_key=other), http)
    assert snowflake.DESTINATION.test_authentication is not None
    with pytest.raises(PermanentError, match="401"):
        snowflake.DESTINATION.test_authentication(ctx)


def test_settings_that_cannot_work_are_refused_before_any_request(api: SqlApi, http: Http) -> None:
    for bad in ({"account": "evil.com/x?"}, {"database": 'a"; DROP'}, {"private_key": "nope"}):
        with pytest.raises(PermanentError):
            load(Context(settings(api.server.url, **bad), http), track("m1"))
    assert api.server.received == []


def test_a_table_dropped_by_hand_is_made_again_on_the_retry(ctx: Context, api: SqlApi) -> None:
    load(ctx, track("m1"))
    api.warehouse.db.execute('DROP TABLE "ANALYTICS"."SEAMLINE"."TRACKS"')
    del api.warehouse.columns["TRACKS"]

    with pytest.raises(RetryableError):
        load(ctx, track("m2"))
    load(ctx, track("m2"))
    assert [r["id"] for r in api.warehouse.rows("tracks")] == ["m2"]


@failure_modes(
    unauthorized=Reply(401, {"code": "390318", "message": "OAuth access token expired."}),
    throttled=Reply(
        429, {"code": "000429", "message": "Too many requests"}, headers={"Retry-After": "7"}
    ),
    outage=Reply(503, {"code": "000503", "message": "Service unavailable"}),
    more={
        "422": Failure(
            Reply(
                422,
                {
                    "code": "003001",
                    "message": "SQL access control error: Insufficient privileges",
                    "sqlState": "42501",
                },
            ),
            PermanentError,
        )
    },
)
def test_a_failing_snowflake_fails_the_batch_as_it_should(
    ctx: Context, api: SqlApi, failure: Failure, http: Http
) -> None:
    hurried = Context(ctx.settings, http)  # the short timeout, for the hang
    assert_fails(api.server, failure, lambda: load(hurried, track("m1")), every_request=True)
