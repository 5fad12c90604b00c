"""Destination instances and their subscriptions as workspace resources.

A `destination` resource is an instance of a catalog destination (`type` = its slug) with its
settings, filters and sampling; a `subscription` binds one of its actions to an FQL trigger
and a mapping. Both are checked against the catalog definition when saved: unknown settings
or fields, missing required ones, bad FQL and bad mappings are refused with the reason.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import msgspec

from seamline.access.sealing import HIDDEN, Sealer, is_sealed
from seamline.destinations.addresses import PUBLIC_ONLY, AddressPolicy, url_refusal
from seamline.destinations.mapping import check_mapping, default_mapping
from seamline.destinations.registry import load
from seamline.errors import InvalidInput, UrlNotAllowed
from seamline.spec.fql import compile_fql

Lookup = Callable[[str, str], dict[str, Any] | None]
"""(kind, name) → the stored (or about to be stored) document of another resource."""


class Filters(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    """Segment's destination filters: drop events matching `drop`, or keep only `allow`ed
    properties, or remove `deny`ed ones."""

    drop: str | None = None
    allow_properties: list[str] | None = None
    deny_properties: list[str] = []


class DestinationInstance(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    type: str
    settings: dict[str, Any] = {}
    enabled: bool = True
    filters: Filters = msgspec.field(default_factory=Filters)
    sample_rate: float = 1.0
    # Requests in flight per instance. One at a time, a tool ~2 ms away takes ~450 events/s;
    # actions that need order claim only a person's oldest pending row, so this is safe.
    concurrency: int = 4
    rate_limit: float | None = None


class Subscription(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    destination: str
    action: str
    trigger: str | None = None
    mapping: dict[str, Any] | None = None
    enabled: bool = True


def normalise_destination(
    name: str, document: dict[str, Any], policy: AddressPolicy = PUBLIC_ONLY
) -> dict[str, Any]:
    instance = _convert(DestinationInstance, "destination", name, document)
    definition = load(instance.type)
    unknown = set(instance.settings) - set(definition.settings)
    if unknown:
        raise InvalidInput(
            f"destination {name!r}: {definition.name} has no setting {sorted(unknown)[0]!r}; "
            f"its settings are {', '.join(definition.settings)}"
        )
    for key, setting in definition.settings.items():
        value = instance.settings.get(key)
        if setting.required and value in (None, ""):
            raise InvalidInput(f"destination {name!r}: setting {key!r} is required")
        if setting.secret and value is not None and not isinstance(value, str | dict):
            raise InvalidInput(f"destination {name!r}: setting {key!r} must be text")
        if is_sealed(value) and not setting.secret:
            raise InvalidInput(f"destination {name!r}: setting {key!r} is not a secret")
    if not 0 < instance.sample_rate <= 1:
        raise InvalidInput(f"destination {name!r}: sample_rate must be in (0, 1]")
    if not 1 <= instance.concurrency <= 64:
        raise InvalidInput(f"destination {name!r}: concurrency must be 1 to 64")
    if instance.filters.drop:
        compile_fql(instance.filters.drop)
    for key, setting in definition.settings.items():
        value = instance.settings.get(key)
        if setting.target and isinstance(value, str) and value != HIDDEN:
            # A secret URL (Slack's webhook) is not repeated in the error.
            _check_target(f"destination {name!r}", f"settings.{key}", value, policy, setting.secret)
    plain = msgspec.to_builtins(instance)
    assert isinstance(plain, dict)
    return plain


def normalise_subscription(
    name: str, document: dict[str, Any], lookup: Lookup, policy: AddressPolicy = PUBLIC_ONLY
) -> dict[str, Any]:
    subscription = _convert(Subscription, "subscription", name, document)
    instance = lookup("destination", subscription.destination)
    if instance is None:
        raise InvalidInput(
            f"subscription {name!r}: no destination named {subscription.destination!r}"
        )
    definition = load(str(instance["type"]))
    action = definition.actions.get(subscription.action)
    if action is None:
        raise InvalidInput(
            f"subscription {name!r}: {definition.name} has no action {subscription.action!r}; "
            f"its actions are {', '.join(definition.actions)}"
        )
    trigger = subscription.trigger or action.default_trigger
    compile_fql(trigger)
    # A field the user's mapping leaves out keeps its default mapping, as in Segment.
    mapping = {**default_mapping(action.fields), **(subscription.mapping or {})}
    check_mapping(mapping, action.fields)
    for key, spec in action.fields.items():
        value = mapping.get(key)
        if spec.target and isinstance(value, str):
            _check_target(f"subscription {name!r}", f"mapping.{key}", value, policy)
    return {
        "destination": subscription.destination,
        "action": subscription.action,
        "trigger": trigger,
        "mapping": mapping,
        "enabled": subscription.enabled,
    }


def _check_target(
    resource: str, where: str, url: str, policy: AddressPolicy, secret: bool = False
) -> None:
    """Refuse a literal URL that no request may go to. Names are not resolved here (a name
    that resolves to a refused address is refused when the connection is made)."""
    refusal = url_refusal(url, policy)
    if refusal is not None:
        shown = "the URL" if secret else repr(url)
        raise UrlNotAllowed(
            f"{resource}: {where}: {shown} is not allowed: {refusal}",
            details={"field": where},
        )


def hidden(document: dict[str, Any]) -> dict[str, Any]:
    """A destination document as the API shows it: sealed secrets as `[secret]`."""
    settings = {
        key: HIDDEN if is_sealed(value) else value
        for key, value in (document.get("settings") or {}).items()
    }
    return {**document, "settings": settings}


def _convert(kind: type[msgspec.Struct], label: str, name: str, document: dict[str, Any]) -> Any:
    try:
        return msgspec.convert(document, kind)
    except msgspec.ValidationError as error:
        raise InvalidInput(f"{label} {name!r}: {error}") from None


def seal_settings(
    document: dict[str, Any], previous: dict[str, Any] | None, sealer: Sealer
) -> dict[str, Any]:
    """The destination document with its secret settings sealed. A secret sent as `[secret]`,
    or unchanged from `previous`, keeps its stored seal (so re-applying a file is no change)."""
    secrets = load(str(document["type"])).secret_settings()
    before = (previous or {}).get("settings") or {}
    settings = dict(document.get("settings") or {})
    for key in secrets:
        value = settings.get(key)
        old = before.get(key)
        if value is None or is_sealed(value):
            continue
        if value == HIDDEN:
            if old is None:
                raise InvalidInput(f"setting {key!r} has no stored value to keep; send it")
            settings[key] = old
        elif is_sealed(old) and sealer.unseal(old) == value:
            settings[key] = old
        else:
            settings[key] = sealer.seal(str(value))
    return {**document, "settings": settings}
