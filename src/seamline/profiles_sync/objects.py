"""Profiles Sync into S3-compatible object storage (an `object-storage` destination's bucket),
as Parquet objects under `profiles_sync_prefix`: the layout of `lake` (a folder per table,
`part-<hash>.parquet` per run for the raw tables, `current.parquet` for the materialized
ones), written through the destination's own signed requests over `ctx.http`.

An object is written whole by one PUT, so a reader sees the old object or the new one, and a
retried run puts the same raw objects again. Read a table with DuckDB:
`read_parquet('s3://<bucket>/<prefix>/user_traits/*.parquet')`.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from seamline.profiles_sync.lake import ParquetTables

if TYPE_CHECKING:
    from seamline.destinations.catalog.object_storage.bucket import Bucket
    from seamline.destinations.http import Http

_PARQUET = "application/vnd.apache.parquet"


class BucketFiles:
    """Table folders under `prefix` (empty or ending in `/`) of `bucket`."""

    def __init__(self, bucket: Bucket, prefix: str) -> None:
        self.bucket, self.prefix = bucket, prefix

    def names(self, table: str) -> list[str]:
        folder = f"{self.prefix}{table}/"
        return [
            key.removeprefix(folder)
            for key in self.bucket.keys(folder)
            if key.endswith(".parquet") and "/" not in key.removeprefix(folder)
        ]

    def read(self, table: str, name: str) -> list[dict[str, Any]]:
        import pyarrow as pa
        import pyarrow.parquet as pq

        data = self.bucket.get(f"{self.prefix}{table}/{name}")
        rows: list[dict[str, Any]] = pq.read_table(pa.BufferReader(data)).to_pylist()
        return rows

    def write(self, table: str, name: str, data: Any) -> None:
        import pyarrow as pa
        import pyarrow.parquet as pq

        sink = pa.BufferOutputStream()
        pq.write_table(data, sink, compression="zstd")
        self.bucket.put(f"{self.prefix}{table}/{name}", sink.getvalue().to_pybytes(), _PARQUET)


def object_tables(settings: Mapping[str, Any], http: Http) -> ParquetTables:
    """The writer for an `object-storage` instance's `profiles_sync_prefix`; its bucket,
    credentials and endpoint checked as its event writes check them (PermanentError)."""
    from seamline.destinations.catalog.object_storage import _configured
    from seamline.destinations.definition import Context
    from seamline.destinations.errors import PermanentError

    events = str(settings.get("prefix") or "").strip("/")
    synced = str(settings["profiles_sync_prefix"]).strip("/")
    if _within(synced, events) or _within(events, synced):
        # Queries of the events read everything under their prefix (the whole bucket when it
        # is empty), and Profiles Sync's tables would show up in them.
        raise PermanentError(
            "profiles_sync_prefix and prefix must not contain one another "
            f"(prefix {events!r}, profiles_sync_prefix {synced!r})"
        )
    moved = {**settings, "prefix": settings["profiles_sync_prefix"]}
    bucket, prefix, _ = _configured(Context(settings=moved, http=http))
    return ParquetTables(BucketFiles(bucket, prefix))


def _within(key: str, folder: str) -> bool:
    """Whether `key` is `folder` or under it ("" holds everything)."""
    return not folder or key == folder or key.startswith(f"{folder}/")
