"""A destination is data plus functions: its settings, its actions (fields with default
mappings, `perform`, optionally `perform_batch`) and presets (default subscriptions).

Everything a user configures is declared here once: the field declarations give the payload's
validation, the JSON Schema a console renders and the defaults a new subscription starts from.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal, NamedTuple

from seamline.destinations.http import Http

if TYPE_CHECKING:
    from seamline.privacy.subject import Person

FieldType = Literal["string", "text", "number", "integer", "boolean", "datetime", "object"]


@dataclass(frozen=True)
class Field:
    """One field of an action's payload, with the mapping a new subscription starts from."""

    label: str
    description: str
    type: FieldType
    required: bool = False
    multiple: bool = False
    default: Any = None  # a mapping: {"@path": "$.userId"}, a literal, or None
    choices: tuple[str, ...] = ()
    properties: Mapping[str, Field] = field(default_factory=dict)
    target: bool = False
    """The URL requests are sent to: a literal one is checked when the subscription is saved
    (see `destinations.addresses`)."""


@dataclass(frozen=True)
class Setting:
    """One setting of a destination instance; `secret` ones are encrypted at rest and never
    shown back."""

    label: str
    description: str
    type: Literal["string", "number", "boolean", "object"] = "string"
    required: bool = False
    secret: bool = False
    default: Any = None
    target: bool = False
    """The URL (or base URL) requests are sent to: checked when the instance is saved."""


class Subscribed(NamedTuple):
    """One enabled subscription of the instance: its action and its mapping as configured."""

    action: str
    mapping: Mapping[str, Any]


@dataclass
class Context:
    """What an action is given besides its payload: the instance's settings, an HTTP client
    that classifies failures, and a per-instance cache (connections, tokens). `subscriptions`
    is given to `delete`, which may need to know where people were sent (a Meta audience id,
    a webhook URL) because that is mapped per subscription, not set on the instance."""

    settings: Mapping[str, Any]
    http: Http
    state: dict[str, Any] = field(default_factory=dict)
    subscriptions: Sequence[Subscribed] = ()

    def mapped_literals(self, key: str, action: str | None = None) -> list[Any]:
        """The literal values the subscriptions (of `action`, or all) map `key` to, each once:
        a path or a condition depends on the event, so it names no fixed place."""
        found: list[Any] = []
        for subscribed in self.subscriptions:
            value = subscribed.mapping.get(key)
            if action not in (None, subscribed.action) or value is None or value in found:
                continue
            if isinstance(value, Mapping) and any(str(k).startswith("@") for k in value):
                continue
            found.append(value)
        return found


Perform = Callable[[Context, dict[str, Any]], Any]
PerformBatch = Callable[[Context, list[dict[str, Any]]], Any]


@dataclass(frozen=True)
class Action:
    title: str
    description: str
    fields: Mapping[str, Field]
    perform: Perform
    perform_batch: PerformBatch | None = None
    max_batch: int = 1
    default_trigger: str = 'type = "track"'
    ordered: bool = False
    """Deliver in order per profile (one in flight per profile), for tools where a later
    update must not be overtaken by an earlier one."""


@dataclass(frozen=True)
class Preset:
    """A default subscription offered when an instance is created."""

    name: str
    action: str
    trigger: str


@dataclass(frozen=True)
class Destination:
    slug: str
    name: str
    description: str
    settings: Mapping[str, Setting]
    actions: Mapping[str, Action]
    test_authentication: Callable[[Context], None] | None = None
    delete: Callable[[Context, Person], Any] | None = None
    """Delete a person from the tool (a privacy regulation): None when the tool has no way to,
    which the regulation reports as NOT_SUPPORTED. It raises RetryableError or PermanentError
    as actions do, or CannotDelete when this instance's configuration gives nothing to delete
    from. Deleting someone the tool never had is a success."""
    presets: Sequence[Preset] = ()
    rate_limit: float | None = None
    """Requests per second the tool accepts from one account (None: no limit known)."""

    def secret_settings(self) -> frozenset[str]:
        return frozenset(name for name, s in self.settings.items() if s.secret)
