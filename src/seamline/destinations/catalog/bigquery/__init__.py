"""BigQuery: every event loaded into Segment's warehouse schema with SQL query jobs.

One dataset (setting `dataset`) holds `tracks`, one table per track event, `identifies`,
`users`, `pages`, `screens`, `groups`, `accounts` and `aliases`, properties, traits and context
flattened into columns (see `postgres_warehouse.rows`). A new property adds a column
(`ALTER TABLE … ADD COLUMN IF NOT EXISTS`); a column keeps its type, and a value that does not
fit it goes to `seamline_discards`.

Idempotent by messageId with DML, not streaming: each table is written with `MERGE … ON t.id
= s.id WHEN NOT MATCHED THEN INSERT`, so a re-delivered batch inserts nothing, for ever.
Streaming inserts (`tabledata.insertAll` with `insertId`) deduplicate only on a best-effort
basis for about a minute, and rows still in the streaming buffer cannot be deleted by DML for
up to 90 minutes, which a privacy deletion needs. A deletion is one multi-statement
transaction (`BEGIN TRANSACTION; DELETE …; COMMIT TRANSACTION`).

Authentication is a service account's JSON key (see `api`); no Google SDK is used.
"""

from __future__ import annotations

import hashlib
import json
import re
from typing import TYPE_CHECKING, Any

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

_PROJECT = re.compile(r"[a-z][a-z0-9:.-]{0,99}")
_DATASET = re.compile(r"[A-Za-z_][A-Za-z0-9_]{0,1023}")
_LOCATION = re.compile(r"[A-Za-z0-9-]{1,40}")


def _loader(ctx: Context) -> WarehouseLoader:
    from seamline.destinations.catalog.bigquery.api import JobsApi, service_account
    from seamline.destinations.catalog.bigquery.dialect import BIGQUERY, columns_sql, schema_sql
    from seamline.destinations.warehouse_statements import SqlTarget

    s = ctx.settings
    account = service_account(s.get("service_account_key"), s.get("token_url"))
    key = s.get("service_account_key")
    parsed = json.loads(key) if isinstance(key, str) else key
    project = str(s.get("project_id") or (parsed or {}).get("project_id") or "")
    dataset = str(s.get("dataset") or "seamline")
    location = str(s.get("location") or "US")
    for name, value, pattern in (
        ("project_id", project, _PROJECT),
        ("dataset", dataset, _DATASET),
        ("location", location, _LOCATION),
    ):
        if not pattern.fullmatch(value):
            raise PermanentError(f"{name} {value!r} is not a BigQuery {name.replace('_', ' ')}")
    base_url = str(s.get("api_url") or "https://bigquery.googleapis.com").rstrip("/")
    fingerprint = hashlib.sha256(json.dumps([account.private_key, account.token_url]).encode())
    settings = (base_url, project, dataset, location, fingerprint.hexdigest())

    def make() -> SqlTarget:
        api = JobsApi(ctx.http, base_url, account, project, location)
        return SqlTarget(
            BIGQUERY,
            api,
            (project, dataset),
            columns_sql(project, dataset),
            schema_sql(project, dataset, location),
        )

    return loader_for(ctx, "bigquery", settings, make)


def load_events(ctx: Context, payloads: list[dict[str, Any]]) -> list[DeliveryError | None]:
    """Write a batch; one outcome per payload (see `warehouse_load.load_batch`)."""
    return load_batch(_loader(ctx), payloads)


def load_event(ctx: Context, payload: dict[str, Any]) -> None:
    """Write one message; InvalidPayload when it has no known type."""
    outcome = load_events(ctx, [payload])[0]
    if outcome is not None:
        raise outcome


def check_connection(ctx: Context) -> None:
    """Exchange the key for a token and run `SELECT 1` as a query job."""
    _loader(ctx).target.check()


def delete(ctx: Context, person: Person) -> None:
    """Delete the person's rows from every table of the dataset, in one transaction."""
    delete_person(_loader(ctx).target, person)


DESTINATION = Destination(
    slug="bigquery",
    name="Google BigQuery",
    description="Load every event into BigQuery, in Segment's warehouse schema.",
    settings={
        "service_account_key": Setting(
            label="Service account key",
            description="The JSON key of a service account with the BigQuery Data Editor and "
            "BigQuery Job User roles (the whole file, as downloaded).",
            required=True,
            secret=True,
        ),
        "project_id": Setting(
            label="Project",
            description="The project that holds the dataset and runs the jobs (the key's "
            "project if empty).",
        ),
        "dataset": Setting(
            label="Dataset",
            description="The dataset for this source's tables, created if missing.",
            default="seamline",
        ),
        "location": Setting(
            label="Location",
            description="Where the dataset lives and jobs run: US, EU, or a region such as "
            "europe-west1.",
            default="US",
        ),
        "token_url": Setting(
            label="Token URL",
            description="Where the key's signed JWT is exchanged for a token (the key's "
            "token_uri, https://oauth2.googleapis.com/token, if empty).",
            target=True,
        ),
        "api_url": Setting(
            label="API URL",
            description="Only for a private endpoint: the base URL instead of "
            "https://bigquery.googleapis.com.",
            target=True,
        ),
        "profiles_sync_schema": Setting(
            label="Profiles Sync dataset",
            description="Write Profiles Sync's tables (id_graph_updates, user_traits, …) into "
            "this dataset too, created if missing; empty: no Profiles Sync.",
        ),
    },
    actions={"load_events": load_action(load_event, load_events)},
    test_authentication=check_connection,
    delete=delete,
    presets=(LOAD_PRESET,),
)
