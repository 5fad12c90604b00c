"""The event store's files in an S3 bucket (AWS, or an S3-compatible server at an endpoint).

DuckDB's own S3 support (the httpfs extension) is downloaded at run time and is built for
one DuckDB version only, so DuckDB reads and writes here through s3fs, registered as a
filesystem on each connection. An object appears whole once its upload completes (one PUT,
or a completed multipart upload), so there is no temporary name to rename. Credentials come
from the standard AWS sources (AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY, a profile, an
instance role), found by botocore.
"""

from __future__ import annotations

import contextlib
from collections.abc import Sequence
from typing import Any
from urllib.parse import urlparse

import duckdb
import s3fs  # the optional extra `s3`; this module is imported only for an s3:// events_url

REMEMBERED = 100_000
"""Objects whose size and date a process remembers (a few hundred bytes each)."""


class S3Files:
    """Files under `s3://bucket/prefix`."""

    def __init__(self, url: str, *, endpoint: str | None = None) -> None:
        parsed = urlparse(url)
        if parsed.scheme != "s3" or not parsed.netloc:
            raise ValueError(f"{url!r} is not an s3://bucket/prefix URL")
        prefix = parsed.path.strip("/")
        self._base = f"{parsed.netloc}/{prefix}" if prefix else parsed.netloc
        # Own instance, no listing cache: another process adds and removes files meanwhile.
        self._fs = _WrittenOnce(
            endpoint_url=endpoint, skip_instance_cache=True, use_listings_cache=False
        )

    def prepare(self, connection: duckdb.DuckDBPyConnection) -> None:
        connection.register_filesystem(self._fs)

    def write(
        self, connection: duckdb.DuckDBPyConnection, select: str, name: str, compression: str
    ) -> int:
        quoted = self.location(name).replace("'", "''")
        connection.execute(
            f"COPY ({select}) TO '{quoted}' (FORMAT parquet, COMPRESSION {compression})"
        ).fetchall()  # to the end: a result left open makes the connection refuse the next call
        return int(self._fs.info(f"{self._base}/{name}")["size"])

    def location(self, name: str) -> str:
        return f"s3://{self._base}/{name}"

    def delete(self, names: Sequence[str]) -> None:
        for name in names:
            with contextlib.suppress(FileNotFoundError):
                self._fs.rm_file(f"{self._base}/{name}")
            self._fs.forget(f"{self._base}/{name}")


class _WrittenOnce(s3fs.S3FileSystem):  # type: ignore[misc]
    """s3fs that remembers each object's details: the lake never rewrites an object under the
    same name, and DuckDB asks for them several times per file and query (a HEAD request each:
    7 per file per query measured, then 2 range reads; with this, one HEAD and the reads)."""

    def __init__(self, **options: Any) -> None:
        super().__init__(**options)
        self._details: dict[str, dict[str, Any]] = {}

    async def _info(
        self,
        path: str,
        bucket: str | None = None,
        key: str | None = None,
        refresh: bool = False,
        version_id: str | None = None,
    ) -> dict[str, Any]:
        name = self._strip_protocol(path)
        known = None if refresh or version_id else self._details.get(name)
        if known is not None:
            return known
        details: dict[str, Any] = await super()._info(
            path, bucket, key, refresh=refresh, version_id=version_id
        )
        if details.get("type") == "file":
            if len(self._details) >= REMEMBERED:
                self._details.clear()
            self._details[name] = details
        return details

    async def _exists(self, path: str, **options: Any) -> bool:
        # DuckDB's glob asks this first for each listed file: asking S3 makes a file deleted
        # since "no files found", an IO error the store answers by listing again.
        self.forget(self._strip_protocol(path))
        exists: bool = await super()._exists(path, **options)
        return exists

    def forget(self, name: str) -> None:
        self._details.pop(name, None)
