"""S3-compatible object storage: every batch written as objects in a bucket, Hive-style.

Keys: `<prefix>type=<type>/event=<event>/date=<YYYY-MM-DD>/part-<hash>.<parquet|jsonl>`, the
layout of the local Parquet lake (`parquet_lake`): `event` is the track event's table name
(`__HIVE_DEFAULT_PARTITION__` for other types), `date` the UTC day of `receivedAt`. In Parquet
(the default) each object has the lake's columns (Spec fields, times as UTC timestamps,
`context`/`properties`/`traits` as JSON text, flattened `properties_*` columns); in JSON lines
each line is the message as delivered. Read it with the partition columns restored, e.g.
DuckDB's `read_parquet('s3://bucket/prefix/**/*.parquet', hive_partitioning = true,
union_by_name = true)`, Athena or Spark.

Requests go through the destinations' HTTP client, signed with AWS Signature Version 4 (see
`sigv4`), to AWS (`https://<bucket>.s3.<region>.amazonaws.com`) or to `endpoint_url` (MinIO,
Ceph, R2 …, path-style). S3's answers decide: 403 (a wrong key or a missing permission) and 404
(no such bucket) dead-letter the batch; 429, 500 and 503 (`SlowDown`) are retried.

Idempotency: a batch writes one object per partition, named after a hash of its messageIds, in
one PUT each (an object appears whole), so a re-delivered batch replaces the same objects. A
message re-delivered in a different batch lands in a second object; deduplicate on
`message_id` when that matters.

Deletion (a privacy regulation): every object under the prefix is read, and one holding a row
whose user, anonymous or previous id is the person's is written again without those rows
(deleted when nothing is left). This reads the whole prefix, so its cost grows with the lake.
With bucket versioning on, S3 keeps the old versions: expire noncurrent versions with a
lifecycle rule for the bytes to go.
"""

from __future__ import annotations

import hashlib
import json
import re
import uuid
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from seamline.destinations.catalog.object_storage.bucket import Bucket
from seamline.destinations.catalog.object_storage.sigv4 import Credentials
from seamline.destinations.catalog.parquet_lake import _message_id, _partition, _table
from seamline.destinations.definition import Action, Context, Destination, Field, Preset, Setting
from seamline.destinations.errors import DeliveryError, InvalidPayload, PermanentError

if TYPE_CHECKING:
    from seamline.privacy.subject import Person

_TYPES = ("track", "identify", "page", "screen", "group", "alias")
_EVERY_MESSAGE = " or ".join(f'type = "{kind}"' for kind in _TYPES)
_BUCKET = re.compile(r"[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]")
_REGION = re.compile(r"[a-z0-9-]{2,32}")
_FORMATS = {"parquet": "application/vnd.apache.parquet", "jsonl": "application/x-ndjson"}
_ID_FIELDS = {"user_id": "userId", "anonymous_id": "anonymousId", "previous_id": "previousId"}


def write_events(ctx: Context, payloads: list[dict[str, Any]]) -> list[DeliveryError | None]:
    """Write a batch, one object per partition. Returns one outcome per payload: None when
    written, InvalidPayload for a message of no known type (the others are written)."""
    bucket, prefix, form = _configured(ctx)
    loaded_at = datetime.now(UTC)
    partitions: dict[tuple[str, str, str], dict[str, Mapping[str, Any]]] = {}
    outcomes: list[DeliveryError | None] = []
    for payload in payloads:
        inner = payload.get("event")
        message: Mapping[str, Any] = inner if isinstance(inner, Mapping) else payload
        if message.get("type") not in _TYPES:
            problem = f"message {message.get('messageId')!r} has no known type"
            outcomes.append(InvalidPayload(f"{problem}: {message.get('type')!r}"))
            continue
        key = _partition(message, loaded_at)
        partitions.setdefault(key, {})[_message_id(message)] = message  # last copy wins
        outcomes.append(None)
    for (kind, event, day), messages in sorted(partitions.items()):
        digest = hashlib.sha256("\n".join(sorted(messages)).encode()).hexdigest()[:32]
        name = f"{prefix}type={kind}/event={event}/date={day}/part-{digest}.{form}"
        body = _parquet(messages, loaded_at) if form == "parquet" else _json_lines(messages)
        bucket.put(name, body, _FORMATS[form])
    return outcomes


