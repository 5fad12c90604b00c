"""Which destination instances take Profiles Sync, and the writer for each.

A `postgres-warehouse` or `redshift` instance with a `profiles_sync_schema` writes the tables
into that schema of its database; a `parquet-lake` instance with a `profiles_sync_path`
writes Parquet files there. Other destinations take no Profiles Sync yet.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from seamline.profiles_sync.run import Writer


def writer_for(slug: str, settings: Mapping[str, Any]) -> Writer | None:
    """The writer for an instance of `slug` with `settings`, or None when it takes none."""
    if slug == "postgres-warehouse" and settings.get("profiles_sync_schema"):
        from seamline.profiles_sync.postgres import PostgresTables

        return PostgresTables(str(settings["database_url"]), str(settings["profiles_sync_schema"]))
    if slug == "redshift" and settings.get("profiles_sync_schema"):
        from seamline.profiles_sync.redshift import RedshiftTables

        return RedshiftTables(str(settings["database_url"]), str(settings["profiles_sync_schema"]))
    if slug == "parquet-lake" and settings.get("profiles_sync_path"):
        from seamline.profiles_sync.lake import LakeTables

        return LakeTables(Path(str(settings["profiles_sync_path"])))
    return None
