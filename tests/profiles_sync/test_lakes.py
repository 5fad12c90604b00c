"""Profiles Sync into lakes: Parquet files on a disk beside a Parquet lake, Parquet objects in
S3-compatible storage (moto's S3 server on 127.0.0.1, reached through the destinations'
client) and Iceberg tables (a SQLite catalog). The scenario reads them back with pyarrow and
pyiceberg."""

from __future__ import annotations

import io
import json
from pathlib import Path
from typing import Any

import pyarrow.parquet as pq
import pytest
from pyiceberg.catalog.sql import SqlCatalog

from seamline.destinations.errors import PermanentError
from seamline.destinations.http import Http
from seamline.profiles_sync.iceberg import IcebergTables
from seamline.profiles_sync.lake import LakeTables, ParquetTables
from seamline.profiles_sync.targets import writer_of
from tests.destinations.test_object_storage import KEYS, bucket, endpoint, s3
from tests.profiles_sync.scenario import Rows, merges_unmerge_retry_and_delete
from tests.protocols.conftest import Workspace

pytestmark = pytest.mark.anyio
__all__ = ["bucket", "endpoint", "s3"]  # the object storage tests' moto fixtures


def disk_rows(root: Path) -> Rows:
    def rows(table: str) -> list[dict[str, Any]]:
        files = sorted((root / table).glob("*.parquet"))
        return [row for file in files for row in pq.read_table(file).to_pylist()]

    return rows


def object_rows(client: Any, name: str, prefix: str) -> Rows:
    def rows(table: str) -> list[dict[str, Any]]:
        listed = client.list_objects_v2(Bucket=name, Prefix=f"{prefix}/{table}/")
        found: list[dict[str, Any]] = []
        for item in listed.get("Contents", []):
            body = client.get_object(Bucket=name, Key=item["Key"])["Body"].read()
            found.extend(pq.read_table(io.BytesIO(body)).to_pylist())
        return found

    return rows


async def test_the_scenario_on_a_disk(workspace: Workspace, tmp_path: Path) -> None:
    root = tmp_path / "profiles"
    writer = LakeTables(root)
    await merges_unmerge_retry_and_delete(workspace, writer, disk_rows(root), json.loads)


async def test_the_scenario_in_object_storage(
    workspace: Workspace, patient_http: Http, endpoint: str, bucket: str, s3: Any
) -> None:
    settings = {
        "bucket": bucket,
        "prefix": "events/web",
        "endpoint_url": endpoint,
        "profiles_sync_prefix": "profiles/web",
        **KEYS,
    }
    writer = writer_of("object-storage", settings, patient_http)
    assert isinstance(writer, ParquetTables)

    rows = object_rows(s3, bucket, "profiles/web")
    await merges_unmerge_retry_and_delete(workspace, writer, rows, json.loads)

    keys = [o["Key"] for o in s3.list_objects_v2(Bucket=bucket).get("Contents", [])]
    assert keys and all(k.startswith("profiles/web/") for k in keys)


@pytest.mark.parametrize(
    ("events", "synced"),
    [("events", "events"), ("events", "events/profiles"), ("all", ""), ("", "profiles")],
)
def test_a_profiles_prefix_that_overlaps_the_events_is_refused(
    patient_http: Http, events: str, synced: str
) -> None:
    settings = {"bucket": "my-bucket", "prefix": events, "profiles_sync_prefix": synced, **KEYS}
    if not synced:
        assert writer_of("object-storage", settings, patient_http) is None
        return
    with pytest.raises(PermanentError, match="must not contain one another"):
        writer_of("object-storage", settings, patient_http)


def iceberg_rows(catalog: Any, namespace: str) -> Rows:
    def rows(table: str) -> list[dict[str, Any]]:
        found: list[dict[str, Any]] = (
            catalog.load_table((namespace, table)).scan().to_arrow().to_pylist()
        )
        return found

    return rows


async def test_the_scenario_in_iceberg_tables(
    workspace: Workspace, patient_http: Http, tmp_path: Path
) -> None:
    url, warehouse = f"sqlite:////{tmp_path}/catalog.db", tmp_path / "warehouse"
    warehouse.mkdir()
    settings = {
        "catalog_url": url,
        "warehouse": str(warehouse),
        "namespace": "web",
        "profiles_sync_namespace": "web_profiles",
    }
    writer = writer_of("iceberg", settings, patient_http)
    assert isinstance(writer, IcebergTables)

    catalog = SqlCatalog("seamline", uri=url, warehouse=warehouse.as_uri())
    try:
        rows = iceberg_rows(catalog, "web_profiles")
        await merges_unmerge_retry_and_delete(workspace, writer, rows, json.loads)
    finally:
        catalog.engine.dispose()


def test_the_events_namespace_is_refused_for_profiles(patient_http: Http, tmp_path: Path) -> None:
    settings = {
        "catalog_url": f"sqlite:////{tmp_path}/catalog.db",
        "warehouse": str(tmp_path),
        "profiles_sync_namespace": "seamline",  # the events' default
    }
    with pytest.raises(PermanentError, match="must differ"):
        writer_of("iceberg", settings, patient_http)
