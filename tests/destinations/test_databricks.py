"""Databricks against a local sink playing a workspace's SQL Statement Execution API: it
checks the bearer token and the documented request (statement, warehouse_id, wait_timeout,
INLINE JSON_ARRAY), runs the statement on `warehouse_fake` (parsed as Databricks SQL, executed
by DuckDB), answers PENDING with a statement_id and then SUCCEEDED with `result.data_array`,
or FAILED with `status.error` as Databricks reports a failed statement."""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from typing import Any

import pytest

from seamline.destinations import registry
from seamline.destinations.catalog import databricks
from seamline.destinations.definition import Context
from seamline.destinations.errors import PermanentError, RetryableError
from seamline.destinations.http import Http
from seamline.identity.identifiers import Identifier
from seamline.privacy.subject import Person
from tests.destinations.contract import Failure, assert_fails, failure_modes, reset
from tests.destinations.sink import Received, Reply, Sink
from tests.destinations.warehouse_fake import Warehouse, batch, message, track

OK = Reply(200, {})
ACTION = databricks.DESTINATION.actions["load_events"]
TOKEN = "dapi0123456789abcdef"


@dataclass
class Workspace:
    """The Statement Execution API, as a sink `check`."""

    server: Sink
    warehouse: Warehouse = field(default_factory=lambda: Warehouse("databricks", "lake"))
    results: dict[str, dict[str, Any]] = field(default_factory=dict)
    bodies: list[dict[str, Any]] = field(default_factory=list)
    running: bool = False
    """Every statement stays RUNNING."""
    cancelled: list[str] = field(default_factory=list)

    def __call__(self, got: Received) -> Reply | None:
        if self.server.default is not OK:
            return None
        if got.headers.get("authorization") != f"Bearer {TOKEN}":
            return Reply(401, {"error_code": "UNAUTHENTICATED", "message": "Invalid access token."})
        if (got.method, got.path) == ("POST", "/api/2.0/sql/statements"):
            return self.submit(got.json())
        if got.method == "POST" and got.path.endswith("/cancel"):
            self.cancelled.append(got.path.split("/")[-2])
            return Reply(200, {})
        if got.method == "GET" and got.path.startswith("/api/2.0/sql/statements/"):
            statement_id = got.path.rsplit("/", 1)[1]
            if self.running:
                return Reply(200, {"statement_id": statement_id, "status": {"state": "RUNNING"}})
            return Reply(200, self.results[statement_id])
        return Reply(404, {"error_code": "NOT_FOUND", "message": "No API found"})

    def submit(self, body: dict[str, Any]) -> Reply:
        assert body["warehouse_id"] == "abc123def456"
        assert (body["wait_timeout"], body["disposition"], body["format"]) == (
            "0s",
            "INLINE",
            "JSON_ARRAY",
        )
        self.bodies.append(body)
        statement_id = str(uuid.uuid4())
        try:
            rows = self.warehouse.execute(body["statement"])
        except Exception as error:
            code = (
                "TABLE_OR_VIEW_NOT_FOUND"
                if "does not exist" in str(error)
                else "PARSE_SYNTAX_ERROR"
            )
            self.results[statement_id] = {
                "statement_id": statement_id,
                "status": {
                    "state": "FAILED",
                    "error": {"error_code": "BAD_REQUEST", "message": f"[{code}] {error}"},
                },
            }
        else:
            self.results[statement_id] = {
                "statement_id": statement_id,
                "status": {"state": "SUCCEEDED"},
                "manifest": {
                    "format": "JSON_ARRAY",
                    "total_chunk_count": 1,
                    "total_row_count": len(rows),
                },
                "result": {
                    "chunk_index": 0,
                    "row_offset": 0,
                    "row_count": len(rows),
                    "data_array": [[None if v is None else str(v) for v in row] for row in rows],
                },
            }
        return Reply(200, {"statement_id": statement_id, "status": {"state": "PENDING"}})


@pytest.fixture
def workspace(server: Sink) -> Workspace:
    workspace = Workspace(server)
    reset(server, OK, workspace)
    return workspace


def settings(url: str, **extra: str) -> dict[str, str]:
    return {"host": url, "token": TOKEN, "warehouse_id": "abc123def456", "catalog": "lake", **extra}


@pytest.fixture
def ctx(workspace: Workspace, patient_http: Http) -> Context:
    return Context(settings(workspace.server.url), patient_http)


def load(ctx: Context, *messages: dict[str, Any]) -> list[Any]:
    assert ACTION.perform_batch is not None
    return list(ACTION.perform_batch(ctx, batch(*messages)))


def sent(workspace: Workspace, kind: str) -> list[str]:
    return [s for s in workspace.warehouse.statements if s.upper().startswith(kind)]


def test_the_catalog_finds_databricks_with_its_secret() -> None:
    assert registry.load("databricks") is databricks.DESTINATION
    assert databricks.DESTINATION.secret_settings() == {"token"}


def test_a_batch_lands_in_delta_tables_statement_by_statement(
    ctx: Context, workspace: Workspace
) -> None:
    identify = message("identify", "m2", userId="u1", traits={"plan": "pro"})
    assert load(ctx, track("m1", price=10.5, quote="it's \\ fine\n"), identify) == [None, None]

    assert sent(workspace, "CREATE SCHEMA") == ["CREATE SCHEMA IF NOT EXISTS `lake`.`seamline`"]
    assert workspace.warehouse.columns["order_completed"]["price"] == "DOUBLE"
    [row] = workspace.warehouse.rows("order_completed")
    assert (row["price"], row["quote"], row["user_id"]) == (10.5, "it's \\ fine\n", "u1")
    [user] = workspace.warehouse.rows("users")
    assert (user["id"], user["plan"]) == ("u1", "pro")
    # one statement per call, each followed by one status request
    gets = [got for got in workspace.server.received if got.method == "GET"]
    assert len(gets) == len(workspace.bodies) == len(workspace.warehouse.statements)


