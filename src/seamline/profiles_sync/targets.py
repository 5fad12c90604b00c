"""Which destination instances take Profiles Sync, and the writer for each.

A `postgres-warehouse` or `redshift` instance with a `profiles_sync_schema` writes the tables
into that schema of its database; so do `snowflake`, `databricks` (a schema), `bigquery` (a
dataset) and `clickhouse` (a database), through their own requests over `http`. A
`parquet-lake` instance with a `profiles_sync_path` writes Parquet files there, an
`object-storage` instance with a `profiles_sync_prefix` Parquet objects under it, and an
`iceberg` instance with a `profiles_sync_namespace` Iceberg tables in that namespace. Other
destinations take no Profiles Sync yet.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

from seamline.profiles_sync.run import Writer

if TYPE_CHECKING:
    from seamline.destinations.http import Http
    from seamline.destinations.instances import CompiledDestination

CLOUD_SCHEMA = {
    "snowflake": "schema",
    "bigquery": "dataset",
    "databricks": "schema",
    "clickhouse": "database",
}
"""The cloud warehouses, each with the setting naming where its event tables go: Profiles
Sync's go to `profiles_sync_schema` instead, reached with the instance's other settings."""


def writer_for(instance: CompiledDestination, http: Http) -> Writer | None:
    """The writer for `instance`, or None when it takes no Profiles Sync. Writers that send
    requests send them through `http`."""
    return writer_of(instance.definition.slug, instance.settings, http)


def writer_of(slug: str, settings: Mapping[str, Any], http: Http) -> Writer | None:
    """The writer for an instance of `slug` with `settings` (see `writer_for`)."""
    schema = str(settings.get("profiles_sync_schema") or "")
    if slug == "postgres-warehouse" and schema:
        from seamline.profiles_sync.postgres import PostgresTables

        return PostgresTables(str(settings["database_url"]), schema)
    if slug == "redshift" and schema:
        from seamline.profiles_sync.redshift import RedshiftTables

        return RedshiftTables(str(settings["database_url"]), schema)
    if slug in CLOUD_SCHEMA and schema:
        return _cloud(slug, {**settings, CLOUD_SCHEMA[slug]: schema}, http)
    if slug == "parquet-lake" and settings.get("profiles_sync_path"):
        from seamline.profiles_sync.lake import LakeTables

        return LakeTables(Path(str(settings["profiles_sync_path"])))
    if slug == "iceberg" and settings.get("profiles_sync_namespace"):
        from seamline.profiles_sync.iceberg import iceberg_tables

        return iceberg_tables(settings)
    if slug == "object-storage" and settings.get("profiles_sync_prefix"):
        from seamline.profiles_sync.objects import object_tables

        return object_tables(settings, http)
    return None


def _cloud(slug: str, settings: Mapping[str, Any], http: Http) -> Writer:
    """The warehouse's own loader, pointed at the Profiles Sync schema; its checks of the
    settings (names, account, credentials) apply."""
    from importlib import import_module

    from seamline.destinations.definition import Context
    from seamline.profiles_sync.warehouse import WarehouseTables

    module = import_module(f"seamline.destinations.catalog.{slug}")
    loader = module._loader(Context(settings=settings, http=http))
    return WarehouseTables(loader.target)
