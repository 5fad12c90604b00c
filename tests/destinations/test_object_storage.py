"""S3-compatible object storage: objects written, re-written and deleted in a real S3 API
(moto's server on 127.0.0.1), requests signed as AWS documents (its published example, and
botocore's signer for keys with `=` and spaces), the request shape and failure answers at the
local sink, and bad settings refused with a clear reason."""

from __future__ import annotations

import asyncio
import hashlib
import io
import json
import secrets
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import boto3
import duckdb
import pyarrow.parquet as pq
import pytest
from botocore.auth import S3SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials as BotoCredentials
from moto.server import ThreadedMotoServer

from seamline.destinations import registry
from seamline.destinations.catalog.object_storage import DESTINATION
from seamline.destinations.catalog.object_storage.sigv4 import (
    Credentials,
    encode,
    signed_headers,
)
from seamline.destinations.client import destination_client
from seamline.destinations.definition import Context
from seamline.destinations.errors import DeliveryError, PermanentError
from seamline.destinations.http import Http
from seamline.identity.identifiers import Identifier
from seamline.privacy.subject import Person
from tests.destinations.contract import Failure, assert_fails, failure_modes, reset
from tests.destinations.sink import Received, Reply, Sink
from tests.protocols.conftest import Workspace

ACTION = DESTINATION.actions["write_events"]
KEYS = {"access_key_id": "testing", "secret_access_key": "moto-secret-key"}


@pytest.fixture(scope="module")
def endpoint() -> Iterator[str]:
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    try:
        yield f"http://{host}:{port}"
    finally:
        server.stop()


@pytest.fixture
def s3(endpoint: str) -> Any:
    """boto3 on the same server, to look at what the destination wrote."""
    return boto3.client(
        "s3",
        endpoint_url=endpoint,
        region_name="us-east-1",
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
    )


@pytest.fixture
def bucket(s3: Any) -> str:
    name = f"events-{secrets.token_hex(4)}"
    s3.create_bucket(Bucket=name)
    return name


@pytest.fixture
def ctx(http: Http, endpoint: str, bucket: str) -> Context:
    settings = {"bucket": bucket, "prefix": "segment/web", "endpoint_url": endpoint, **KEYS}
    return Context(settings=settings, http=http)


@pytest.fixture
def tool(server: Sink) -> Sink:
    return reset(server, Reply(200, b""), None)


def event(message_id: str, user_id: str = "u1", **properties: Any) -> dict[str, Any]:
    return {
        "type": "track",
        "event": "Order Completed",
        "messageId": message_id,
        "userId": user_id,
        "anonymousId": f"anon-{user_id}",
        "receivedAt": "2026-11-29T10:00:00Z",
        "timestamp": "2026-11-29T10:00:00Z",
        "properties": properties,
    }


def write(ctx: Context, *messages: dict[str, Any]) -> list[DeliveryError | None]:
    assert ACTION.perform_batch is not None
    outcomes: list[DeliveryError | None] = ACTION.perform_batch(
        ctx, [{"event": m} for m in messages]
    )
    return outcomes


def objects(s3: Any, bucket: str) -> dict[str, bytes]:
    listed = s3.list_objects_v2(Bucket=bucket).get("Contents", [])
    return {o["Key"]: s3.get_object(Bucket=bucket, Key=o["Key"])["Body"].read() for o in listed}


def person(*user_ids: str) -> Person:
    found = frozenset(Identifier("user_id", v) for v in user_ids)
    return Person(workspace_id="default", identifiers=found, profile_ids=frozenset())


# -- signing ----------------------------------------------------------------------------------


