"""ClickHouse against a local sink playing its HTTP interface: it checks basic auth and the
query in the URL (`wait_end_of_query`, an INSERT's `insert_deduplication_token` and its
JSONEachRow body), runs each statement on `warehouse_fake` (parsed as ClickHouse SQL, executed
by DuckDB, ReplacingMergeTree's one-row-per-key played on insert) and answers JSON and
JSONCompact results as ClickHouse formats them, or `Code: N. DB::Exception` errors."""

from __future__ import annotations

import base64
import json
import re
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import pytest
import sqlglot

from seamline.destinations import registry
from seamline.destinations.catalog import clickhouse
from seamline.destinations.definition import Context
from seamline.destinations.errors import PermanentError, RetryableError
from seamline.destinations.http import Http
from seamline.identity.identifiers import Identifier
from seamline.privacy.subject import Person
from tests.destinations.contract import Failure, assert_fails, failure_modes, reset
from tests.destinations.sink import Received, Reply, Sink
from tests.destinations.warehouse_fake import Warehouse, batch, message, track

OK = Reply(200, {})
ACTION = clickhouse.DESTINATION.actions["load_events"]
AUTH = "Basic " + base64.b64encode(b"loader:s3cret").decode()
_INSERT = re.compile(r"INSERT INTO `(\w+)`\.`(\w+)` \(([^)]*)\) FORMAT JSONEachRow")


def _text(value: Any) -> Any:
    if isinstance(value, datetime):
        return value.strftime("%Y-%m-%d %H:%M:%S.%f")
    return value


@dataclass
class Server:
    """ClickHouse's HTTP interface, as a sink `check`."""

    server: Sink
    warehouse: Warehouse = field(default_factory=lambda: Warehouse("clickhouse"))
    queries: list[str] = field(default_factory=list)
    tokens: list[str] = field(default_factory=list)

    def __call__(self, got: Received) -> Reply | None:
        if self.server.default is not OK:
            return None
        if got.headers.get("authorization") != AUTH:
            return Reply(
                401,
                b"Code: 516. DB::Exception: loader: Authentication failed: password is "
                b"incorrect, or there is no user with such name. (AUTHENTICATION_FAILED)",
            )
        assert (got.method, got.path, got.query["wait_end_of_query"]) == ("POST", "/", ["1"])
        query = got.query["query"][0]
        self.queries.append(query)
        try:
            return self.run(query, got)
        except Exception as error:
            code = 60 if "does not exist" in str(error) else 62
            return Reply(
                404 if code == 60 else 400, f"Code: {code}. DB::Exception: {error}".encode()
            )

    def run(self, query: str, got: Received) -> Reply:
        insert = _INSERT.fullmatch(query)
        if insert is not None:
            self.tokens.extend(got.query["insert_deduplication_token"])
            rows = [json.loads(line) for line in got.body.decode().splitlines()]
            assert all(list(row) == [c.strip("` ") for c in insert[3].split(",")] for row in rows)
            self.warehouse.statements.append(query)
            self.warehouse.insert(insert[2], rows)
            return Reply(200, b"")
        sql, _, form = query.partition(" FORMAT ")
        rows = self.warehouse.execute(sql)
        if form == "JSONCompact":
            data = [[_text(v) for v in row] for row in rows]
            return Reply(200, {"meta": [], "data": data, "rows": len(data)})
        if form == "JSON":
            names = [c.name for c in sqlglot.parse_one(sql, read="clickhouse").selects]
            if names == ["*"]:
                table = sql.split(" FROM ")[1].split()[0].split(".")[-1].strip("`")
                names = list(self.warehouse.columns[table])
            data = [dict(zip(names, map(_text, row), strict=True)) for row in rows]
            return Reply(200, {"meta": [], "data": data, "rows": len(data)})
        return Reply(200, b"")


@pytest.fixture
def clickhouse_server(server: Sink) -> Server:
    fake = Server(server)
    reset(server, OK, fake)
    return fake


def settings(address: str, **extra: str) -> dict[str, str]:
    return {"url": address, "user": "loader", "password": "s3cret", "database": "web", **extra}


