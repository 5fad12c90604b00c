"""Profiles Sync into Parquet files on a local or mounted disk, beside a Parquet lake.

Layout: `<root>/<table>/part-<hash>.parquet` for the raw tables (a file per run, named after
a hash of its rows' ids, so a retried run rewrites the same file) and
`<root>/<table>/current.parquet` for the materialized ones (rewritten by each run that changes
them). Files are written under a hidden name and renamed, so a reader sees the old file or the
new one. Read a table with DuckDB: `SELECT * FROM read_parquet('<root>/user_traits/*.parquet')`.

A deleted profile's rows are removed from every file, raw ones included.
"""

from __future__ import annotations

import hashlib
import os
from pathlib import Path
from typing import Any

import msgspec

from seamline.profiles_sync.changes import Delta
from seamline.profiles_sync.tables import MATERIALIZED, PROFILE_COLUMNS, RAW, Kind

_encode = msgspec.json.Encoder().encode


class LakeTables:
    """Writes a run's `Delta` under `root`."""

    def __init__(self, root: Path) -> None:
        self.root = root

    def apply(self, delta: Delta) -> None:
        import pyarrow.parquet as pq

        for table, rows in delta.raw.items():
            if rows:
                digest = hashlib.blake2b(
                    "".join(sorted(r["id"] for r in rows)).encode(), digest_size=12
                ).hexdigest()
                plain = [_plain(r, RAW[table]) for r in rows]
                self._write(table, f"part-{digest}.parquet", _arrow(RAW[table], plain))
        gone = set(delta.removed_profiles)
        if gone:
            for table, names in PROFILE_COLUMNS.items():
                for file in sorted((self.root / table).glob("part-*.parquet")):
                    kept = [
                        r
                        for r in pq.read_table(file).to_pylist()
                        if not any(r.get(n) in gone for n in names)
                    ]
                    self._write(table, file.name, _arrow(RAW[table], kept))
        dropped = delta.replaced | gone
        for table, columns in MATERIALIZED.items():
            new = delta.materialized.get(table, [])
            current = self.root / table / "current.parquet"
            if not (new or (dropped and current.exists())):
                continue
            old = pq.read_table(current).to_pylist() if current.exists() else []
            rows = [r for r in old if r["canonical_segment_id"] not in dropped] + [
                _plain(r, columns) for r in new
            ]
            self._write(table, "current.parquet", _arrow(columns, rows))

    def _write(self, table: str, name: str, data: Any) -> None:
        import pyarrow.parquet as pq

        folder = self.root / table
        folder.mkdir(parents=True, exist_ok=True)
        hidden = folder / f".{name}.{os.getpid()}.tmp"
        pq.write_table(data, hidden)
        os.replace(hidden, folder / name)


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
