"""A model as a workspace resource (kind `model`): where its rows come from, its query, its
primary key, its schedule and its subscriptions (Segment's mappings), checked when saved.

```yaml
models:
  active-users:
    source: {type: postgres, url: "${CRM_DATABASE_URL}"}   # or {type: events},
    query: SELECT id, email, plan FROM users                #  or {type: warehouse, destination: wh}
    primary_key: id
    schedule: 15m                                           # or "0 6 * * 1-5", or manual
    subscriptions:
      crm-hook: {destination: hook, action: send, sync_mode: mirror,
                 mapping: {data: {"@path": "$."}}}
```

A subscription sends the records its `records` name (`added`, `updated`, `deleted`; the sync
modes `upsert` = added and updated, `mirror` = all three) through one destination action, the
row being the event its mapping reads (`{"@path": "$.email"}`). The PostgreSQL URL is a secret:
sealed at rest like a destination's secret settings, shown as `[secret]`.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Literal

import msgspec

from seamline.access.sealing import HIDDEN, Sealer, is_sealed
from seamline.destinations.addresses import PUBLIC_ONLY, AddressPolicy
from seamline.errors import InvalidInput
from seamline.reverse_etl.schedule import parse_schedule
from seamline.workspace.destination_kinds import Lookup, normalise_subscription

CHANGES = ("added", "updated", "deleted")
SYNC_MODES = {"upsert": ["added", "updated"], "mirror": list(CHANGES)}
READABLE_WAREHOUSES = {"postgres-warehouse": "database_url", "redshift": "database_url"}
"""Warehouse destinations a model may read, with the setting holding their connection URL: the
ones on PostgreSQL's wire, read the same way (a READ ONLY transaction, a server-side cursor;
Redshift has both). The warehouses reached over HTTP are written to, not read, so far."""
MAX_QUERY = 65_535  # Segment's limit on a model's query
MAX_KEY_COLUMN = 191  # and on its unique identifier column's name
MAX_NAME = 100
NEVER = "false"
"""The trigger of a model's subscriptions among the destination's: events never match it."""


class Source(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    type: Literal["postgres", "events", "warehouse"]
    url: str | dict[str, str] | None = None
    destination: str | None = None


class ModelSubscription(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    destination: str
    action: str
    mapping: dict[str, Any] | None = None
    records: list[Literal["added", "updated", "deleted"]] | None = None
    sync_mode: Literal["upsert", "mirror"] | None = None
    enabled: bool = True


class Model(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    source: Source
    query: str
    primary_key: str
    schedule: str = "manual"
    enabled: bool = True
    max_rows: int = 1_000_000
    timeout_seconds: float = 300.0
    subscriptions: dict[str, ModelSubscription] = {}


def normalise_model(
    name: str, document: dict[str, Any], lookup: Lookup, policy: AddressPolicy = PUBLIC_ONLY
) -> dict[str, Any]:
    """The canonical document of model `name`; InvalidInput names the first problem."""
    label = f"model {name!r}"
    if len(name) > MAX_NAME or "/" in name:
        raise InvalidInput(f"{label}: a model's name has at most {MAX_NAME} characters, no '/'")
    try:
        model = msgspec.convert(document, Model)
    except msgspec.ValidationError as error:
        raise InvalidInput(f"{label}: {error}") from None
    if not model.query.strip() or len(model.query) > MAX_QUERY:
        raise InvalidInput(f"{label}: query: write one SELECT of at most {MAX_QUERY} characters")
    if not model.primary_key.strip() or len(model.primary_key) > MAX_KEY_COLUMN:
        raise InvalidInput(f"{label}: primary_key: name the column of 1 to {MAX_KEY_COLUMN} chars")
    parse_schedule(model.schedule)
    if not 1 <= model.max_rows <= 10_000_000:
        raise InvalidInput(f"{label}: max_rows must be 1 to 10,000,000")
    if not 0 < model.timeout_seconds <= 3600:
        raise InvalidInput(f"{label}: timeout_seconds must be more than 0 and at most 3600")
    _check_source(label, model.source, lookup)
    subscriptions = {
        sub_name: _subscription(label, sub_name, sub, lookup, policy)
        for sub_name, sub in sorted(model.subscriptions.items())
    }
    plain = msgspec.to_builtins(model)
    assert isinstance(plain, dict)
    plain["source"] = {k: v for k, v in plain["source"].items() if v is not None}
    plain["subscriptions"] = subscriptions
    return plain


def _check_source(label: str, source: Source, lookup: Lookup) -> None:
    if source.type == "postgres":
        url = source.url
        if url is None or source.destination is not None:
            raise InvalidInput(f"{label}: source: a postgres source has a `url` and nothing else")
        if (
            isinstance(url, str)
            and url != HIDDEN
            and not url.startswith(("postgresql://", "postgres://", "postgresql+psycopg://"))
        ):
            raise InvalidInput(f"{label}: source.url: write postgresql://user:password@host/db")
        if isinstance(url, dict) and not is_sealed(url):
            raise InvalidInput(f"{label}: source.url: must be text")
    elif source.type == "events":
        if source.url is not None or source.destination is not None:
            raise InvalidInput(f"{label}: source: the events source takes no settings")
    else:
        if source.destination is None or source.url is not None:
            raise InvalidInput(f"{label}: source: a warehouse source names its `destination`")
        found = lookup("destination", source.destination)
        if found is None:
            raise InvalidInput(f"{label}: source: no destination named {source.destination!r}")
        if found.get("type") not in READABLE_WAREHOUSES:
            raise InvalidInput(
                f"{label}: source: destination {source.destination!r} is a {found.get('type')}, "
                f"which cannot be read; readable: {', '.join(READABLE_WAREHOUSES)}"
            )


def _subscription(
    label: str, name: str, sub: ModelSubscription, lookup: Lookup, policy: AddressPolicy
) -> dict[str, Any]:
    where = f"{label}: subscriptions.{name}"
    if not name or len(name) > MAX_NAME or "/" in name:
        raise InvalidInput(f"{where}: a name has 1 to {MAX_NAME} characters, no '/'")
    if sub.records is not None and sub.sync_mode is not None:
        raise InvalidInput(f"{where}: give `records` or `sync_mode`, not both")
    chosen = SYNC_MODES[sub.sync_mode or "upsert"] if sub.records is None else sub.records
    if not chosen:
        raise InvalidInput(f"{where}: records: name at least one of {', '.join(CHANGES)}")
    try:
        # The checks a destination subscription gets: the action exists, the mapping compiles
        # and fits its fields (defaults filled in), literal URLs may be reached.
        checked = normalise_subscription(
            name,
            {
                "destination": sub.destination,
                "action": sub.action,
                "trigger": NEVER,
                "mapping": sub.mapping,
            },
            lookup,
            policy,
        )
    except InvalidInput as error:
        error.message = f"{where}: {error.message.removeprefix(f'subscription {name!r}: ')}"
        error.args = (error.message,)
        raise
    return {
        "destination": sub.destination,
        "action": sub.action,
        "records": [change for change in CHANGES if change in chosen],
        "mapping": checked["mapping"],
        "enabled": sub.enabled,
    }


def subscription_name(model: str, subscription: str) -> str:
    """The name a model's subscription goes by among its destination's subscriptions (the
    outbox, delivery counts, dead letters)."""
    return f"model:{model}/{subscription}"


def destination_subscriptions(models: Mapping[str, dict[str, Any]]) -> dict[str, dict[str, Any]]:
    """Every model's subscriptions as destination subscriptions, whose trigger no event
    matches: the delivery workers find their actions, the route stage sends them nothing."""
    return {
        subscription_name(model, name): {
            "destination": sub["destination"],
            "action": sub["action"],
            "trigger": NEVER,
            "mapping": sub["mapping"],
            "enabled": sub.get("enabled", True),
        }
        for model, doc in models.items()
        for name, sub in (doc.get("subscriptions") or {}).items()
    }


def seal_model(
    document: dict[str, Any], previous: dict[str, Any] | None, sealer: Sealer
) -> dict[str, Any]:
    """The model with its PostgreSQL URL sealed. `[secret]`, or the stored URL sent again,
    keeps the stored seal (re-applying a file is no change)."""
    source = dict(document.get("source") or {})
    url = source.get("url")
    if url is None or is_sealed(url):
        return document
    old = ((previous or {}).get("source") or {}).get("url")
    if url == HIDDEN:
        if old is None:
            raise InvalidInput("source.url: there is no stored URL to keep; send it")
        source["url"] = old
    elif is_sealed(old) and sealer.unseal(old) == url:
        source["url"] = old
    else:
        source["url"] = sealer.seal(str(url))
    return {**document, "source": source}


def hidden_model(document: dict[str, Any]) -> dict[str, Any]:
    """A model as the API shows it: a sealed URL as `[secret]`."""
    source = document.get("source") or {}
    if not is_sealed(source.get("url")):
        return document
    return {**document, "source": {**source, "url": HIDDEN}}
