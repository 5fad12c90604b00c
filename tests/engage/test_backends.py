"""Crafted histories with known answers for every computed trait kind and audience condition,
on DuckDB, PostgreSQL and Spark (local mode): the one compiled query means the same on each,
and the real-time engine agrees."""

from __future__ import annotations

import os
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import psycopg
import pytest

from seamline.engage.backends import SparkBackend, postgres_backend
from seamline.engage.definition import parse_audience, parse_trait
from seamline.engage.spark_lake import register_lake
from seamline.store.event_rows import COLUMNS
from seamline.store.events_lake import LakeEventStore
from tests.engage.harness import Harness, group, identify, rules_of, track

TRAITS = {
    "orders_30d": {"kind": "event_counter", "event": "Order Completed", "window": "30d"},
    "spend": {
        "kind": "aggregation",
        "event": "Order Completed",
        "property": "total",
        "function": "sum",
    },
    "biggest": {
        "kind": "aggregation",
        "event": "Order Completed",
        "property": "total",
        "function": "max",
    },
    "average": {
        "kind": "aggregation",
        "event": "Order Completed",
        "property": "total",
        "function": "avg",
    },
    "favourite": {"kind": "most_frequent", "event": "Product Viewed", "property": "category"},
    "first_seen_category": {"kind": "first", "event": "Product Viewed", "property": "category"},
    "last_category": {
        "kind": "last",
        "event": "Product Viewed",
        "property": "category",
        "window": "7d",
    },
    "categories": {"kind": "unique_list", "event": "Product Viewed", "property": "category"},
    "category_count": {
        "kind": "unique_list_count",
        "event": "Product Viewed",
        "property": "category",
    },
    "shoe_views": {
        "kind": "event_counter",
        "event": "Product Viewed",
        "where": [{"property": "category", "value": "shoes"}],
    },
}
AUDIENCES = {
    "repeat_buyers": {"performed": {"event": "Order Completed", "at_least": 2, "within": "30d"}},
    "one_order": {"performed": {"event": "Order Completed", "exactly": 1}},
    "few_views": {"performed": {"event": "Product Viewed", "at_most": 1}},
    "big_orders": {
        "performed": {
            "event": "Order Completed",
            "where": [{"property": "total", "op": ">", "value": 50}],
        }
    },
    "never_bought": {"not_performed": {"event": "Order Completed"}},
    "pros": {"trait": {"name": "plan", "op": "=", "value": "pro"}},
    "gmail": {"trait": {"name": "email", "op": "ends_with", "value": "@gmail.com"}},
    "adults": {"trait": {"name": "age", "op": ">=", "value": 18}},
    "has_plan": {"trait": {"name": "plan", "op": "exists"}},
    "big_spenders": {"trait": {"name": "spend", "op": ">", "value": 100}},
    "gold_accounts": {"account": {"name": "tier", "value": "gold"}},
    "view_then_buy": {"sequence": {"steps": ["Product Viewed", "Order Completed"], "within": "1d"}},
    "pro_repeat": {"all": [{"audience": "repeat_buyers"}, {"audience": "pros"}]},
    "pro_or_gold": {"any": [{"audience": "pros"}, {"audience": "gold_accounts"}]},
    "not_pro": {"not": {"audience": "pros"}},
}
EXPECTED = {
    "ada": {
        "orders_30d": 2,
        "spend": 110.0,
        "biggest": 80.0,
        "average": 55.0,
        "favourite": "shoes",
        "first_seen_category": "hats",
        "last_category": "shoes",
        "categories": ["hats", "shoes"],
        "category_count": 2,
        "shoe_views": 2,
        "repeat_buyers": True,
        "one_order": False,
        "few_views": False,
        "big_orders": True,
        "never_bought": False,
        "pros": True,
        "gmail": True,
        "adults": True,
        "has_plan": True,
        "big_spenders": True,
        "gold_accounts": False,
        "view_then_buy": True,
        "pro_repeat": True,
        "pro_or_gold": True,
        "not_pro": False,
    },
    "bob": {
        "orders_30d": None,
        "spend": 20.0,
        "biggest": 20.0,
        "average": 20.0,
        "favourite": "hats",
        "first_seen_category": "hats",
        "last_category": None,
        "categories": ["hats"],
        "category_count": 1,
        "shoe_views": None,
        "repeat_buyers": False,
        "one_order": True,
        "few_views": True,
        "big_orders": False,
        "never_bought": False,
        "pros": False,
        "gmail": False,
        "adults": False,
        "has_plan": False,
        "big_spenders": False,
        "gold_accounts": True,
        "view_then_buy": False,
        "pro_repeat": False,
        "pro_or_gold": True,
        "not_pro": True,
    },
}


def history() -> list[list[tuple[str, dict[str, Any]]]]:
    return [
        [
            ("ada", identify(20, plan="pro", email="ada@gmail.com", age=36)),
            ("ada", track("Product Viewed", 12, category="hats")),
            ("ada", track("Product Viewed", 10.1, category="shoes")),
            ("ada", track("Order Completed", 10, total=80)),
            ("bob", track("Product Viewed", 40, category="hats")),
            ("bob", identify(40, plan="pro", age=17)),
        ],
        [
            ("ada", track("Order Completed", 2, total=30)),
            ("ada", track("Product Viewed", 1, category="shoes")),
            ("bob", track("Order Completed", 35, total=20)),
            ("bob", identify(30, plan=None, email="bob@example.com")),
            ("bob", group("acme", 5, tier="gold")),
            ("ada", group("tiny", 5, tier="silver")),
        ],
    ]


