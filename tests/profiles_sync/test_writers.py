"""Every Profiles Sync writer through one scenario (`scenario.py`): after merges, an unmerge,
a retried run and an erased person, the tables it wrote hold the state store's graph, no raw
row twice and nothing of the erased person."""

from __future__ import annotations

import json
from typing import Any

import psycopg
import pytest
from psycopg.rows import dict_row

from seamline.destinations.catalog.postgres_warehouse.connections import libpq_url
from seamline.profiles_sync.postgres import PostgresTables
from seamline.profiles_sync.redshift import RedshiftTables
from tests.profiles_sync.scenario import Person, erase, merges_unmerge_retry_and_delete, sync
from tests.profiles_sync.test_postgres_sync import WS, identify, state_graph
from tests.protocols.conftest import Workspace

pytestmark = pytest.mark.anyio
SCHEMA = "ps"


def _reader(url: str) -> Any:
    def rows(table: str) -> list[dict[str, Any]]:
        with psycopg.connect(libpq_url(url), row_factory=dict_row) as conn:
            return conn.execute(f"SELECT * FROM {SCHEMA}.{table}").fetchall()

    return rows


async def test_postgres(workspace: Workspace, postgres_url: str) -> None:
    writer = PostgresTables(postgres_url, SCHEMA)
    await merges_unmerge_retry_and_delete(workspace, writer, _reader(postgres_url), lambda v: v)


async def test_redshift_on_postgres(workspace: Workspace, postgres_url: str) -> None:
    writer = RedshiftTables(postgres_url, SCHEMA)
    await merges_unmerge_retry_and_delete(workspace, writer, _reader(postgres_url), json.loads)
    with psycopg.connect(libpq_url(postgres_url)) as conn:
        types = dict(
            conn.execute(
                "SELECT column_name, data_type FROM information_schema.columns "
                "WHERE table_schema = %s AND table_name = 'user_traits'",
                (SCHEMA,),
            ).fetchall()
        )
    assert types["value"] == "character varying"  # Redshift has no jsonb


async def test_an_erasure_reaches_the_warehouse(workspace: Workspace, postgres_url: str) -> None:
    writer = PostgresTables(postgres_url, SCHEMA)
    rows = _reader(postgres_url)
    await workspace.send([identify("m1", "a1", "u1"), identify("m2", "a2", "u2")])
    sync(workspace, writer)
    [gone] = [p for p, c in state_graph(workspace).items() if _named(rows, p, "u1")]
    erase(workspace, Person(WS, [("user_id", "u1")], [gone], ["u1"], ["a1"]))
    sync(workspace, writer)
    assert gone not in {r["segment_id"] for r in rows("id_graph_updates")}


def _named(rows: Any, profile: str, user_id: str) -> bool:
    return any(
        r["canonical_segment_id"] == profile and r["value"] == user_id
        for r in rows("user_identifiers")
    )
