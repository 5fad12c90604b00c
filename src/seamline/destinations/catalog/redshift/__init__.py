"""Amazon Redshift: every event loaded into Segment's warehouse schema, over PostgreSQL's wire.

The same tables and columns as the PostgreSQL warehouse (`tracks`, one table per track event,
`identifies`, `users`, `pages`, `screens`, `groups`, `accounts`, `aliases`; properties, traits
and context flattened into columns; arrays as JSON text), shaped by the same code
(`postgres_warehouse.rows`). Redshift's own types: text is `VARCHAR(65535)` (Redshift's largest,
in bytes; longer values are cut at a character boundary), numbers are `DOUBLE PRECISION`,
booleans `BOOLEAN`, times `TIMESTAMPTZ`. New properties add columns (one `ADD COLUMN` each); a
column keeps its type, and a value that does not fit is NULL there and kept in
`seamline_discards`.

Loading (see `loader`): per table, one transaction that locks the table, stages the batch in a
temporary table and moves it in with DELETE/INSERT (`UPDATE … FROM` for `users`/`accounts`), so
a re-delivered batch adds nothing: loading is idempotent by messageId. Redshift's primary keys
are not enforced; this is what keeps ids unique. Every statement also runs on PostgreSQL.

Connection: `database_url` is a libpq URL to the cluster's endpoint (port 5439 by default;
`sslmode=require` recommended). A refused password or a missing database dead-letters the
batch; a refused or timed-out connection, a serialization conflict (Redshift's error 1023) or
a full disk is retried.

Deletion (a privacy regulation): the person's rows leave every table in one transaction (see
`erasure`). psycopg is imported on the first delivery, never when the catalog is listed.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from seamline.destinations.definition import Context, Destination, Setting
from seamline.destinations.errors import DeliveryError, InvalidPayload
from seamline.destinations.warehouse_load import LOAD_PRESET, load_action

if TYPE_CHECKING:
    from seamline.privacy.subject import Person


def load_events(ctx: Context, payloads: list[dict[str, Any]]) -> list[DeliveryError | None]:
    """Write a batch, one transaction per table. Returns one outcome per payload: None when
    loaded, InvalidPayload for a message of no known type (the others are loaded all the same).
    A failure to write raises for the whole batch; retrying it is harmless."""
    from seamline.destinations.catalog.postgres_warehouse.rows import Row, rows_of
    from seamline.destinations.catalog.redshift.loader import loader_for

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
    from seamline.destinations.catalog.redshift.loader import loader_for

    loader_for(ctx).check()


def delete_person(ctx: Context, person: Person) -> None:
    """Delete the rows holding the person's user or anonymous ids, in one transaction."""
    from seamline.destinations.catalog.redshift.erasure import delete_rows
    from seamline.destinations.catalog.redshift.loader import loader_for

    loader = loader_for(ctx)  # checks the settings
    delete_rows(loader.settings[0], loader.schema, person)


def _message(payload: Mapping[str, Any]) -> Mapping[str, Any]:
    """The whole message: the `event` field as mapped, or the payload itself when it is the raw
    message (a track's `event` is then its name, a string)."""
    inner = payload.get("event")
    return inner if isinstance(inner, Mapping) else payload


DESTINATION = Destination(
    slug="redshift",
    name="Amazon Redshift",
    description="Load every event into Amazon Redshift, in Segment's warehouse schema.",
    settings={
        "database_url": Setting(
            label="Database URL",
            description="postgresql://user:password@cluster.region.redshift.amazonaws.com:5439/"
            "dev?sslmode=require (libpq URL parameters are honoured).",
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
    actions={"load_events": load_action(load_event, load_events)},
    test_authentication=check_connection,
    delete=delete_person,
    presets=(LOAD_PRESET,),
)