@pytest.fixture
def ctx(clickhouse_server: Server, patient_http: Http) -> Context:
    return Context(settings(clickhouse_server.server.url), patient_http)


def load(ctx: Context, *messages: dict[str, Any]) -> list[Any]:
    assert ACTION.perform_batch is not None
    return list(ACTION.perform_batch(ctx, batch(*messages)))


def sent(fake: Server, kind: str) -> list[str]:
    return [q for q in fake.queries if q.upper().startswith(kind)]


def test_the_catalog_finds_clickhouse_with_its_secret() -> None:
    assert registry.load("clickhouse") is clickhouse.DESTINATION
    assert clickhouse.DESTINATION.secret_settings() == {"password"}


def test_a_batch_lands_in_replacing_merge_trees_as_json_rows(
    ctx: Context, clickhouse_server: Server
) -> None:
    identify = message("identify", "m2", userId="u1", traits={"plan": "pro", "vip": True})
    assert load(ctx, track("m1", price=10.5), identify) == [None, None]

    fake = clickhouse_server
    assert sent(fake, "CREATE DATABASE") == ["CREATE DATABASE IF NOT EXISTS `web`"]
    create = next(q for q in sent(fake, "CREATE TABLE") if "`order_completed`" in q)
    assert create.startswith("CREATE TABLE IF NOT EXISTS `web`.`order_completed` (`id` String, ")
    assert create.endswith("ENGINE = ReplacingMergeTree ORDER BY (`id`)")
    assert fake.warehouse.columns["order_completed"]["price"] == "Nullable(Float64)"
    [row] = fake.warehouse.rows("order_completed")
    assert (row["id"], row["price"], row["user_id"]) == ("m1", 10.5, "u1")
    assert row["received_at"].isoformat() == "2026-11-29T10:00:00+00:00"
    [user] = fake.warehouse.rows("users")
    assert (user["id"], user["plan"], user["vip"]) == ("u1", "pro", True)


def test_a_new_property_adds_exactly_one_column(ctx: Context, clickhouse_server: Server) -> None:
    load(ctx, track("m1", price=10))
    load(ctx, track("m2", price=12, coupon="SPRING"))
    assert sent(clickhouse_server, "ALTER") == [
        "ALTER TABLE `web`.`order_completed` ADD COLUMN IF NOT EXISTS `coupon` Nullable(String)"
    ]


def test_a_redelivered_batch_inserts_nothing(ctx: Context, clickhouse_server: Server) -> None:
    messages = (track("m1", price=1), track("m2", price=2))
    load(ctx, *messages)
    inserts = len(sent(clickhouse_server, "INSERT"))
    tokens = list(clickhouse_server.tokens)

    load(ctx, *messages)
    assert len(sent(clickhouse_server, "INSERT")) == inserts  # the stored ids were skipped
    assert (
        "SELECT `id` FROM `web`.`order_completed` WHERE `id` IN ('m1', 'm2') FORMAT JSON"
        in clickhouse_server.queries
    )
    assert clickhouse_server.warehouse.count("order_completed") == 2
    # An INSERT sent again (its rows not visible yet, say) carries the same token, which
    # replicated tables (ClickHouse Cloud) use to drop it.
    for table in ("tracks", "order_completed"):
        clickhouse_server.warehouse.db.execute(f'DELETE FROM "web"."{table}"')
    load(ctx, *messages)
    assert clickhouse_server.tokens[len(tokens) :] == tokens and len(set(tokens)) == 2


