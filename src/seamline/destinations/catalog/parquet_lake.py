"""Parquet lake: every event written as Parquet files into a local directory, Hive-style.

Layout: `<path>/type=<type>/event=<event>/date=<YYYY-MM-DD>/part-<hash>.parquet`, where
`event` is the track event's table name as Segment's warehouses write it (`Order Completed` →
`order_completed`; `__HIVE_DEFAULT_PARTITION__`, read as NULL, for other types) and `date` is
the UTC day of `receivedAt` (ingestion time, so late events do not rewrite old days). Read it
with the partition columns restored:

    DuckDB:  SELECT * FROM read_parquet('<path>/**/*.parquet', hive_partitioning = true,
                                        union_by_name = true)
    Polars:  pl.scan_parquet('<path>/**/*.parquet', hive_partitioning=True,
                             allow_missing_columns=True)
    Spark:   spark.read.option('mergeSchema', 'true').parquet('<path>')

Each file has the Spec's fields (`message_id`, `event_text`, `user_id`, … and the four times
as UTC timestamps), `context`, `properties`, `traits` and `integrations` as JSON text, and
`properties_<name>` columns for the properties flattened (Segment's names: nested keys joined
by `_`, snake_case; arrays as JSON text) whose values have one type in the file (integers and
decimals together are float64); a property whose type varies within a file is only in JSON.
Files differ in their properties columns, hence `union_by_name`.

Idempotency: a batch writes one file per partition, named after a hash of the message ids it
holds, to a hidden temporary name first and then renamed (readers never see a partial file).
Re-delivering the same batch therefore replaces the same files. A message re-delivered in a
different batch lands in a second file; deduplicate on `message_id` when that matters (e.g.
DuckDB's `QUALIFY row_number() OVER (PARTITION BY message_id ORDER BY loaded_at DESC) = 1`).

Deletion (a privacy regulation): every file holding a row whose `user_id`, `anonymous_id` or
`previous_id` is one of the person's ids is rewritten without those rows (to a hidden temporary
name, then renamed over the old file, so readers see the old file or the new one), or removed
when nothing else is left in it. The old file's name then points at the new bytes; no file of
the lake still holds the person's. Only the id columns are read to find them, so files without
the person are not rewritten.
"""

from __future__ import annotations

import contextlib
import errno
import hashlib
import json
import os
import uuid
from collections.abc import Mapping
from datetime import UTC, date, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from seamline.destinations.definition import Action, Context, Destination, Field, Preset, Setting
from seamline.destinations.errors import (
    DeliveryError,
    InvalidPayload,
    PermanentError,
    RetryableError,
)
from seamline.destinations.warehouse_naming import event_table, flatten, to_json

if TYPE_CHECKING:
    from seamline.privacy.subject import Person

NULL_PARTITION = "__HIVE_DEFAULT_PARTITION__"
"""Hive's (and Spark's, DuckDB's, Polars') spelling of a NULL partition value."""
_TYPES = ("track", "identify", "page", "screen", "group", "alias")
_TEXT = {
    "message_id": "messageId",
    "event_text": "event",
    "user_id": "userId",
    "anonymous_id": "anonymousId",
    "group_id": "groupId",
    "previous_id": "previousId",
    "name": "name",
    "category": "category",
}
_TIMES = {
    "timestamp": "timestamp",
    "original_timestamp": "originalTimestamp",
    "sent_at": "sentAt",
    "received_at": "receivedAt",
}
_JSON = ("context", "properties", "traits", "integrations")
_ID_COLUMNS = ("user_id", "anonymous_id", "previous_id")
_RETRYABLE_ERRNOS = frozenset(
    {errno.ENOSPC, errno.EDQUOT, errno.EIO, errno.EAGAIN, errno.EINTR, errno.EBUSY}
    | {errno.ETIMEDOUT, errno.ESTALE}
)
_EVERY_MESSAGE = " or ".join(f'type = "{kind}"' for kind in _TYPES)


def write_events(ctx: Context, payloads: list[dict[str, Any]]) -> list[DeliveryError | None]:
    """Write a batch, one file per partition. Returns one outcome per payload, as the delivery
    worker reads a batch: None when written, InvalidPayload for a message of no known type (the
    others are written all the same)."""
    root = _root(ctx)
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
    for key, messages in sorted(partitions.items()):
        _write(root, key, messages, loaded_at)
    return outcomes


