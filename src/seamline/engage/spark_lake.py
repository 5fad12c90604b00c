"""The event lake as a Spark view, so the batch engine runs on Spark over the same files.

Spark reads the Parquet files the lake's catalog lists as live, not the directory: a directory
also holds files compaction retired (kept for a grace period while readers finish) and, on a
crash, files written but never listed. The listing is a snapshot: files compacted or rewritten
afterwards stay readable for the lake's grace period, so a query started on it finishes.
"""

from __future__ import annotations

from typing import Any

from seamline.store.event_rows import COLUMNS
from seamline.store.events_lake import LakeEventStore

# How the lake's DuckDB column types read in Spark; JSON columns are text in Parquet, which is
# what `SparkBackend` parses.
_SPARK_TYPES = {
    "BIGINT": "long",
    "VARCHAR": "string",
    "TIMESTAMPTZ": "timestamp",
    "JSON": "string",
}


def spark_schema() -> str:
    """The lake's columns as a Spark DDL schema string."""
    return ", ".join(
        f"`{name}` {_SPARK_TYPES[kind.replace(' NOT NULL', '')]}" for name, kind in COLUMNS
    )


def register_lake(session: Any, store: LakeEventStore, view: str = "events") -> int:
    """Make the lake's live files the temporary view `view` of `session`; returns how many
    files it lists. The files must be reachable from every Spark executor at the same path
    (one machine, or a shared file system)."""
    locations = [store.files.location(file.path) for file in store.catalog.live()]
    if locations:
        frame = session.read.parquet(*locations)
    else:
        frame = session.createDataFrame([], schema=spark_schema())
    frame.createOrReplaceTempView(view)
    return len(locations)