def write_event(ctx: Context, payload: dict[str, Any]) -> None:
    """Write one message (a batch of one); InvalidPayload when it has no known type."""
    outcome = write_events(ctx, [payload])[0]
    if outcome is not None:
        raise outcome


def check_bucket(ctx: Context) -> None:
    """Prove the credentials may write and delete under the prefix: put a small object there
    and delete it."""
    bucket, prefix, _ = _configured(ctx)
    probe = f"{prefix}.seamline-probe-{uuid.uuid4().hex}"
    bucket.put(probe, b"", "application/octet-stream")
    bucket.delete(probe)


def delete_person(ctx: Context, person: Person) -> None:
    """Rewrite every object holding one of the person's rows without them (see the module)."""
    ids = sorted({*person.user_ids, *person.anonymous_ids})
    if not ids:
        return
    bucket, prefix, _ = _configured(ctx)
    for key in list(bucket.keys(prefix)):
        if key.endswith(".parquet"):
            kept = _parquet_without(bucket.get(key), ids)
        elif key.endswith(".jsonl"):
            kept = _json_lines_without(bucket.get(key), ids)
        else:
            continue
        if kept is None:
            continue  # the person is not in it
        if kept:
            content_type = _FORMATS["parquet" if key.endswith(".parquet") else "jsonl"]
            bucket.put(key, kept, content_type)
        else:
            bucket.delete(key)


def _parquet(messages: dict[str, Mapping[str, Any]], loaded_at: datetime) -> bytes:
    import pyarrow as pa
    import pyarrow.parquet as pq

    sink = pa.BufferOutputStream()
    pq.write_table(_table(messages, loaded_at), sink, compression="zstd")
    return bytes(sink.getvalue().to_pybytes())


def _json_lines(messages: dict[str, Mapping[str, Any]]) -> bytes:
    lines = (json.dumps(m, default=str, separators=(",", ":")) for m in messages.values())
    return ("\n".join(lines) + "\n").encode()


def _parquet_without(data: bytes, ids: list[str]) -> bytes | None:
    """The file without the rows holding one of `ids`, b"" when none is left, None when no
    row holds one."""
    import pyarrow as pa
    import pyarrow.compute as pc
    import pyarrow.parquet as pq

    table = pq.read_table(pa.BufferReader(data))
    wanted = pa.array(ids, pa.string())
    names = [c for c in _ID_FIELDS if c in table.column_names]
    if not names:
        return None
    hit = pc.is_in(table[names[0]], value_set=wanted)
    for name in names[1:]:
        hit = pc.or_(hit, pc.is_in(table[name], value_set=wanted))
    hit = pc.fill_null(hit, False)
    if not pc.any(hit).as_py():
        return None
    kept = table.filter(pc.invert(hit))
    if kept.num_rows == 0:
        return b""
    sink = pa.BufferOutputStream()
    pq.write_table(kept, sink, compression="zstd")
    return bytes(sink.getvalue().to_pybytes())


def _json_lines_without(data: bytes, ids: list[str]) -> bytes | None:
    wanted = set(ids)
    lines = [line for line in data.decode().splitlines() if line.strip()]
    kept = [
        line
        for line in lines
        if not any(str(json.loads(line).get(f)) in wanted for f in _ID_FIELDS.values())
    ]
    if len(kept) == len(lines):
        return None
    return ("\n".join(kept) + "\n").encode() if kept else b""


