"""Apache Iceberg: every event loaded into Iceberg tables in Segment's warehouse schema.

One Iceberg table per warehouse table (`tracks`, one per track event, `identifies`, `users`,
`pages`, `screens`, `groups`, `accounts`, `aliases`) in one namespace (setting `namespace`),
with the columns of the PostgreSQL warehouse (properties, traits and context flattened; arrays
as JSON text) as Iceberg `string`, `double`, `boolean` and `timestamptz` columns, plus
`uuid_ts`, the load time. New properties widen the schema (`union_by_name`); a column keeps
its type, and a value that does not fit is null there and kept in `seamline_discards`.

The catalog is pyiceberg's SQL catalog, in a SQLite file or a PostgreSQL database
(`catalog_url`); the data and metadata files are written under `warehouse`, a directory on
local (or mounted shared) disk. Any Iceberg reader finds the tables through that catalog
(Spark's or Trino's JDBC catalog, pyiceberg), or reads the Parquet files a table's current
snapshot lists (DuckDB's `read_parquet` over `table.inspect.files()`).

Each batch is one commit per table (see `writer`): events are appended, skipping messageIds the
table holds already (so a re-delivered batch adds nothing), and `users`/`accounts` are merged
and overwritten for the batch's ids. A commit lost to a concurrent writer, a catalog database
out of reach or a full disk is retried; a bad setting or a read-only directory is not.

Deletion (a privacy regulation): a row-level delete in every table, then older snapshots are
expired and the files only they referenced removed (see `erasure`), which ends time travel to
before the deletion. pyiceberg is imported on the first delivery, never when the catalog is
listed. An S3 warehouse is not offered: pyiceberg's S3 client would reach an address this
server's outbound guard has not checked.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

from seamline.destinations.definition import Action, Context, Destination, Field, Preset, Setting
from seamline.destinations.errors import DeliveryError, InvalidPayload, PermanentError

if TYPE_CHECKING:
    from seamline.destinations.catalog.iceberg.writer import Writer
    from seamline.privacy.subject import Person

_EVERY_MESSAGE = " or ".join(
    f'type = "{kind}"' for kind in ("track", "identify", "page", "screen", "group", "alias")
)
_NAMESPACE = re.compile(r"[a-z_][a-z0-9_]{0,62}")
_POSTGRES = re.compile(r"^postgres(?:ql)?(?:\+\w+)?://")
_STATE_KEY = "iceberg"


def load_events(ctx: Context, payloads: list[dict[str, Any]]) -> list[DeliveryError | None]:
    """Write a batch, one commit per table. Returns one outcome per payload: None when loaded,
    InvalidPayload for a message of no known type (the others are loaded all the same)."""
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
        writer_for(ctx).load(rows)
    return outcomes


def load_event(ctx: Context, payload: dict[str, Any]) -> None:
    """Write one message (a batch of one); InvalidPayload when it has no known type."""
    outcome = load_events(ctx, [payload])[0]
    if outcome is not None:
        raise outcome


def check_catalog(ctx: Context) -> None:
    """Open the catalog, create the namespace if needed and prove the warehouse directory
    takes a file."""
    from seamline.destinations.catalog.iceberg.writer import failures

    writer = writer_for(ctx)
    with failures():
        writer.catalog.create_namespace_if_not_exists(writer.namespace)
        root = Path(writer.settings[1])
        root.mkdir(parents=True, exist_ok=True)
        probe = root / f".seamline-probe-{uuid.uuid4().hex}"
        probe.write_bytes(b"")
        probe.unlink()


def delete_person(ctx: Context, person: Person) -> None:
    """Delete the person's rows from every table, and the files that held them."""
    from seamline.destinations.catalog.iceberg.erasure import delete_rows

    delete_rows(writer_for(ctx), person)


def writer_for(ctx: Context) -> Writer:
    """The instance's writer (its catalog), made on first use and again when settings change."""
    from seamline.destinations.catalog.iceberg.writer import Writer, failures

    url, warehouse, namespace = _settings(ctx.settings)
    current = ctx.state.get(_STATE_KEY)
    if isinstance(current, Writer) and current.settings == (url, warehouse, namespace):
        return current
    from pyiceberg.catalog.sql import SqlCatalog

    with failures():
        catalog = SqlCatalog(
            "seamline",
            uri=_POSTGRES.sub("postgresql+psycopg://", url),
            warehouse=Path(warehouse).as_uri(),
        )
    writer = Writer(catalog, namespace, (url, warehouse, namespace))
    ctx.state[_STATE_KEY] = writer
    return writer


def close(ctx: Context) -> None:
    """Let go of the instance's catalog (its database connections)."""
    current = ctx.state.pop(_STATE_KEY, None)
    engine = getattr(getattr(current, "catalog", None), "engine", None)
    if engine is not None:
        engine.dispose()


def _settings(settings: Mapping[str, Any]) -> tuple[str, str, str]:
    url = settings.get("catalog_url")
    warehouse = settings.get("warehouse")
    namespace = settings.get("namespace") or "seamline"
    if not isinstance(url, str) or not url.strip():
        raise PermanentError("the catalog_url setting is missing")
    url = url.strip()
    if url.startswith("sqlite:"):
        if not url.startswith("sqlite:////"):
            raise PermanentError("catalog_url must name an absolute SQLite path: sqlite:////…")
    elif not _POSTGRES.match(url):
        raise PermanentError("catalog_url must be a sqlite://// or postgresql:// URL")
    if not isinstance(warehouse, str) or not warehouse.strip():
        raise PermanentError("the warehouse setting is missing")
    if not Path(warehouse.strip()).is_absolute():
        raise PermanentError(f"warehouse must be an absolute path, got {warehouse!r}")
    if not isinstance(namespace, str) or not _NAMESPACE.fullmatch(namespace):
        raise PermanentError(
            f"namespace must be lower-case letters, digits and _ (at most 63), got {namespace!r}"
        )
    return url, str(Path(warehouse.strip())), namespace


def _message(payload: Mapping[str, Any]) -> Mapping[str, Any]:
    inner = payload.get("event")
    return inner if isinstance(inner, Mapping) else payload


DESTINATION = Destination(
    slug="iceberg",
    name="Apache Iceberg",
    description="Load every event into Apache Iceberg tables, in Segment's warehouse schema.",
    settings={
        "catalog_url": Setting(
            label="Catalog URL",
            description="The SQL catalog's database: sqlite:////var/lib/seamline/iceberg.db or "
            "postgresql://user:password@host:5432/database.",
            required=True,
            secret=True,
        ),
        "warehouse": Setting(
            label="Warehouse path",
            description="Absolute path of the directory the tables' files are written under.",
            required=True,
        ),
        "namespace": Setting(
            label="Namespace",
            description="The Iceberg namespace for this source's tables, created if missing.",
            default="seamline",
        ),
        "profiles_sync_namespace": Setting(
            label="Profiles Sync namespace",
            description="Write Profiles Sync's tables (id_graph_updates, user_traits, …) into "
            "this namespace of the catalog too (not the events' one), created if missing; "
            "empty: no Profiles Sync.",
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
    test_authentication=check_catalog,
    delete=delete_person,
    presets=(Preset(name="Load every event", action="load_events", trigger=_EVERY_MESSAGE),),
)