def test_a_new_property_adds_exactly_one_column(ctx: Context, workspace: Workspace) -> None:
    load(ctx, track("m1", price=10))
    load(ctx, track("m2", price=12, coupon="SPRING", plan="pro"))
    assert sent(workspace, "ALTER") == [
        "ALTER TABLE `lake`.`seamline`.`order_completed` ADD COLUMNS (`coupon` STRING, "
        "`plan` STRING)"
    ]


def test_a_redelivered_batch_is_merged_away(ctx: Context, workspace: Workspace) -> None:
    messages = (track("m1", price=1), track("m2", price=2))
    load(ctx, *messages)
    load(ctx, *messages)
    assert workspace.warehouse.count("order_completed") == 2
    assert "ON t.`id` = s.`id` WHEN NOT MATCHED THEN INSERT" in sent(workspace, "MERGE")[-1]


def test_users_keep_the_latest_value_of_each_trait(ctx: Context, workspace: Workspace) -> None:
    load(ctx, message("identify", "i1", "2026-11-29T10:00:00Z", userId="u1", traits={"plan": "a"}))
    load(ctx, message("identify", "i2", "2026-11-30T10:00:00Z", userId="u1", traits={"plan": "b"}))
    load(ctx, message("identify", "i0", "2026-11-28T10:00:00Z", userId="u1", traits={"plan": "c"}))
    [user] = workspace.warehouse.rows("users")
    assert user["plan"] == "b"


def test_deletion_deletes_the_persons_rows(ctx: Context, workspace: Workspace) -> None:
    load(ctx, track("m1", price=1))
    load(ctx, track("m2", price="free"), message("alias", "a1", userId="u2", previousId="anon-1"))
    person = Person(
        workspace_id="w",
        identifiers=frozenset({Identifier("anonymous_id", "anon-1")}),
        profile_ids=frozenset(),
    )
    databricks.DESTINATION.delete(ctx, person)  # type: ignore[misc]
    w = workspace.warehouse
    assert w.count("tracks") == w.count("aliases") == w.count("seamline_discards") == 0


def test_a_failed_statement_is_permanent_unless_a_table_went_missing(
    ctx: Context, workspace: Workspace
) -> None:
    load(ctx, track("m1"))
    workspace.warehouse.db.execute('DROP TABLE "lake"."seamline"."tracks"')
    del workspace.warehouse.columns["tracks"]
    with pytest.raises(RetryableError, match="TABLE_OR_VIEW_NOT_FOUND"):
        load(ctx, track("m2"))
    load(ctx, track("m2"))
    assert [r["id"] for r in workspace.warehouse.rows("tracks")] == ["m2"]

    workspace.results.clear()
    api = databricks._loader(ctx).target.api  # type: ignore[attr-defined]
    with pytest.raises(PermanentError, match="PARSE_SYNTAX_ERROR"):
        api.query("SELEC nonsense FROM")


def test_a_statement_running_too_long_is_cancelled_and_the_batch_retried(
    ctx: Context, workspace: Workspace
) -> None:
    load(ctx, track("m1"))
    workspace.running = True
    databricks._loader(ctx).target.api.max_wait = 0.0  # type: ignore[attr-defined]
    with pytest.raises(RetryableError, match="still running"):
        load(ctx, track("m2"))
    assert len(workspace.cancelled) == 1 and workspace.cancelled[0] in workspace.results


def test_a_wrong_token_fails_the_authentication_test(workspace: Workspace, http: Http) -> None:
    ctx = Context(settings(workspace.server.url, token="dapi-wrong"), http)
    assert databricks.DESTINATION.test_authentication is not None
    with pytest.raises(PermanentError, match="401"):
        databricks.DESTINATION.test_authentication(ctx)
    databricks.DESTINATION.test_authentication(Context(settings(workspace.server.url), http))
    assert workspace.bodies[-1]["statement"] == "SELECT 1"


def test_settings_that_cannot_work_are_refused_before_any_request(
    workspace: Workspace, http: Http
) -> None:
    url = workspace.server.url
    for bad in ({"host": f"{url}/sql/1.0"}, {"warehouse_id": "../x"}, {"schema": "a`b"}):
        with pytest.raises(PermanentError):
            load(Context(settings(url, **bad), http), track("m1"))
    assert workspace.server.received == []


@failure_modes(
    unauthorized=Reply(401, {"error_code": "UNAUTHENTICATED", "message": "Invalid token"}),
    throttled=Reply(
        429,
        {"error_code": "TOO_MANY_REQUESTS", "message": "Too many requests"},
        headers={"Retry-After": "5"},
    ),
    outage=Reply(503, {"error_code": "TEMPORARILY_UNAVAILABLE", "message": "Unavailable"}),
    more={
        "403": Failure(
            Reply(403, {"error_code": "PERMISSION_DENIED", "message": "No access to warehouse"}),
            PermanentError,
        )
    },
)
def test_a_failing_workspace_fails_the_batch_as_it_should(
    ctx: Context, workspace: Workspace, failure: Failure, http: Http
) -> None:
    hurried = Context(ctx.settings, http)  # the short timeout, for the hang
    assert_fails(workspace.server, failure, lambda: load(hurried, track("m1")), every_request=True)
