"""The Parquet lake written to a temporary directory and read back with DuckDB, as a user would."""

from __future__ import annotations

import errno
from collections.abc import Iterator
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import duckdb
import httpx
import pytest

from seamline.destinations import registry
from seamline.destinations.catalog import parquet_lake
from seamline.destinations.catalog.parquet_lake import DESTINATION
from seamline.destinations.definition import Context
from seamline.destinations.errors import (
    DeliveryError,
    InvalidPayload,
    PermanentError,
    RetryableError,
)
from seamline.destinations.http import Http

ACTION = DESTINATION.actions["write_events"]


def message(kind: str, message_id: str, **fields: Any) -> dict[str, Any]:
    return {
        "type": kind,
        "messageId": message_id,
        "anonymousId": "anon-1",
        "timestamp": "2026-11-29T10:00:00Z",
        "receivedAt": "2026-11-29T10:00:01Z",
        "context": {"library": {"name": "analytics.js"}, "ip": "203.0.113.7"},
        **fields,
    }


def track(message_id: str, event: str = "Order Completed", **properties: Any) -> dict[str, Any]:
    return message("track", message_id, userId="u1", event=event, properties=properties)


@pytest.fixture
def lake(tmp_path: Path) -> Path:
    return tmp_path / "lake"


@pytest.fixture
def ctx(lake: Path) -> Iterator[Context]:
    with httpx.Client() as client:
        yield Context(settings={"path": str(lake)}, http=Http(client))


def write(ctx: Context, *messages: dict[str, Any]) -> list[DeliveryError | None]:
    """Deliver a batch as the delivery worker does; returns the per-message outcomes."""
    assert ACTION.perform_batch is not None
    outcomes: list[DeliveryError | None] = ACTION.perform_batch(
        ctx, [{"event": m} for m in messages]
    )
    return outcomes


def source(lake: Path) -> str:
    return f"read_parquet('{lake}/**/*.parquet', hive_partitioning = true, union_by_name = true)"


def read(lake: Path, select: str = "*", where: str = "true") -> list[tuple[Any, ...]]:
    """Rows of the lake in message_id order, as a DuckDB user reads them."""
    order = "" if "count(" in select else " ORDER BY message_id"
    return sql(f"SELECT {select} FROM {source(lake)} WHERE {where}{order}")


def sql(query: str) -> list[tuple[Any, ...]]:
    relation = duckdb.sql(query)
    assert relation is not None
    return relation.fetchall()


def files(lake: Path) -> list[str]:
    return sorted(p.relative_to(lake).as_posix() for p in lake.rglob("*") if p.is_file())


def test_the_catalog_lists_the_destination() -> None:
    assert registry.load("parquet-lake") is DESTINATION
    assert ACTION.fields["event"].default == {"@path": "$."}


def test_a_batch_is_one_file_per_type_event_and_day(ctx: Context, lake: Path) -> None:
    write(
        ctx,
        track("m1", total=10.5, orderId="o-1"),
        track("m2", total=20, orderId="o-2"),
        track("m3", event="Signed Up", plan="pro"),
        message("identify", "i1", userId="u1", traits={"email": "a@example.com"}),
        message("page", "p1", name="Home", properties={"title": "Welcome"}),
    )
    written = files(lake)  # nothing else: no temporary files left behind
    assert [path.rsplit("/", 1)[0] for path in written] == [
        "type=identify/event=__HIVE_DEFAULT_PARTITION__/date=2026-11-29",
        "type=page/event=__HIVE_DEFAULT_PARTITION__/date=2026-11-29",
        "type=track/event=order_completed/date=2026-11-29",
        "type=track/event=signed_up/date=2026-11-29",
    ]
    assert all(path.rsplit("/", 1)[1].startswith("part-") for path in written)

    rows = read(lake, "message_id, type, event, date, event_text, user_id")
    assert rows == [
        ("i1", "identify", None, datetime(2026, 11, 29).date(), None, "u1"),
        ("m1", "track", "order_completed", datetime(2026, 11, 29).date(), "Order Completed", "u1"),
        ("m2", "track", "order_completed", datetime(2026, 11, 29).date(), "Order Completed", "u1"),
        ("m3", "track", "signed_up", datetime(2026, 11, 29).date(), "Signed Up", "u1"),
        ("p1", "page", None, datetime(2026, 11, 29).date(), None, None),
    ]


def test_properties_are_json_and_flattened_typed_columns(ctx: Context, lake: Path) -> None:
    write(ctx, track("m1", total=10.5, product={"sku": "G-32"}, tags=["a"]), track("m2", total=20))
    rows = read(lake, "message_id, properties_total, properties_product_sku, properties_tags")
    assert rows == [("m1", 10.5, "G-32", '["a"]'), ("m2", 20.0, None, None)]
    types = {name: kind for name, kind, *_ in sql(f"DESCRIBE SELECT * FROM {source(lake)}")}
    assert types["properties_total"] == "DOUBLE"  # integers mixed with decimals
    assert types["received_at"] == "TIMESTAMP WITH TIME ZONE"
    assert read(
        lake,
        "json_extract_string(properties, '$.product.sku'), json_extract_string(context, '$.ip')",
        "message_id = 'm1'",
    ) == [("G-32", "203.0.113.7")]


