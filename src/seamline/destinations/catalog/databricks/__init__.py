"""Databricks: every event loaded into Segment's warehouse schema as Delta tables, through
the SQL Statement Execution API on a SQL warehouse.

One schema of a Unity Catalog catalog (settings `catalog`, `schema`) holds `tracks`, one table
per track event, `identifies`, `users`, `pages`, `screens`, `groups`, `accounts` and
`aliases`, properties, traits and context flattened into columns (see
`postgres_warehouse.rows`). A new property adds a column (`ALTER TABLE … ADD COLUMNS`); a
column keeps its type, and a value that does not fit it goes to `seamline_discards`.

Idempotent by messageId: each table is written with `MERGE INTO … ON t.id = s.id WHEN NOT
MATCHED THEN INSERT`, so a re-delivered batch inserts nothing; `users` and `accounts` update
each column from the later message. A privacy deletion deletes the person's rows from every
table (statement by statement: the API has no transactions across statements). Deleted rows
stay in older versions of a Delta table until `VACUUM` removes files past the retention period.

No Databricks SDK is used (see `api`).
"""

from __future__ import annotations

import hashlib
import re
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from seamline.destinations.definition import Context, Destination, Setting
from seamline.destinations.errors import DeliveryError, PermanentError
from seamline.destinations.warehouse_load import (
    LOAD_PRESET,
    WarehouseLoader,
    delete_person,
    load_action,
    load_batch,
    loader_for,
)

if TYPE_CHECKING:
    from seamline.privacy.subject import Person

_NAME = re.compile(r"[a-z0-9_]{1,255}")
_WAREHOUSE = re.compile(r"[A-Za-z0-9]{1,64}")


def _loader(ctx: Context) -> WarehouseLoader:
    from seamline.destinations.catalog.databricks.api import StatementApi
    from seamline.destinations.catalog.databricks.dialect import (
        DATABRICKS,
        columns_sql,
        schema_sql,
    )
    from seamline.destinations.warehouse_statements import SqlTarget

    s = ctx.settings
    host = str(s.get("host") or "").strip().rstrip("/")
    if not host.startswith(("https://", "http://")):
        host = "https://" + host
    if not urlsplit(host).hostname or urlsplit(host).path:
        raise PermanentError(
            "host must be the workspace URL, like https://adb-1234.5.azuredatabricks.net"
        )
    token = str(s.get("token") or "")
    if not token:
        raise PermanentError("the token setting is missing")
    warehouse_id = str(s.get("warehouse_id") or "")
    if not _WAREHOUSE.fullmatch(warehouse_id):
        raise PermanentError("warehouse_id must be the SQL warehouse's id (letters and digits)")
    catalog = str(s.get("catalog") or "main").lower()
    schema = str(s.get("schema") or "seamline").lower()
    for name, value in (("catalog", catalog), ("schema", schema)):
        if not _NAME.fullmatch(value):
            raise PermanentError(f"{name} must be letters, digits and _")
    settings = (host, warehouse_id, catalog, schema, hashlib.sha256(token.encode()).hexdigest())

    def make() -> SqlTarget:
        api = StatementApi(ctx.http, host, token, warehouse_id)
        return SqlTarget(
            DATABRICKS,
            api,
            (catalog, schema),
            columns_sql(catalog, schema),
            schema_sql(catalog, schema),
        )

    return loader_for(ctx, "databricks", settings, make)


def load_events(ctx: Context, payloads: list[dict[str, Any]]) -> list[DeliveryError | None]:
    """Write a batch; one outcome per payload (see `warehouse_load.load_batch`)."""
    return load_batch(_loader(ctx), payloads)


def load_event(ctx: Context, payload: dict[str, Any]) -> None:
    """Write one message; InvalidPayload when it has no known type."""
    outcome = load_events(ctx, [payload])[0]
    if outcome is not None:
        raise outcome


def check_connection(ctx: Context) -> None:
    """Run `SELECT 1` on the SQL warehouse with the token."""
    _loader(ctx).target.check()


def delete(ctx: Context, person: Person) -> None:
    """Delete the person's rows from every table of the schema."""
    delete_person(_loader(ctx).target, person)


DESTINATION = Destination(
    slug="databricks",
    name="Databricks",
    description="Load every event into Delta tables on Databricks, in Segment's warehouse schema.",
    settings={
        "host": Setting(
            label="Workspace URL",
            description="https://<workspace>.cloud.databricks.com (or …azuredatabricks.net, "
            "…gcp.databricks.com).",
            required=True,
            target=True,
        ),
        "token": Setting(
            label="Access token",
            description="A personal access token (or a service principal's) allowed to use the "
            "SQL warehouse and to create tables in the catalog.",
            required=True,
            secret=True,
        ),
        "warehouse_id": Setting(
            label="SQL warehouse id",
            description="The id of the SQL warehouse that runs the loads (its connection "
            "details show it, as the end of the HTTP path).",
            required=True,
        ),
        "catalog": Setting(
            label="Catalog", description="The Unity Catalog catalog to load into.", default="main"
        ),
        "schema": Setting(
            label="Schema",
            description="The schema for this source's tables, created if missing.",
            default="seamline",
        ),
        "profiles_sync_schema": Setting(
            label="Profiles Sync schema",
            description="Write Profiles Sync's tables (id_graph_updates, user_traits, …) into "
            "this schema of the catalog too, created if missing; empty: no Profiles Sync.",
        ),
    },
    actions={"load_events": load_action(load_event, load_events)},
    test_authentication=check_connection,
    delete=delete,
    presets=(LOAD_PRESET,),
)
