"""Profiles Sync into Parquet files on a local or mounted disk, beside a Parquet lake.

Layout: `<root>/<table>/part-<hash>.parquet` for the raw tables (a file per run, named after
a hash of its rows' ids, so a retried run rewrites the same file) and
`<root>/<table>/current.parquet` for the materialized ones (rewritten by each run that changes
them). Files are written under a hidden name and renamed, so a reader sees the old file or the
new one. Read a table with DuckDB: `SELECT * FROM read_parquet('<root>/user_traits/*.parquet')`.

A deleted profile's rows are removed from every file, raw ones included. `ParquetTables`
writes this layout into any `Files`: `DiskFiles` here, a bucket in `objects`.
"""

from __future__ import annotations

import hashlib
import os
from pathlib import Path
from typing import Any, Protocol

import msgspec

from seamline.profiles_sync.changes import Delta
from seamline.profiles_sync.tables import MATERIALIZED, PROFILE_COLUMNS, RAW, Kind

_encode = msgspec.json.Encoder().encode
_CURRENT = "current.parquet"


class Files(Protocol):
    """A folder per table of Parquet files: on a disk, or objects in a bucket."""

    def names(self, table: str) -> list[str]:
        """The file names in the table's folder."""
        ...

    def read(self, table: str, name: str) -> list[dict[str, Any]]: ...

    def write(self, table: str, name: str, data: Any) -> None:
        """Replace the file with the Arrow table `data`, whole (a reader never sees half)."""
        ...


class ParquetTables:
    """Writes a run's `Delta` as Parquet files into `files`."""

    def __init__(self, files: Files) -> None:
        self.files = files

    def apply(self, delta: Delta) -> None:
        for table, rows in delta.raw.items():
            if rows:
                digest = hashlib.blake2b(
                    "".join(sorted(r["id"] for r in rows)).encode(), digest_size=12
                ).hexdigest()
                plain = [_plain(r, RAW[table]) for r in rows]
                self.files.write(table, f"part-{digest}.parquet", _arrow(RAW[table], plain))
        gone = set(delta.removed_profiles)
        if gone:
            for table, names in PROFILE_COLUMNS.items():
                for name in sorted(self.files.names(table)):
                    if not name.startswith("part-"):
                        continue
                    rows = self.files.read(table, name)
                    kept = [r for r in rows if not any(r.get(n) in gone for n in names)]
                    if len(kept) < len(rows):
                        self.files.write(table, name, _arrow(RAW[table], kept))
        dropped = delta.replaced | gone
        for table, columns in MATERIALIZED.items():
            new = delta.materialized.get(table, [])
            exists = _CURRENT in self.files.names(table) if new or dropped else False
            if not (new or (dropped and exists)):
                continue
            old = self.files.read(table, _CURRENT) if exists else []
            rows = [r for r in old if r["canonical_segment_id"] not in dropped] + [
                _plain(r, columns) for r in new
            ]
            self.files.write(table, _CURRENT, _arrow(columns, rows))


class DiskFiles:
    """Table folders under `root` on a local or mounted disk."""

    def __init__(self, root: Path) -> None:
        self.root = root

    def names(self, table: str) -> list[str]:
        folder = self.root / table
        return [f.name for f in folder.glob("*.parquet")] if folder.is_dir() else []

    def read(self, table: str, name: str) -> list[dict[str, Any]]:
        import pyarrow.parquet as pq

        rows: list[dict[str, Any]] = pq.read_table(self.root / table / name).to_pylist()
        return rows

    def write(self, table: str, name: str, data: Any) -> None:
        import pyarrow.parquet as pq

        folder = self.root / table
        folder.mkdir(parents=True, exist_ok=True)
        hidden = folder / f".{name}.{os.getpid()}.tmp"
        pq.write_table(data, hidden)
        os.replace(hidden, folder / name)


class LakeTables(ParquetTables):
    """Writes a run's `Delta` under `root`."""

    def __init__(self, root: Path) -> None:
        super().__init__(DiskFiles(root))
        self.root = root


def _plain(row: dict[str, Any], columns: dict[str, Kind]) -> dict[str, Any]:
    return {
        name: _encode(row.get(name)).decode() if kind == "json" else row.get(name)
        for name, kind in columns.items()
    }


def _arrow(columns: dict[str, Kind], rows: list[dict[str, Any]]) -> Any:
    """The rows (JSON columns already text) as an Arrow table of the table's columns."""
    import pyarrow as pa

    types = {
        "text": pa.string(),
        "json": pa.string(),
        "int": pa.int64(),
        "time": pa.timestamp("us", tz="UTC"),
    }
    schema = pa.schema([(name, types[kind]) for name, kind in columns.items()])
    return pa.Table.from_pylist(rows, schema=schema)
