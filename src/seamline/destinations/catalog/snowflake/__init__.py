"""Snowflake: every event loaded into Segment's warehouse schema through the SQL API v2.

One schema (setting `schema`) of the database holds `tracks`, one table per track event,
`identifies`, `users`, `pages`, `screens`, `groups`, `accounts` and `aliases`, properties,
traits and context flattened into columns (see `postgres_warehouse.rows`). A new property adds
a column (`ALTER TABLE … ADD COLUMN IF NOT EXISTS`); a column keeps its type, and a value that
does not fit it goes to `seamline_discards`.

Idempotent by messageId: each table is written with `MERGE … ON t.id = s.id WHEN NOT MATCHED
THEN INSERT`, so a re-delivered batch inserts nothing; `users` and `accounts` update each
column from the later message. A privacy deletion deletes the person's rows from every table
in one transaction (BEGIN … COMMIT in one multi-statement request).

Statements run asynchronously and are polled (see `api`); nothing is imported from a
Snowflake SDK.
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

_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_$]{0,254}")
_ACCOUNT = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,99}")


def _loader(ctx: Context) -> WarehouseLoader:
    from seamline.destinations.catalog.snowflake.api import Credentials, SqlApi
    from seamline.destinations.catalog.snowflake.dialect import SNOWFLAKE, columns_sql, schema_sql
    from seamline.destinations.warehouse_statements import SqlTarget

    s = ctx.settings
    account = str(s.get("account") or "")
    if not _ACCOUNT.fullmatch(account):
        raise PermanentError("account must be a Snowflake account identifier, like myorg-acct")
    names = {key: str(s.get(key) or default) for key, default in _NAMES.items()}
    for key, value in names.items():
        if not _NAME.fullmatch(value):
            raise PermanentError(f"{key} must be a Snowflake name (letters, digits, _ and $)")
    database, schema = names["database"].upper(), names["schema"].upper()
    base_url = str(s.get("api_url") or f"https://{account}.snowflakecomputing.com").rstrip("/")
    credentials = Credentials(
        account=account,
        user=str(s.get("user") or ""),
        private_key=str(s.get("private_key") or ""),
        passphrase=str(s.get("private_key_passphrase") or ""),
        oauth_token=str(s.get("oauth_token") or ""),
    )
    secrets = (
        credentials.user,
        credentials.private_key,
        credentials.passphrase,
        credentials.oauth_token,
    )
    fingerprint = hashlib.sha256(json.dumps(secrets).encode()).hexdigest()
    settings = (base_url, account, *sorted(names.items()), s.get("role"), fingerprint)

    def make() -> SqlTarget:
        api = SqlApi(ctx.http, base_url, credentials, database, names["warehouse"].upper())
        api.role = str(s.get("role") or "")
        return SqlTarget(
            SNOWFLAKE,
            api,
            (database, schema),
            columns_sql(database, schema),
            schema_sql(database, schema),
        )

    return loader_for(ctx, "snowflake", settings, make)


_NAMES = {"database": "", "schema": "SEAMLINE", "warehouse": ""}


def load_events(ctx: Context, payloads: list[dict[str, Any]]) -> list[DeliveryError | None]:
    """Write a batch; one outcome per payload (see `warehouse_load.load_batch`)."""
    return load_batch(_loader(ctx), payloads)


def load_event(ctx: Context, payload: dict[str, Any]) -> None:
    """Write one message; InvalidPayload when it has no known type."""
    outcome = load_events(ctx, [payload])[0]
    if outcome is not None:
        raise outcome


def check_connection(ctx: Context) -> None:
    """Authenticate and run `SELECT 1` on the warehouse."""
    _loader(ctx).target.check()


def delete(ctx: Context, person: Person) -> None:
    """Delete the person's rows from every table of the schema, in one transaction."""
    delete_person(_loader(ctx).target, person)


DESTINATION = Destination(
    slug="snowflake",
    name="Snowflake",
    description="Load every event into Snowflake, in Segment's warehouse schema.",
    settings={
        "account": Setting(
            label="Account",
            description="Your account identifier, as in https://<account>.snowflakecomputing.com "
            "(myorg-myaccount, or a locator such as xy12345.us-east-1).",
            required=True,
        ),
        "user": Setting(
            label="User",
            description="The Snowflake user whose public key is registered (key-pair "
            "authentication).",
        ),
        "private_key": Setting(
            label="Private key",
            description="The user's RSA private key, PEM (-----BEGIN PRIVATE KEY-----).",
            secret=True,
        ),
        "private_key_passphrase": Setting(
            label="Private key passphrase",
            description="The passphrase of an encrypted private key.",
            secret=True,
        ),
        "oauth_token": Setting(
            label="OAuth token",
            description="An OAuth access token, instead of user and private key.",
            secret=True,
        ),
        "database": Setting(
            label="Database",
            description="The database to load into (it must exist).",
            required=True,
        ),
        "schema": Setting(
            label="Schema",
            description="The schema for this source's tables, created if missing.",
            default="SEAMLINE",
        ),
        "warehouse": Setting(
            label="Warehouse",
            description="The virtual warehouse that runs the loads.",
            required=True,
        ),
        "role": Setting(label="Role", description="The role to use (the user's default if empty)."),
        "api_url": Setting(
            label="API URL",
            description="Only to reach Snowflake through a private link or proxy: the base URL "
            "instead of https://<account>.snowflakecomputing.com.",
            target=True,
        ),
        "profiles_sync_schema": Setting(
            label="Profiles Sync schema",
            description="Write Profiles Sync's tables (id_graph_updates, user_traits, …) into "
            "this schema of the database too, created if missing; empty: no Profiles Sync.",
        ),
    },
    actions={"load_events": load_action(load_event, load_events)},
    test_authentication=check_connection,
    delete=delete,
    presets=(LOAD_PRESET,),
)