def test_users_keep_the_latest_value_of_each_trait(ctx: Context, clickhouse_server: Server) -> None:
    load(
        ctx,
        message(
            "identify",
            "i1",
            "2026-11-29T10:00:00Z",
            userId="u1",
            traits={"plan": "pro", "seats": 3},
        ),
    )
    load(
        ctx, message("identify", "i2", "2026-11-30T10:00:00Z", userId="u1", traits={"plan": "max"})
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
    [user] = clickhouse_server.warehouse.rows("users")
    assert (user["plan"], user["seats"], user["team"]) == ("max", 3, "ops")
    assert "SELECT * FROM `web`.`users` FINAL WHERE `id` IN ('u1') FORMAT JSON" in (
        clickhouse_server.queries
    )
    assert user["received_at"].isoformat() == "2026-11-30T10:00:00+00:00"


def test_a_value_that_does_not_fit_its_column_is_kept_in_the_discards(
    ctx: Context, clickhouse_server: Server
) -> None:
    load(ctx, track("m1", price=10))
    load(ctx, track("m2", price="ten"))
    [kept] = clickhouse_server.warehouse.rows("seamline_discards")
    assert (kept["row_id"], kept["column_name"], kept["value"]) == ("m2", "price", "ten")
    assert kept["column_type"] == "Nullable(Float64)"


def test_deletion_is_a_lightweight_delete_per_table(
    ctx: Context, clickhouse_server: Server
) -> None:
    load(ctx, track("m1", price=1))
    load(
        ctx,
        track("m2", price="x"),
        message("identify", "i1", userId="u1", traits={"a": 1}),
        message("identify", "i2", userId="u2", anonymousId="anon-2"),
    )
    person = Person(
        workspace_id="w",
        identifiers=frozenset({Identifier("user_id", "u1"), Identifier("anonymous_id", "anon-1")}),
        profile_ids=frozenset(),
    )
    clickhouse.DESTINATION.delete(ctx, person)  # type: ignore[misc]
    w = clickhouse_server.warehouse
    assert [r["id"] for r in w.rows("identifies")] == ["i2"]
    assert [r["id"] for r in w.rows("users")] == ["u2"]
    assert w.count("tracks") == w.count("seamline_discards") == 0
    assert all(q.startswith("DELETE FROM `web`.") for q in sent(clickhouse_server, "DELETE"))


def test_a_table_dropped_by_hand_is_made_again_on_the_retry(
    ctx: Context, clickhouse_server: Server
) -> None:
    load(ctx, track("m1"))
    clickhouse_server.warehouse.db.execute('DROP TABLE "web"."tracks"')
    del clickhouse_server.warehouse.columns["tracks"]
    with pytest.raises(RetryableError, match="404"):
        load(ctx, track("m2"))
    load(ctx, track("m2"))
    assert [r["id"] for r in clickhouse_server.warehouse.rows("tracks")] == ["m2"]


def test_a_wrong_password_fails_the_authentication_test(
    clickhouse_server: Server, http: Http
) -> None:
    url = clickhouse_server.server.url
    assert clickhouse.DESTINATION.test_authentication is not None
    with pytest.raises(PermanentError, match="401"):
        clickhouse.DESTINATION.test_authentication(Context(settings(url, password="no"), http))
    clickhouse.DESTINATION.test_authentication(Context(settings(url), http))
    assert clickhouse_server.queries[-1] == "SELECT 1 FORMAT JSONCompact"


def test_settings_that_cannot_work_are_refused_before_any_request(
    clickhouse_server: Server, http: Http
) -> None:
    url = clickhouse_server.server.url
    for bad in ({"url": "ftp://host"}, {"url": f"{url}/?query=DROP"}, {"database": "a`b"}):
        with pytest.raises(PermanentError):
            load(Context(settings(url, **bad), http), track("m1"))
    assert clickhouse_server.server.received == []


@failure_modes(
    unauthorized=Reply(401, b"Code: 516. DB::Exception: Authentication failed"),
    throttled=Reply(
        429,
        b"Code: 202. DB::Exception: Too many simultaneous queries",
        headers={"Retry-After": "3"},
    ),
    outage=Reply(503, b"Service Unavailable"),
    more={
        "400": Failure(Reply(400, b"Code: 62. DB::Exception: Syntax error"), PermanentError),
        "403": Failure(
            Reply(403, b"Code: 497. DB::Exception: Not enough privileges"), PermanentError
        ),
    },
)
def test_a_failing_server_fails_the_batch_as_it_should(
    ctx: Context, clickhouse_server: Server, failure: Failure, http: Http
) -> None:
    hurried = Context(ctx.settings, http)  # the short timeout, for the hang
    assert_fails(
        clickhouse_server.server, failure, lambda: load(hurried, track("m1")), every_request=True
    )