def rules() -> Any:
    return rules_of(
        [parse_trait(k, d) for k, d in TRAITS.items()],
        [parse_audience(k, {"condition": c}) for k, c in AUDIENCES.items()],
    )


@pytest.fixture
def harness(tmp_path: Path) -> Iterator[Harness]:
    found = Harness(tmp_path)
    for batch in history():
        found.feed(rules(), batch)
    yield found
    found.close()


def normalised(values: dict[str, dict[str, Any]]) -> dict[str, dict[str, Any]]:
    return {
        pid: {k: (False if v is None and k in AUDIENCES else v) for k, v in row.items()}
        for pid, row in values.items()
    }


def test_duckdb_gives_the_known_answers(harness: Harness) -> None:
    assert normalised(harness.batch(rules())) == EXPECTED


def test_real_time_gives_the_known_answers(harness: Harness) -> None:
    assert normalised(harness.realtime(rules())) == EXPECTED


_COLUMNS = "log_offset, workspace_id, profile_id, type, event, group_id, timestamp, properties, traits, context"


def _rows(harness: Harness) -> list[tuple[Any, ...]]:
    return harness.events.query(
        f"SELECT {_COLUMNS.replace('properties, traits, context', 'CAST(properties AS VARCHAR), CAST(traits AS VARCHAR), CAST(context AS VARCHAR)')} FROM events"
    )


def test_postgresql_gives_the_same_answers(harness: Harness, postgres_url: str) -> None:
    plain = postgres_url.replace("postgresql+psycopg://", "postgresql://")
    with psycopg.connect(plain, autocommit=True) as conn:
        conn.execute(
            "CREATE TABLE events (log_offset bigint, workspace_id text, profile_id text, type text,"
            " event text, group_id text, timestamp timestamptz, properties jsonb, traits jsonb,"
            " context jsonb)"
        )
        with conn.cursor() as cursor:
            cursor.executemany(
                f"INSERT INTO events ({_COLUMNS}) VALUES ({', '.join(['%s'] * 10)})", _rows(harness)
            )
    backend = postgres_backend(postgres_url)
    try:
        assert normalised(harness.batch(rules(), backend)) == EXPECTED
    finally:
        backend.connection.disconnect()


@pytest.fixture(scope="module")
def spark() -> Iterator[Any]:
    from pyspark.sql import SparkSession

    os.environ.setdefault("PYSPARK_PYTHON", sys.executable)
    session = (
        SparkSession.builder.master("local[1]")
        .appName("seamline-tests")
        .config("spark.ui.enabled", "false")
        .config("spark.sql.session.timeZone", "UTC")
        .config("spark.sql.shuffle.partitions", "2")
        .getOrCreate()
    )
    session.sparkContext.setLogLevel("ERROR")
    yield session
    session.stop()


@pytest.mark.slow
# PySpark's own Arrow conversion uses a pandas keyword pandas 3 deprecates, and py4j leaves its
# gateway sockets to the collector: neither is ours to fix.
@pytest.mark.filterwarnings("ignore::pandas.errors.Pandas4Warning")
@pytest.mark.filterwarnings("ignore::ResourceWarning")
@pytest.mark.filterwarnings("ignore::pytest.PytestUnraisableExceptionWarning")
def test_spark_gives_the_same_answers(harness: Harness, spark: Any) -> None:
    schema = (
        "log_offset long, workspace_id string, profile_id string, type string, event string,"
        " group_id string, timestamp timestamp, properties string, traits string, context string"
    )
    spark.createDataFrame(_rows(harness), schema=schema).createOrReplaceTempView("events")
    assert normalised(harness.batch(rules(), SparkBackend(spark))) == EXPECTED


@pytest.mark.slow
@pytest.mark.filterwarnings("ignore::pandas.errors.Pandas4Warning")
@pytest.mark.filterwarnings("ignore::ResourceWarning")
@pytest.mark.filterwarnings("ignore::pytest.PytestUnraisableExceptionWarning")
def test_spark_over_the_lake_files_gives_the_same_answers(harness: Harness, spark: Any) -> None:
    """Spark reads the Parquet files the lake's catalog lists, with no copy in between."""
    listed = register_lake(spark, harness.events, "lake_events")
    assert listed == len(harness.events.catalog.live()) > 0
    assert spark.sql("SELECT count(*) FROM lake_events").first()[0] == harness.events.count()
    assert normalised(harness.batch(rules(), SparkBackend(spark, "lake_events"))) == EXPECTED


@pytest.mark.slow
@pytest.mark.filterwarnings("ignore::pandas.errors.Pandas4Warning")
@pytest.mark.filterwarnings("ignore::ResourceWarning")
@pytest.mark.filterwarnings("ignore::pytest.PytestUnraisableExceptionWarning")
def test_an_empty_lake_is_an_empty_spark_view(tmp_path: Path, spark: Any) -> None:
    store = LakeEventStore(tmp_path / "events")
    try:
        assert register_lake(spark, store, "empty_events") == 0
        view = spark.table("empty_events")
        assert view.count() == 0
        assert [field.name for field in view.schema.fields] == [name for name, _ in COLUMNS]
    finally:
        store.close()
