"""Profiles Sync into Snowflake, BigQuery, Databricks and ClickHouse, each through the fake its
event-loading tests use: the writer's statements are sent over HTTP to the local sink playing
the tool's API, parsed in the tool's SQL dialect and run on DuckDB; the scenario reads the
tables DuckDB holds afterwards."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import pytest

from seamline.destinations.errors import PermanentError
from seamline.destinations.http import Http
from seamline.profiles_sync.targets import writer_of
from seamline.profiles_sync.warehouse import WarehouseTables
from seamline.store.profiles_sync_sql import SqlProfilesSyncRuns
from tests.destinations import test_bigquery, test_clickhouse, test_databricks, test_snowflake
from tests.destinations.contract import reset
from tests.destinations.sink import Sink
from tests.destinations.warehouse_fake import Warehouse
from tests.profiles_sync.scenario import merges_unmerge_retry_and_delete
from tests.profiles_sync.test_postgres_sync import identify, state_graph
from tests.protocols.conftest import Workspace

pytestmark = pytest.mark.anyio
PEM_MARK = "BEGIN PRIVATE KEY"


def _snowflake(server: Sink) -> tuple[dict[str, Any], Warehouse]:
    fake = reset(server, test_snowflake.OK, test_snowflake.SqlApi(server)).check
    assert isinstance(fake, test_snowflake.SqlApi)
    return test_snowflake.settings(server.url), fake.warehouse


def _bigquery(server: Sink) -> tuple[dict[str, Any], Warehouse]:
    fake = reset(server, test_bigquery.OK, test_bigquery.Google(server)).check
    assert isinstance(fake, test_bigquery.Google)
    settings = {
        "service_account_key": test_bigquery.key_file(f"{server.url}/token"),
        "dataset": "web",
        "location": "EU",
        "api_url": server.url,
    }
    return settings, fake.warehouse


def _databricks(server: Sink) -> tuple[dict[str, Any], Warehouse]:
    fake = reset(server, test_databricks.OK, test_databricks.Workspace(server)).check
    assert isinstance(fake, test_databricks.Workspace)
    return test_databricks.settings(server.url), fake.warehouse


def _clickhouse(server: Sink) -> tuple[dict[str, Any], Warehouse]:
    fake = reset(server, test_clickhouse.OK, test_clickhouse.Server(server)).check
    assert isinstance(fake, test_clickhouse.Server)
    return test_clickhouse.settings(server.url), fake.warehouse


TOOLS: dict[str, Callable[[Sink], tuple[dict[str, Any], Warehouse]]] = {
    "snowflake": _snowflake,
    "bigquery": _bigquery,
    "databricks": _databricks,
    "clickhouse": _clickhouse,
}


@pytest.mark.parametrize("slug", list(TOOLS))
async def test_the_scenario_on_each_cloud_warehouse(
    workspace: Workspace, server: Sink, patient_http: Http, slug: str
) -> None:
    settings, warehouse = TOOLS[slug](server)
    writer = writer_of(slug, {**settings, "profiles_sync_schema": "ps"}, patient_http)
    assert isinstance(writer, WarehouseTables)

    await merges_unmerge_retry_and_delete(workspace, writer, warehouse.rows, json.loads)

    # Every table went to the Profiles Sync schema, none to the events' own.
    schemas = warehouse.db.execute(
        "SELECT DISTINCT lower(table_schema), lower(table_name) FROM information_schema.tables"
    ).fetchall()
    assert {schema for schema, _ in schemas} == {"ps"}
    assert {table for _, table in schemas} == {
        "id_graph_updates",
        "external_id_mapping_updates",
        "profile_traits_updates",
        "profile_merges",
        "user_identifiers",
        "user_traits",
    }


def test_without_a_profiles_sync_schema_a_cloud_warehouse_takes_none(
    server: Sink, patient_http: Http
) -> None:
    settings, _ = _snowflake(server)
    assert writer_of("snowflake", settings, patient_http) is None


def test_settings_the_warehouse_refuses_are_refused_before_any_request(
    server: Sink, patient_http: Http
) -> None:
    settings, _ = _snowflake(server)
    with pytest.raises(PermanentError, match="Snowflake name"):
        writer_of("snowflake", {**settings, "profiles_sync_schema": "no-dashes"}, patient_http)
    assert server.received == []


async def test_the_deliver_role_syncs_a_snowflake_instance_and_records_a_refused_one(
    workspace: Workspace, server: Sink
) -> None:
    settings, warehouse = _snowflake(server)
    for name, schema in (("sf", "PS"), ("broken", "no-dashes")):
        instance = {"type": "snowflake", "settings": {**settings, "profiles_sync_schema": schema}}
        await workspace.put("destinations", name, instance)
    await workspace.send([identify("m1", "a1", "u1", plan="free")])

    outcomes = workspace.app.profiles_sync.run_once()

    assert outcomes == {"default/sf": "FINISHED", "default/broken": "FAILED"}
    graph = {r["segment_id"]: r["canonical_segment_id"] for r in warehouse.rows("profile_merges")}
    assert graph == state_graph(workspace)
    last = SqlProfilesSyncRuns(workspace.app.state).last("default/broken")
    assert last is not None and "Snowflake name" in str(last["error"])
    assert PEM_MARK not in str(last["error"])