def test_the_signature_is_awss_published_example() -> None:
    headers = signed_headers(
        "GET",
        "examplebucket.s3.amazonaws.com",
        "/test.txt",
        {},
        b"",
        Credentials("AKIAIOSFODNN7EXAMPLE", "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"),
        "us-east-1",
        datetime(2013, 5, 24, tzinfo=UTC),
        {"Range": "bytes=0-9"},
    )
    assert headers["authorization"] == (
        "AWS4-HMAC-SHA256 Credential=AKIAIOSFODNN7EXAMPLE/20130524/us-east-1/s3/aws4_request, "
        "SignedHeaders=host;range;x-amz-content-sha256;x-amz-date, "
        "Signature=f0e8bdb87c964420e857bd35b5d6ed310bd44f0170aba48dd91039c6036bdb41"
    )


def test_the_signature_agrees_with_botocore_for_hive_keys_and_queries() -> None:
    key = "segment/type=track/event=order completed/date=2026-11-29/part-1.parquet"
    body = b"PAR1 bytes"
    request = AWSRequest(
        method="PUT",
        url=f"http://127.0.0.1:9000/lake/{encode(key, keep_slash=True)}?list-type=2&prefix=a%20b%2Fc",
        data=body,
        headers={
            "content-type": "application/vnd.apache.parquet",
            "x-amz-content-sha256": hashlib.sha256(body).hexdigest(),
        },
    )
    S3SigV4Auth(BotoCredentials("AKID", "secret/key+1", "token-1"), "s3", "eu-west-1").add_auth(
        request
    )
    when = datetime.strptime(request.headers["X-Amz-Date"], "%Y%m%dT%H%M%SZ").replace(tzinfo=UTC)
    ours = signed_headers(
        "PUT",
        "127.0.0.1:9000",
        "/lake/" + encode(key, keep_slash=True),
        {"list-type": "2", "prefix": "a b/c"},
        body,
        Credentials("AKID", "secret/key+1", "token-1"),
        "eu-west-1",
        when,
        {"content-type": "application/vnd.apache.parquet"},
    )
    assert ours["authorization"] == request.headers["Authorization"]


# -- against an S3 API ------------------------------------------------------------------------


def test_the_catalog_lists_object_storage_with_a_secret_key() -> None:
    assert registry.load("object-storage") is DESTINATION
    assert DESTINATION.secret_settings() == {"secret_access_key", "session_token"}
    assert DESTINATION.settings["endpoint_url"].target


def test_a_batch_becomes_one_parquet_object_per_partition(
    ctx: Context, s3: Any, bucket: str
) -> None:
    page = {"type": "page", "messageId": "p1", "userId": "u1", "receivedAt": "2026-11-30T01:00:00Z"}
    assert write(ctx, event("m1", total=5), event("m2", total=7.5), page) == [None] * 3
    stored = objects(s3, bucket)
    prefixes = sorted(k.rsplit("/", 1)[0] for k in stored)
    assert prefixes == [
        "segment/web/type=page/event=__HIVE_DEFAULT_PARTITION__/date=2026-11-30",
        "segment/web/type=track/event=order_completed/date=2026-11-29",
    ]
    (track_key,) = [k for k in stored if "type=track" in k]
    table = pq.read_table(io.BytesIO(stored[track_key]))
    assert table.column("message_id").to_pylist() == ["m1", "m2"]
    assert table.column("properties_total").to_pylist() == [5.0, 7.5]
    assert DESTINATION.test_authentication is not None
    DESTINATION.test_authentication(ctx)  # a probe written and removed
    assert sorted(objects(s3, bucket)) == sorted(stored)


def test_duckdb_reads_the_partitions_back(
    ctx: Context, s3: Any, bucket: str, tmp_path: Any
) -> None:
    write(ctx, event("m1", total=5), event("m2", user_id="u2", total=7))
    for key, data in objects(s3, bucket).items():
        path = tmp_path / key
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)
    glob = str(tmp_path / "segment/web/**/*.parquet")
    relation = duckdb.sql(
        f"SELECT type, event, user_id FROM read_parquet('{glob}', hive_partitioning = true) ORDER BY user_id"
    )
    assert relation is not None
    assert relation.fetchall() == [
        ("track", "order_completed", "u1"),
        ("track", "order_completed", "u2"),
    ]


