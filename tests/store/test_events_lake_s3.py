"""The event store on S3, against a local S3-compatible server (moto's server mode on
127.0.0.1): writes, a second store reading them, compaction and garbage collection, cutting
back a partition, and the settings that select it."""

from __future__ import annotations

import importlib.util
import secrets
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import boto3
import duckdb
import pytest
from moto.server import ThreadedMotoServer
from pydantic import ValidationError
from sqlalchemy import Engine

from seamline.config import Settings
from seamline.log.base import position
from seamline.roles.parts import events_root
from seamline.store.events_lake import MERGE_AFTER, LakeEventStore
from seamline.store.lake_s3 import S3Files
from seamline.store.state import open_state_store
from tests.pipeline.test_runner import item


@pytest.fixture(scope="module")
def endpoint() -> Iterator[str]:
    """A local S3-compatible server for this module, with credentials in the standard AWS
    variables (as a deployment gives them)."""
    with pytest.MonkeyPatch.context() as env:
        env.setenv("AWS_ACCESS_KEY_ID", "testing")
        env.setenv("AWS_SECRET_ACCESS_KEY", "testing")
        env.setenv("AWS_DEFAULT_REGION", "us-east-1")
        env.setenv("AWS_EC2_METADATA_DISABLED", "true")  # never ask a metadata address
        server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
        server.start()
        host, port = server.get_host_and_port()
        try:
            yield f"http://{host}:{port}"
        finally:
            server.stop()


@pytest.fixture
def bucket(endpoint: str) -> str:
    name = f"lake-{secrets.token_hex(4)}"
    s3(endpoint).create_bucket(Bucket=name)
    return name


@pytest.fixture
def catalog(tmp_path: Path) -> Iterator[Engine]:
    engine = open_state_store(f"sqlite:///{tmp_path / 'state.db'}")
    yield engine
    engine.dispose()


def s3(endpoint: str) -> Any:
    return boto3.client("s3", endpoint_url=endpoint)


def keys(endpoint: str, bucket: str) -> list[str]:
    listed = s3(endpoint).list_objects_v2(Bucket=bucket).get("Contents", [])
    return sorted(str(o["Key"]) for o in listed)


def ids(store: LakeEventStore) -> list[str]:
    return [row[0] for row in store.query("SELECT message_id FROM events ORDER BY log_offset")]


def test_rows_written_to_s3_are_read_by_a_second_store(
    endpoint: str, bucket: str, engine: Engine
) -> None:
    url = f"s3://{bucket}/events/prod"
    writer = LakeEventStore(S3Files(url, endpoint=endpoint), engine, compact=False)
    writer.write([item(position(1, 0), "b0"), item(position(0, 0), "a0")])
    writer.write([item(position(0, 1), "a1")])
    # Under the prefix, one object per partition and batch, each whole (no temporary names).
    found = keys(endpoint, bucket)
    assert len(found) == 3
    assert all(k.startswith(("events/prod/0/", "events/prod/1/")) for k in found)
    assert all(k.endswith(".parquet") for k in found)
    assert {f.bytes for f in writer.catalog.live()} == {
        s3(endpoint).head_object(Bucket=bucket, Key=f"events/prod/{f.path}")["ContentLength"]
        for f in writer.catalog.live()
    }
    reader = LakeEventStore(S3Files(url, endpoint=endpoint), engine, writable=False)
    assert ids(reader) == ["a0", "a1", "b0"]
    writer.write([item(position(0, 2), "a2")])
    assert ids(reader) == ["a0", "a1", "a2", "b0"]  # the reader sees the new file listed
    assert reader.count() == 4
    reader.close()
    writer.close()


def test_compaction_merges_objects_and_garbage_collection_deletes_the_old_ones(
    endpoint: str, bucket: str, catalog: Engine
) -> None:
    url = f"s3://{bucket}/lake"
    store = LakeEventStore(S3Files(url, endpoint=endpoint), catalog, compact=False)
    for n in range(MERGE_AFTER):
        store.write([item(position(0, n), f"m{n}")])
    other = LakeEventStore(S3Files(url, endpoint=endpoint), catalog, writable=False)
    assert other.count() == MERGE_AFTER and len(ids(other)) == MERGE_AFTER  # read, remembered
    assert store.compact() == MERGE_AFTER
    assert len(keys(endpoint, bucket)) == MERGE_AFTER + 1  # replaced ones stay for readers
    assert store.collect_garbage() == 0  # within the grace period
    assert store.collect_garbage(grace=timedelta(0)) == MERGE_AFTER
    assert keys(endpoint, bucket) == [f"lake/{store.catalog.live()[0].path}"]
    assert ids(other) == [f"m{n}" for n in range(MERGE_AFTER)]
    other.close()
    store.close()


def test_cutting_back_a_partition_on_s3_leaves_the_others(
    endpoint: str, bucket: str, catalog: Engine
) -> None:
    store = LakeEventStore(S3Files(f"s3://{bucket}", endpoint=endpoint), catalog, compact=False)
    store.write([item(position(0, i), f"a{i}") for i in range(4)])
    store.write([item(position(1, 0), "b0")])
    assert store.truncate_from(position(0, 2), position(1, 0)) == 2
    assert ids(store) == ["a0", "a1", "b0"]
    store.truncate_from(position(0, 0), position(1, 0))  # a whole file dropped
    store.write([item(position(0, 0), "again")])
    assert ids(store) == ["again", "b0"]
    store.close()


def test_an_object_gone_under_a_listing_is_an_io_error_the_store_lists_again_on(
    endpoint: str, bucket: str, catalog: Engine
) -> None:
    store = LakeEventStore(S3Files(f"s3://{bucket}/l", endpoint=endpoint), catalog, compact=False)
    store.write([item(position(0, 0), "a0")])
    assert ids(store) == ["a0"]  # its details are remembered now
    for key in keys(endpoint, bucket):
        s3(endpoint).delete_object(Bucket=bucket, Key=key)
    with pytest.raises(duckdb.IOException, match="No files found"):
        store.cursor().execute("SELECT count(*) FROM events").fetchall()
    store.close()


def test_the_settings_put_the_event_store_in_a_bucket(
    endpoint: str, bucket: str, catalog: Engine, tmp_path: Path
) -> None:
    settings = Settings(
        data_dir=tmp_path / "data",
        events_url=f"s3://{bucket}/events",
        events_s3_endpoint=endpoint,
    )
    store = LakeEventStore(events_root(settings), catalog, compact=False)
    store.write([item(position(0, 0), "a0")])
    assert ids(store) == ["a0"]
    assert [k.split("/")[:2] for k in keys(endpoint, bucket)] == [["events", "0"]]
    assert not (tmp_path / "data").exists()  # nothing went to the local disk
    with pytest.raises(TypeError, match="not on local disk"):
        _ = store.root
    store.close()


@pytest.mark.parametrize(
    "url",
    ["s3://", "s3:///prefix", "gs://bucket/prefix", "file://host/lake", "/shared/lake"],
)
def test_an_events_url_without_a_bucket_or_of_another_scheme_is_refused(url: str) -> None:
    with pytest.raises(ValidationError, match=r"file:///absolute/path .* or s3://bucket/prefix"):
        Settings(events_url=url)


def test_an_s3_events_url_without_s3fs_says_what_to_install(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    real = importlib.util.find_spec
    monkeypatch.setattr(
        importlib.util, "find_spec", lambda name, *a: None if name == "s3fs" else real(name, *a)
    )
    with pytest.raises(ValidationError, match=r"pip install seamline\[s3\]"):
        Settings(events_url="s3://bucket/prefix")