def test_a_property_whose_type_varies_in_a_file_is_only_in_json(ctx: Context, lake: Path) -> None:
    write(ctx, track("m1", size=1, seats=2), track("m2", size="L", seats=3))
    rows = read(lake, "*")
    columns = [name for name, *_ in sql(f"DESCRIBE SELECT * FROM {source(lake)}")]
    assert "properties_size" not in columns
    assert "properties_seats" in columns  # int64: all integers
    assert [
        json_size for *_, json_size in read(lake, "message_id, json_extract(properties, '$.size')")
    ] == ["1", '"L"']
    assert len(rows) == 2


def test_a_later_batch_with_new_properties_reads_together(ctx: Context, lake: Path) -> None:
    write(ctx, track("m1", plan="pro"))
    write(ctx, track("m2", plan="team", seats=5))
    assert read(lake, "message_id, properties_plan, properties_seats") == [
        ("m1", "pro", None),
        ("m2", "team", 5),
    ]


def test_a_redelivered_batch_replaces_its_files(ctx: Context, lake: Path) -> None:
    batch = [track("m1", total=1), track("m2", total=2), message("identify", "i1", traits={"a": 1})]
    write(ctx, *batch)
    first = files(lake)
    write(ctx, *batch)
    assert files(lake) == first
    assert read(lake, "count(*)") == [(3,)]


def test_a_message_twice_in_one_batch_is_written_once(ctx: Context, lake: Path) -> None:
    write(ctx, track("m1", total=1), track("m1", total=2))
    assert read(lake, "message_id, properties_total") == [("m1", 2)]


def test_times_may_be_datetimes_and_the_day_is_received_at_in_utc(ctx: Context, lake: Path) -> None:
    late_evening = datetime(2026, 11, 29, 23, 30, tzinfo=UTC)
    write(
        ctx,
        track("m1") | {"receivedAt": "2026-11-29T23:30:00-02:00"},
        track("m2") | {"receivedAt": late_evening, "timestamp": late_evening},
    )
    assert [path.split("/")[2] for path in files(lake)] == ["date=2026-11-29", "date=2026-11-30"]
    assert read(lake, "message_id, date") == [
        ("m1", date(2026, 11, 30)),
        ("m2", date(2026, 11, 29)),
    ]
    assert read(lake, "message_id, received_at", "message_id = 'm2'") == [("m2", late_evening)]


def test_a_message_of_no_known_type_fails_alone(ctx: Context, lake: Path) -> None:
    ok, bogus = write(ctx, track("m1"), {"type": "bogus", "messageId": "b1"})
    assert ok is None
    assert isinstance(bogus, InvalidPayload)
    assert read(lake, "message_id") == [("m1",)]
    with pytest.raises(InvalidPayload, match="no known type"):
        ACTION.perform(ctx, {"type": "bogus", "messageId": "b2"})


def test_perform_accepts_the_raw_message(ctx: Context, lake: Path) -> None:
    ACTION.perform(ctx, track("m1"))
    assert read(lake, "event") == [("order_completed",)]


def test_the_path_is_checked(ctx: Context, lake: Path) -> None:
    assert DESTINATION.test_authentication is not None
    DESTINATION.test_authentication(ctx)
    assert lake.is_dir() and files(lake) == []


@pytest.mark.parametrize("path", ["file/lake", "file", "relative/lake"])
def test_a_path_that_cannot_be_written_is_permanent(
    ctx: Context, tmp_path: Path, path: str
) -> None:
    (tmp_path / "file").write_text("not a directory")
    ctx.settings = {"path": path if path.startswith("relative") else str(tmp_path / path)}
    assert DESTINATION.test_authentication is not None
    with pytest.raises(PermanentError) as raised:
        write(ctx, track("m1"))
    assert not isinstance(raised.value, RetryableError)
    with pytest.raises(PermanentError):
        DESTINATION.test_authentication(ctx)


@pytest.mark.parametrize(
    ("code", "retryable"),
    [
        (errno.ENOSPC, True),
        (errno.EIO, True),
        (errno.EACCES, False),
        (errno.EROFS, False),
        (errno.ENOTDIR, False),
    ],
)
def test_a_full_disk_is_retried_and_a_refused_path_is_not(code: int, retryable: bool) -> None:
    error = parquet_lake._classify(OSError(code, "error"), Path("/lake"))
    assert isinstance(error, RetryableError) is retryable


def test_pyarrow_datasets_read_the_partitions_too(ctx: Context, lake: Path) -> None:
    import pyarrow.dataset as ds

    write(ctx, track("m1", total=1), message("identify", "i1", userId="u1"))
    dataset = ds.dataset(lake, format="parquet", partitioning="hive")
    table = dataset.to_table(columns=["message_id", "type", "event", "date"]).sort_by("message_id")
    assert table.to_pylist() == [
        {"message_id": "i1", "type": "identify", "event": None, "date": "2026-11-29"},
        {"message_id": "m1", "type": "track", "event": "order_completed", "date": "2026-11-29"},
    ]