def test_json_lines_hold_each_message_as_delivered(ctx: Context, s3: Any, bucket: str) -> None:
    ctx.settings = {**ctx.settings, "format": "jsonl", "prefix": ""}
    write(ctx, event("m1", total=5), event("m2"))
    ((key, data),) = objects(s3, bucket).items()
    assert key.startswith("type=track/event=order_completed/date=2026-11-29/part-")
    assert key.endswith(".jsonl")
    assert [json.loads(line) for line in data.splitlines()] == [event("m1", total=5), event("m2")]


def test_a_redelivered_batch_replaces_the_same_object(ctx: Context, s3: Any, bucket: str) -> None:
    write(ctx, event("m1"), event("m2"))
    first = objects(s3, bucket)
    write(ctx, event("m2"), event("m1"))  # same messages, any order
    assert sorted(objects(s3, bucket)) == sorted(first)


def test_deleting_a_person_rewrites_objects_without_their_rows(
    ctx: Context, s3: Any, bucket: str
) -> None:
    write(ctx, event("m1"), event("m2", user_id="u2"))  # one object, both people
    write(ctx, event("m3"))  # one object, only u1
    ctx.settings = {**ctx.settings, "format": "jsonl"}
    write(ctx, event("m4"), event("m5", user_id="u2"))
    assert DESTINATION.delete is not None
    DESTINATION.delete(ctx, person("u1"))
    stored = objects(s3, bucket)
    assert len(stored) == 2  # the object of m3 alone is gone
    rows: list[str] = []
    for key, data in stored.items():
        if key.endswith(".parquet"):
            rows += pq.read_table(io.BytesIO(data)).column("message_id").to_pylist()
        else:
            rows += [json.loads(line)["messageId"] for line in data.splitlines()]
    assert sorted(rows) == ["m2", "m5"]
    DESTINATION.delete(ctx, person("nobody"))
    assert objects(s3, bucket) == stored


def test_a_missing_bucket_is_permanent(ctx: Context) -> None:
    ctx.settings = {**ctx.settings, "bucket": "no-such-bucket"}
    with pytest.raises(PermanentError, match="404"):
        write(ctx, event("m1"))


def test_an_endpoint_on_a_private_address_is_refused_unless_opened(
    endpoint: str, bucket: str
) -> None:
    with destination_client() as client:
        settings = {"bucket": bucket, "endpoint_url": endpoint, **KEYS}
        ctx = Context(settings=settings, http=Http(client))
        with pytest.raises(PermanentError, match="not sent"):
            write(ctx, event("m1"))


@pytest.mark.anyio
async def test_end_to_end_events_sent_to_the_tracking_api_land_in_the_bucket(
    workspace: Workspace, endpoint: str, bucket: str, s3: Any
) -> None:
    settings = {"bucket": bucket, "prefix": "web", "endpoint_url": endpoint, **KEYS}
    await workspace.put("destinations", "lake", {"type": "object-storage", "settings": settings})
    await workspace.put(
        "subscriptions",
        "lake-all",
        {
            "destination": "lake",
            "action": "write_events",
            "trigger": ACTION.default_trigger,
            "mapping": {"event": {"@path": "$."}},
        },
    )
    await workspace.send([event("m1", total=1), event("m2", total=2)])
    for _ in range(300):
        stored = objects(s3, bucket)
        rows = [
            m
            for data in stored.values()
            for m in pq.read_table(io.BytesIO(data))["message_id"].to_pylist()
        ]
        if len(rows) >= 2:
            break
        await asyncio.sleep(0.05)
    assert sorted(rows) == ["m1", "m2"]
    assert all(key.startswith("web/type=track/event=order_completed/date=") for key in stored)


# -- request shape and failures at the sink ---------------------------------------------------


