"""PostgreSQL warehouse: every event loaded into Segment's warehouse schema.

One schema per source (setting `schema`) holds `tracks`, one table per track event (named
after the event in snake_case), `identifies`, `users`, `pages`, `screens`, `groups`,
`accounts` and `aliases`, with properties and traits flattened into columns (see `rows`).
New properties add columns; a column keeps the type it was created with (see `cells`).
Loading is idempotent by messageId, so a re-delivered batch changes nothing (see `loader`).

A privacy regulation deletes the person's rows from every table (see `erasure`).

psycopg is imported on the first delivery, never when the catalog is listed.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from seamline.destinations.definition import Action, Context, Destination, Field, Preset, Setting
from seamline.destinations.errors import DeliveryError, InvalidPayload, PermanentError

if TYPE_CHECKING:
    from seamline.privacy.subject import Person

_EVERY_MESSAGE = " or ".join(
    f'type = "{kind}"' for kind in ("track", "identify", "page", "screen", "group", "alias")
)


def load_events(ctx: Context, payloads: list[dict[str, Any]]) -> list[DeliveryError | None]:
    """Write a batch, one transaction per table. Returns one outcome per payload, as the
    delivery worker reads a batch: None when loaded, InvalidPayload for a message of no known
    type (the others are loaded all the same). A failure to write raises for the whole batch;
    retrying it is harmless, loading being idempotent."""
    from seamline.destinations.catalog.postgres_warehouse.loader import loader_for
    from seamline.destinations.catalog.postgres_warehouse.rows import Row, rows_of

    rows: list[Row] = []
    outcomes: list[DeliveryError | None] = []
    for payload in payloads:
        try:
            rows.extend(rows_of(_message(payload)))
            outcomes.append(None)
        except InvalidPayload as error:
            outcomes.append(error)
    if rows:
        loader_for(ctx).load(rows)
    return outcomes


def load_event(ctx: Context, payload: dict[str, Any]) -> None:
    """Write one message (a batch of one); InvalidPayload when it has no known type."""
    outcome = load_events(ctx, [payload])[0]
    if outcome is not None:
        raise outcome


def check_connection(ctx: Context) -> None:
    """Connect with the settings and check the user may create tables in the schema."""
    from seamline.destinations.catalog.postgres_warehouse.loader import loader_for

    loader_for(ctx).check()


def delete_person(ctx: Context, person: Person) -> None:
    """Delete the rows holding the person's user or anonymous ids, in one transaction."""
    from seamline.destinations.catalog.postgres_warehouse.erasure import delete_rows

    url, schema = ctx.settings.get("database_url"), ctx.settings.get("schema") or "seamline"
    if not isinstance(url, str) or not url.strip():
        raise PermanentError("the database_url setting is missing")
    delete_rows(url, str(schema), person)


def _message(payload: Mapping[str, Any]) -> Mapping[str, Any]:
    """The whole message: the `event` field as mapped, or the payload itself when it is the raw
    message (a track's `event` is then its name, a string)."""
    inner = payload.get("event")
    return inner if isinstance(inner, Mapping) else payload


DESTINATION = Destination(
    slug="postgres-warehouse",
    name="PostgreSQL warehouse",
    description="Load every event into PostgreSQL, in Segment's warehouse schema.",
    settings={
        "database_url": Setting(
            label="Database URL",
            description="postgresql://user:password@host:5432/database (libpq URL parameters "
            "such as sslmode and connect_timeout are honoured).",
            required=True,
            secret=True,
        ),
        "schema": Setting(
            label="Schema",
            description="The schema for this source's tables, created if missing.",
            default="seamline",
        ),
        "profiles_sync_schema": Setting(
            label="Profiles Sync schema",
            description="Write Profiles Sync's tables (id_graph_updates, user_traits, …) into "
            "this schema too, created if missing; empty: no Profiles Sync.",
        ),
    },
    actions={
        "load_events": Action(
            title="Load events",
            description="Append each message to its tables and keep users and accounts current.",
            fields={
                "event": Field(
                    label="Event",
                    description="The whole message; the warehouse shapes it into rows.",
                    type="object",
                    required=True,
                    default={"@path": "$."},
                )
            },
            perform=load_event,
            perform_batch=load_events,
            max_batch=500,
            default_trigger=_EVERY_MESSAGE,
        )
    },
    test_authentication=check_connection,
    delete=delete_person,
    presets=(Preset(name="Load every event", action="load_events", trigger=_EVERY_MESSAGE),),
)
