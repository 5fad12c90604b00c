"""ClickHouse: every event loaded into Segment's warehouse schema through the HTTP interface.

One database (setting `database`) holds `tracks`, one table per track event, `identifies`,
`users`, `pages`, `screens`, `groups`, `accounts` and `aliases`, properties, traits and context
flattened into columns (see `postgres_warehouse.rows`), as ReplacingMergeTree tables ordered
by id. A new property adds a column (`ALTER TABLE … ADD COLUMN IF NOT EXISTS`); a column keeps
its type, and a value that does not fit it goes to `seamline_discards`.

Idempotent by messageId: ids already stored are skipped, each INSERT carries an
`insert_deduplication_token`, and ReplacingMergeTree merges any duplicate a race let through
(see `target`). A privacy deletion is a lightweight `DELETE FROM` per table: the rows vanish
from queries at once and from disk at the next merge.

Rows go in as JSONEachRow; nothing is imported from a ClickHouse client library.
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

_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]{0,205}")


def _loader(ctx: Context) -> WarehouseLoader:
    from seamline.destinations.catalog.clickhouse.interface import Interface
    from seamline.destinations.catalog.clickhouse.target import ClickHouseTarget

    s = ctx.settings
    url = str(s.get("url") or "").strip().rstrip("/")
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname or parts.path or parts.query:
        raise PermanentError("url must be the server's HTTP(S) address, like https://host:8443")
    user = str(s.get("user") or "default")
    password = str(s.get("password") or "")
    database = str(s.get("database") or "seamline")
    if not _NAME.fullmatch(database):
        raise PermanentError("database must be letters, digits and _")
    secret = hashlib.sha256(f"{user}\n{password}".encode()).hexdigest()

    def make() -> ClickHouseTarget:
        return ClickHouseTarget(Interface(ctx.http, url, user, password), database)

    return loader_for(ctx, "clickhouse", (url, database, secret), make)


def load_events(ctx: Context, payloads: list[dict[str, Any]]) -> list[DeliveryError | None]:
    """Write a batch; one outcome per payload (see `warehouse_load.load_batch`)."""
    return load_batch(_loader(ctx), payloads)


def load_event(ctx: Context, payload: dict[str, Any]) -> None:
    """Write one message; InvalidPayload when it has no known type."""
    outcome = load_events(ctx, [payload])[0]
    if outcome is not None:
        raise outcome


def check_connection(ctx: Context) -> None:
    """Run `SELECT 1` as the user."""
    _loader(ctx).target.check()


def delete(ctx: Context, person: Person) -> None:
    """Delete the person's rows from every table of the database (lightweight deletes)."""
    delete_person(_loader(ctx).target, person)


DESTINATION = Destination(
    slug="clickhouse",
    name="ClickHouse",
    description="Load every event into ClickHouse, in Segment's warehouse schema.",
    settings={
        "url": Setting(
            label="URL",
            description="The server's HTTP interface: https://<host>:8443 for ClickHouse Cloud "
            "and TLS, http://<host>:8123 without.",
            required=True,
            target=True,
        ),
        "user": Setting(label="User", description="The user to load as.", default="default"),
        "password": Setting(label="Password", description="The user's password.", secret=True),
        "database": Setting(
            label="Database",
            description="The database for this source's tables, created if missing.",
            default="seamline",
        ),
        "profiles_sync_schema": Setting(
            label="Profiles Sync database",
            description="Write Profiles Sync's tables (id_graph_updates, user_traits, …) into "
            "this database too, created if missing; empty: no Profiles Sync.",
        ),
    },
    actions={"load_events": load_action(load_event, load_events)},
    test_authentication=check_connection,
    delete=delete,
    presets=(LOAD_PRESET,),
)