def write_event(ctx: Context, payload: dict[str, Any]) -> None:
    """Write one message (a batch of one); InvalidPayload when it has no known type."""
    outcome = write_events(ctx, [payload])[0]
    if outcome is not None:
        raise outcome


def check_path(ctx: Context) -> None:
    """Create the directory if needed and prove a file can be written and renamed there."""
    root = _root(ctx)
    probe = root / f".seamline-probe-{uuid.uuid4().hex}"
    try:
        root.mkdir(parents=True, exist_ok=True)
        probe.write_bytes(b"")
        probe.replace(probe.with_suffix(".done"))
        probe.with_suffix(".done").unlink()
    except OSError as error:
        raise _classify(error, root) from error


def delete_person(ctx: Context, person: Person) -> None:
    """Rewrite every file holding one of the person's rows without them (see the module)."""
    ids = sorted({*person.user_ids, *person.anonymous_ids})
    root = _root(ctx)
    if not ids or not root.exists():
        return
    try:
        for path in sorted(root.rglob("*.parquet")):
            if not path.name.startswith("."):
                _rewrite_without(path, ids)
    except OSError as error:
        raise _classify(error, root) from error


def _rewrite_without(path: Path, ids: list[str]) -> None:
    import pyarrow as pa
    import pyarrow.compute as pc
    import pyarrow.parquet as pq

    wanted = pa.array(ids, pa.string())
    names = [c for c in _ID_COLUMNS if c in pq.read_schema(path).names]
    if not names:
        return
    columns = pq.ParquetFile(path).read(columns=names)
    if not any(pc.any(pc.is_in(columns[c], value_set=wanted)).as_py() for c in names):
        return
    table = pq.ParquetFile(path).read()
    hit = pc.is_in(table[names[0]], value_set=wanted)
    for name in names[1:]:
        hit = pc.or_(hit, pc.is_in(table[name], value_set=wanted))
    kept = table.filter(pc.invert(pc.fill_null(hit, False)))
    if kept.num_rows == 0:
        path.unlink()
        return
    temporary = path.with_name(f".{path.stem}.{uuid.uuid4().hex}.tmp")
    try:
        with open(temporary, "wb") as file:
            pq.write_table(kept, file, compression="zstd")
            file.flush()
            os.fsync(file.fileno())
        os.replace(temporary, path)
    finally:
        temporary.unlink(missing_ok=True)


def _root(ctx: Context) -> Path:
    path = ctx.settings.get("path")
    if not isinstance(path, str) or not path.strip():
        raise PermanentError("the path setting is missing")
    root = Path(path.strip())
    if not root.is_absolute():  # relative to what? the worker's directory is not the user's
        raise PermanentError(f"path must be absolute, got {path!r}")
    return root


def _partition(message: Mapping[str, Any], loaded_at: datetime) -> tuple[str, str, str]:
    kind = str(message["type"])
    event = event_table(str(message.get("event") or "")) if kind == "track" else None
    day = _time(message.get("receivedAt")) or _time(message.get("timestamp")) or loaded_at
    return kind, event or NULL_PARTITION, day.date().isoformat()


def _write(
    root: Path,
    key: tuple[str, str, str],
    messages: dict[str, Mapping[str, Any]],
    loaded_at: datetime,
) -> None:
    import pyarrow.parquet as pq

    kind, event, day = key
    directory = root / f"type={kind}" / f"event={event}" / f"date={day}"
    digest = hashlib.sha256("\n".join(sorted(messages)).encode()).hexdigest()[:32]
    final = directory / f"part-{digest}.parquet"
    temporary = directory / f".part-{digest}.{uuid.uuid4().hex}.tmp"  # hidden from readers
    table = _table(messages, loaded_at)
    try:
        directory.mkdir(parents=True, exist_ok=True)
        with open(temporary, "wb") as file:
            pq.write_table(table, file, compression="zstd")
            file.flush()
            os.fsync(file.fileno())
        os.replace(temporary, final)
    except OSError as error:
        with contextlib.suppress(OSError):  # the error worth reporting is `error`
            temporary.unlink(missing_ok=True)
        raise _classify(error, root) from error