def test_the_request_is_a_signed_path_style_put(tool: Sink, http: Http) -> None:
    ctx = Context(settings={"bucket": "lake", "endpoint_url": tool.url, **KEYS}, http=http)
    write(ctx, event("m1"))
    (put,) = tool.received
    assert put.method == "PUT"
    assert put.path.startswith("/lake/type%3Dtrack/event%3Dorder_completed/date%3D2026-11-29/part-")
    assert put.headers["x-amz-content-sha256"] == hashlib.sha256(put.body).hexdigest()
    assert put.headers["content-type"] == "application/vnd.apache.parquet"
    assert put.headers["authorization"].startswith(
        "AWS4-HMAC-SHA256 Credential=testing/" + put.headers["x-amz-date"][:8] + "/us-east-1/s3/"
    )
    recorded = "\n".join(e.request_text() for e in http.exchanges)
    assert "moto-secret-key" not in recorded
    assert "Signature=" not in recorded  # the whole Authorization header is hidden


def test_a_listing_is_read_page_by_page(tool: Sink, http: Http) -> None:
    def page(keys: list[str], token: str | None) -> bytes:
        contents = "".join(f"<Contents><Key>{k}</Key></Contents>" for k in keys)
        more = (
            f"<IsTruncated>true</IsTruncated><NextContinuationToken>{token}</NextContinuationToken>"
        )
        tail = more if token else "<IsTruncated>false</IsTruncated>"
        return (
            '<ListBucketResult xmlns="http://s3.amazonaws.com/doc/2006-03-01/">'
            f"{contents}{tail}</ListBucketResult>"
        ).encode()

    def check(got: Received) -> Reply | None:
        if got.method != "GET" or "list-type" not in got.query:
            return Reply(404, b"")
        if got.query.get("continuation-token") == ["next/1"]:
            return Reply(200, page(["b.txt"], None))
        return Reply(200, page(["a.txt"], "next/1"))

    tool.check = check
    ctx = Context(settings={"bucket": "lake", "endpoint_url": tool.url, **KEYS}, http=http)
    assert DESTINATION.delete is not None
    DESTINATION.delete(ctx, person("u1"))  # lists everything; neither key is a lake file
    assert [r.query.get("continuation-token") for r in tool.received] == [None, ["next/1"]]


@failure_modes(
    unauthorized=Reply(401, b"<Error><Code>AccessDenied</Code></Error>"),
    throttled=Reply(429, b"", headers={"Retry-After": "7"}),
    outage=Reply(503, b"<Error><Code>SlowDown</Code></Error>"),
    more={
        "403": Failure(
            Reply(403, b"<Error><Code>SignatureDoesNotMatch</Code></Error>"), PermanentError
        )
    },
)
def test_failures_are_classified(tool: Sink, http: Http, failure: Failure) -> None:
    ctx = Context(settings={"bucket": "lake", "endpoint_url": tool.url, **KEYS}, http=http)
    assert_fails(tool, failure, lambda: write(ctx, event("m1")))


@pytest.mark.parametrize(
    ("change", "problem"),
    [
        ({"bucket": ""}, "bucket must be an S3 bucket name"),
        ({"bucket": "Upper_Case"}, "bucket must be an S3 bucket name"),
        ({"region": "eu west"}, "region must be a region name"),
        ({"format": "csv"}, "format must be parquet or jsonl"),
        ({"secret_access_key": ""}, "secret_access_key settings are required"),
        ({"endpoint_url": "ftp://files.example.com"}, "endpoint_url must be an http"),
    ],
)
def test_bad_settings_are_permanent_and_say_why(
    http: Http, change: dict[str, Any], problem: str
) -> None:
    settings = {"bucket": "lake", "endpoint_url": "http://127.0.0.1:9", **KEYS, **change}
    with pytest.raises(PermanentError, match=problem):
        write(Context(settings=settings, http=http), event("m1"))
