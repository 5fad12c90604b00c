"""Profiles Sync as configured on destinations: the deliver role's loop writes to a
PostgreSQL warehouse's schema and beside a Parquet lake, records each run, and skips the
instances that do not take it."""

from __future__ import annotations

from pathlib import Path

import duckdb
import pytest

from seamline.store.profiles_sync_sql import SqlProfilesSyncRuns
from tests.profiles_sync.test_postgres_sync import identify, query, state_graph
from tests.protocols.conftest import Workspace

pytestmark = pytest.mark.anyio


@pytest.mark.parametrize("slug", ["postgres-warehouse", "redshift"])
async def test_a_warehouse_with_a_profiles_sync_schema_gets_the_tables(
    workspace: Workspace, postgres_url: str, slug: str
) -> None:
    settings = {"database_url": postgres_url, "schema": "events", "profiles_sync_schema": "ps"}
    await workspace.put("destinations", "wh", {"type": slug, "settings": settings})
    await workspace.put("destinations", "plain", {"type": "webhook"})
    await workspace.send([identify("m1", "a1", "u1", plan="free")])

    outcomes = workspace.app.profiles_sync.run_once()

    assert outcomes == {"default/wh": "FINISHED"}
    graph = dict(
        query(postgres_url, "SELECT segment_id, canonical_segment_id FROM ps.profile_merges")
    )
    assert graph == state_graph(workspace)
    last = SqlProfilesSyncRuns(workspace.app.state).last("default/wh")
    assert last is not None and last["status"] == "FINISHED"
    assert last["counts"]["external_id_mapping_updates"] == 2  # type: ignore[index]


async def test_a_failing_target_is_recorded_and_retried(
    workspace: Workspace, tmp_path: Path
) -> None:
    settings = {
        "database_url": "postgresql://nobody@127.0.0.1:1/none",
        "profiles_sync_schema": "ps",
    }
    await workspace.put("destinations", "wh", {"type": "postgres-warehouse", "settings": settings})
    await workspace.send([identify("m1", "a1", "u1")])

    assert workspace.app.profiles_sync.run_once() == {"default/wh": "FAILED"}
    last = SqlProfilesSyncRuns(workspace.app.state).last("default/wh")
    assert last is not None and "127.0.0.1" in str(last["error"])
    assert workspace.app.profiles_sync.run_once() == {"default/wh": "FAILED"}  # claim released


async def test_a_lake_gets_parquet_tables_that_duckdb_reads(
    workspace: Workspace, tmp_path: Path
) -> None:
    lake, synced = tmp_path / "lake", tmp_path / "profiles"
    settings = {"path": str(lake), "profiles_sync_path": str(synced)}
    await workspace.put("destinations", "lake", {"type": "parquet-lake", "settings": settings})
    await workspace.send(
        [identify("m1", "a1", "u1", plan="free"), identify("m2", "a2", email="jo@example.com")]
    )
    workspace.app.profiles_sync.run_once()
    await workspace.send([identify("m3", "a2", "u1", plan="pro")])
    workspace.app.profiles_sync.run_once()

    graph = dict(
        duckdb.sql(
            f"SELECT segment_id, canonical_segment_id FROM '{synced}/profile_merges/*.parquet'"
        ).fetchall()
    )
    assert graph == state_graph(workspace)
    [person] = set(graph.values())
    traits = duckdb.sql(
        f"SELECT canonical_segment_id, name, value FROM '{synced}/user_traits/*.parquet'"
    ).fetchall()
    assert sorted(traits) == [(person, "email", '"jo@example.com"'), (person, "plan", '"pro"')]
    updates = duckdb.sql(
        f"SELECT count(*) FROM '{synced}/id_graph_updates/*.parquet' WHERE change = 'merged'"
    ).fetchall()
    assert updates == [(1,)]