def _table(messages: dict[str, Mapping[str, Any]], loaded_at: datetime) -> Any:
    import pyarrow as pa

    rows = list(messages.values())
    timestamp = pa.timestamp("us", tz="UTC")
    columns: dict[str, Any] = {"message_id": pa.array(list(messages), pa.string())}
    for column, wire in _TEXT.items():
        if column != "message_id":
            columns[column] = pa.array([_text(m.get(wire)) for m in rows], pa.string())
    for column, wire in _TIMES.items():
        columns[column] = pa.array([_time(m.get(wire)) for m in rows], timestamp)
    for column in _JSON:
        values = [m.get(column) for m in rows]
        columns[column] = pa.array([None if v is None else to_json(v) for v in values], pa.string())
    columns["loaded_at"] = pa.array([loaded_at] * len(rows), timestamp)
    flattened: dict[str, list[Any]] = {}
    for index, message in enumerate(rows):
        properties = message.get("properties")
        if isinstance(properties, Mapping):
            for name, value in flatten(properties):
                flattened.setdefault(name, [None] * len(rows))[index] = value
    for name, values in flattened.items():
        arrow_type = _stable_type(values)
        if arrow_type is not None:
            columns[f"properties_{name}"] = pa.array(values, arrow_type)
    return pa.table(columns)


def _stable_type(values: list[Any]) -> Any:
    """The Arrow type all of a column's values share in this file, or None when they differ."""
    import pyarrow as pa

    kinds = {type(v) for v in values if v is not None}
    if kinds == {bool}:
        return pa.bool_()
    if kinds == {str}:
        return pa.string()
    if kinds == {int} and all(v is None or -(2**63) <= v < 2**63 for v in values):
        return pa.int64()
    if kinds <= {int, float} and all(
        v is None or abs(v) <= 2**53 or type(v) is float for v in values
    ):
        return pa.float64()  # integers mixed with decimals: exact up to 2**53
    return None


def _text(value: Any) -> str | None:
    return None if value is None else value if isinstance(value, str) else json.dumps(value)


def _time(value: Any) -> datetime | None:
    """A UTC datetime from a datetime or an ISO 8601 string; None for anything else."""
    if isinstance(value, str):
        try:
            value = datetime.fromisoformat(value)
        except ValueError:
            return None
    if isinstance(value, datetime):
        return value.astimezone(UTC) if value.tzinfo else value.replace(tzinfo=UTC)
    if isinstance(value, date):
        return datetime(value.year, value.month, value.day, tzinfo=UTC)
    return None


def _message_id(message: Mapping[str, Any]) -> str:
    """The messageId, or a hash of the content so a re-delivery is still recognised."""
    given = message.get("messageId")
    if given is not None:
        return str(given)
    canonical = json.dumps(message, sort_keys=True, default=str, separators=(",", ":"))
    return "sha256-" + hashlib.sha256(canonical.encode()).hexdigest()


def _classify(error: OSError, root: Path) -> PermanentError | RetryableError:
    """Full disks and flaky network filesystems heal; a path that is a file, read-only or not
    ours does not."""
    message = f"cannot write under {root}: {error.strerror or error}"
    if error.errno in _RETRYABLE_ERRNOS:
        return RetryableError(message)
    return PermanentError(message)


DESTINATION = Destination(
    slug="parquet-lake",
    name="Parquet lake",
    description="Write every event as Hive-partitioned Parquet files into a local directory.",
    settings={
        "path": Setting(
            label="Path",
            description="Absolute path of the lake's root directory, created if missing.",
            required=True,
        ),
        "profiles_sync_path": Setting(
            label="Profiles Sync path",
            description="Write Profiles Sync's tables as Parquet under this absolute path (not "
            "inside the lake's path); empty: no Profiles Sync.",
        ),
    },
    actions={
        "write_events": Action(
            title="Write events",
            description="Append each batch as one Parquet file per type, event and day.",
            fields={
                "event": Field(
                    label="Event",
                    description="The whole message; the lake shapes it into columns.",
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
    test_authentication=check_path,
    delete=delete_person,
    presets=(Preset(name="Write every event", action="write_events", trigger=_EVERY_MESSAGE),),
)