def _configured(ctx: Context) -> tuple[Bucket, str, str]:
    """The bucket, the key prefix (empty or ending in `/`) and the format, from the settings;
    PermanentError naming the first bad one."""
    settings = ctx.settings
    name = str(settings.get("bucket") or "").strip()
    if not _BUCKET.fullmatch(name):
        raise PermanentError(f"bucket must be an S3 bucket name, got {name!r}")
    region = str(settings.get("region") or "us-east-1").strip()
    if not _REGION.fullmatch(region):
        raise PermanentError(f"region must be a region name such as eu-west-1, got {region!r}")
    form = str(settings.get("format") or "parquet")
    if form not in _FORMATS:
        raise PermanentError(f"format must be parquet or jsonl, got {form!r}")
    key_id, secret = settings.get("access_key_id"), settings.get("secret_access_key")
    if not isinstance(key_id, str) or not key_id or not isinstance(secret, str) or not secret:
        raise PermanentError("the access_key_id and secret_access_key settings are required")
    endpoint = settings.get("endpoint_url") or None
    if endpoint is not None:
        parts = urlsplit(str(endpoint).strip())
        if parts.scheme not in ("http", "https") or not parts.netloc or parts.query:
            raise PermanentError(f"endpoint_url must be an http(s) URL, got {endpoint!r}")
        endpoint = str(endpoint).strip()
    prefix = str(settings.get("prefix") or "").strip("/")
    token = settings.get("session_token") or None
    credentials = Credentials(key_id, secret, str(token) if token else None)
    bucket = Bucket(ctx.http, name, region, credentials, endpoint)
    return bucket, f"{prefix}/" if prefix else "", form


DESTINATION = Destination(
    slug="object-storage",
    name="S3-compatible object storage",
    description="Write every batch as Hive-partitioned Parquet or JSON-lines objects to a bucket.",
    settings={
        "bucket": Setting(label="Bucket", description="The bucket's name.", required=True),
        "prefix": Setting(
            label="Key prefix",
            description="Where in the bucket the objects go (e.g. segment/web); empty for the "
            "bucket's root.",
            default="",
        ),
        "region": Setting(
            label="Region",
            description="The bucket's region (signs every request).",
            default="us-east-1",
        ),
        "endpoint_url": Setting(
            label="Endpoint URL",
            description="An S3-compatible server (MinIO, Ceph, R2 …), addressed path-style; "
            "empty for AWS.",
            target=True,
        ),
        "access_key_id": Setting(
            label="Access key ID",
            description="Of a user or key allowed s3:PutObject, s3:GetObject, s3:DeleteObject "
            "and s3:ListBucket on the bucket.",
            required=True,
        ),
        "secret_access_key": Setting(
            label="Secret access key",
            description="The access key's secret; it signs requests and is never sent.",
            required=True,
            secret=True,
        ),
        "session_token": Setting(
            label="Session token",
            description="For temporary credentials only.",
            secret=True,
        ),
        "format": Setting(
            label="Format",
            description="parquet (default) or jsonl (one message per line).",
            default="parquet",
        ),
        "profiles_sync_prefix": Setting(
            label="Profiles Sync prefix",
            description="Write Profiles Sync's tables (id_graph_updates, user_traits, …) as "
            "Parquet objects under this prefix too, outside the events' prefix; empty: no "
            "Profiles Sync.",
        ),
    },
    actions={
        "write_events": Action(
            title="Write events",
            description="Write each batch as one object per type, event and day.",
            fields={
                "event": Field(
                    label="Event",
                    description="The whole message; the objects are shaped from it.",
                    type="object",
                    required=True,
                    default={"@path": "$."},
                )
            },
            perform=write_event,
            perform_batch=write_events,
            max_batch=500,
            default_trigger=_EVERY_MESSAGE,
        )
    },
    test_authentication=check_bucket,
    delete=delete_person,
    presets=(Preset(name="Write every event", action="write_events", trigger=_EVERY_MESSAGE),),
)
