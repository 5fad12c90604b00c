"""What the ads destinations (TikTok, Snap, Pinterest, Reddit, Google Ads, LinkedIn, Meta
Custom Audiences) share: reading an event's time, naming a Segment e-commerce event in a tool's
vocabulary, sending a batch so that each payload gets its own outcome, reading an audience
change and grouping a batch of them, and the standard events' default triggers and presets.

Ads APIs refuse a whole request for one bad event (an event too old, a missing identifier),
so each payload is built and checked first: a payload that breaks a rule gets its own
InvalidPayload outcome and the others are still sent, in requests of the tool's size.
"""

from __future__ import annotations

import datetime as dt
import re
import time
from collections.abc import Callable, Mapping, Sequence
from typing import Any, TypeVar

from seamline.destinations.definition import Preset
from seamline.destinations.errors import DeliveryError, InvalidPayload, PermanentError
from seamline.destinations.shaping import batch_place, first_of

Built = TypeVar("Built")
Member = TypeVar("Member")
Outcome = DeliveryError | None

# Segment's Spec (e-commerce, B2B SaaS, mobile) names of the events ads tools have standard
# events for; each destination maps these keys to its own names.
SPEC_EVENTS = (
    "page",
    "Products Searched",
    "Product Viewed",
    "Product List Viewed",
    "Product Added",
    "Product Added to Wishlist",
    "Checkout Started",
    "Payment Info Entered",
    "Order Completed",
    "Signed Up",
    "Lead Generated",
    "Subscription Created",
    "Trial Started",
    "Application Installed",
    "Application Opened",
)


def standard_trigger(standard: Mapping[str, str]) -> str:
    """The default trigger of an action sending the standard events: a page, or a track call
    named like one of the Segment events `standard` maps."""
    return " or ".join(
        'type = "page"' if name == "page" else f'event = "{name}"' for name in standard
    )


def standard_presets(standard: Mapping[str, str], action: str) -> tuple[Preset, ...]:
    """One preset per standard event, named "<tool's name> (<Segment event>)", sending it
    through `action`."""
    return tuple(
        Preset(
            f"{tool_name} ({name})",
            action,
            'type = "page"' if name == "page" else f'type = "track" and event = "{name}"',
        )
        for name, tool_name in standard.items()
    )


_PATH_SEGMENT = re.compile(r"[A-Za-z0-9_\-]{1,128}")


def path_segment(value: Any, setting: str) -> str:
    """An id setting that goes into a URL path (an ad account, a pixel), checked so that it
    cannot reach another path; PermanentError names the setting otherwise."""
    text = str(value or "").strip()
    if not _PATH_SEGMENT.fullmatch(text):
        raise PermanentError(f"{setting} must be letters, digits, - or _, got {value!r}")
    return text


def spec_event(payload: Mapping[str, Any]) -> str:
    """The payload's Segment event (`segment_event`, which the default mappings fill with the
    track event or the call's type), "" when it has none."""
    name = payload.get("segment_event")
    return name.strip() if isinstance(name, str) else ""


def event_name(
    payload: Mapping[str, Any], key: str, standard: Mapping[str, str], where: str
) -> str:
    """The tool's event name: the mapped `key` field, else the standard event for the Segment
    event; InvalidPayload when neither gives one."""
    mapped = payload.get(key)
    if isinstance(mapped, str) and mapped.strip():
        return mapped.strip()
    found = standard.get(spec_event(payload))
    if found is None:
        raise InvalidPayload(
            f"no {key} is mapped and {spec_event(payload) or 'this call'!r} is not a Segment "
            f"event with a standard counterpart ({', '.join(standard)}){where}"
        )
    return found


def event_time(value: Any, where: str, max_age: dt.timedelta | None) -> dt.datetime:
    """When an event happened, as an aware datetime (now when unmapped); InvalidPayload when it
    is not a date-time or is older than `max_age`, which the tool would refuse."""
    if value is None or value == "":
        return dt.datetime.now(dt.UTC)
    if isinstance(value, int | float) and not isinstance(value, bool):
        # Unix seconds, or milliseconds when the number is too big to be seconds.
        seconds = value / 1000 if value > 10_000_000_000 else value
        when = dt.datetime.fromtimestamp(seconds, dt.UTC)
    elif isinstance(value, str):
        try:
            when = dt.datetime.fromisoformat(value.strip())
        except ValueError:
            raise InvalidPayload(f"the event time {value!r} is not ISO 8601{where}") from None
    else:
        raise InvalidPayload(f"the event time must be a date-time, got {value!r}{where}")
    if when.tzinfo is None:
        when = when.replace(tzinfo=dt.UTC)
    if max_age is not None and dt.datetime.now(dt.UTC) - when > max_age:
        raise InvalidPayload(f"the event of {when.isoformat()} is older than {max_age}{where}")
    return when


def unix_seconds(when: dt.datetime) -> int:
    return int(when.timestamp())


def now_seconds() -> int:
    return int(time.time())


def where_in(payloads: Sequence[object], index: int) -> str:
    """How an error names a payload: by its place when it is one of several."""
    return batch_place(index, len(payloads))


def send_each(
    payloads: Sequence[Mapping[str, Any]],
    build: Callable[[Mapping[str, Any], str], Built],
    send: Callable[[list[Built]], Sequence[Outcome] | None],
    per_request: int,
) -> list[Outcome]:
    """Build every payload (InvalidPayload becomes that payload's outcome), send the built ones
    `per_request` at a time, and return one outcome per payload: None when sent, else the
    error. `send` raises for the whole request or returns one outcome per item it was given."""
    outcomes: list[Outcome] = [None] * len(payloads)
    built: list[tuple[int, Built]] = []
    for index, payload in enumerate(payloads):
        try:
            built.append((index, build(payload, where_in(payloads, index))))
        except InvalidPayload as error:
            outcomes[index] = error
    for start in range(0, len(built), per_request):
        chunk = built[start : start + per_request]
        try:
            items = send([item for _, item in chunk])
        except DeliveryError as error:
            for index, _ in chunk:
                outcomes[index] = error
            continue
        for (index, _), outcome in zip(chunk, items or [None] * len(chunk), strict=True):
            outcomes[index] = outcome
    return outcomes


def raise_outcome(outcomes: Sequence[Outcome]) -> None:
    """For a `perform` of one payload: its error raised, nothing when it was sent."""
    if outcomes and outcomes[0] is not None:
        raise outcomes[0]


ENTERED, EXITED = "Audience Entered", "Audience Exited"
AUDIENCE_TRIGGER = f'event = "{ENTERED}" or event = "{EXITED}"'


def in_audience(payload: Mapping[str, Any]) -> bool:
    """Whether an audience payload adds the person: `in_audience` when mapped, else the track
    event (Audience Entered adds, Audience Exited removes), else the identify trait named by
    `audience_key`; InvalidPayload when none of them tells."""
    explicit = payload.get("in_audience")
    if isinstance(explicit, bool):
        return explicit
    if payload.get("event_name") in (ENTERED, EXITED):
        return bool(payload["event_name"] == ENTERED)
    key, traits = payload.get("audience_key"), payload.get("traits")
    member = traits.get(key) if isinstance(traits, Mapping) and isinstance(key, str) else None
    if isinstance(member, bool):
        return member
    raise InvalidPayload(
        f"cannot tell whether the person entered or exited: not an {ENTERED} or {EXITED} "
        f"event, in_audience is not set and traits.{key} is not a boolean"
    )


def latest_changes(
    payloads: Sequence[Mapping[str, Any]],
    change: Callable[[Mapping[str, Any]], tuple[str, bool, Member]],
    outcomes: list[Outcome],
) -> dict[tuple[str, bool], list[tuple[Member, list[int]]]]:
    """Audience changes grouped per (list, add rather than remove), each member with the
    indexes of the payloads it answers for. `change` reads a payload as (list, add, member)
    or raises InvalidPayload, which becomes that payload's outcome. The same member of the
    same list again: the later change wins and the earlier payloads are answered with it,
    so a batch never both adds and removes one person."""
    latest: dict[tuple[str, str], tuple[bool, Member, list[int]]] = {}
    for index, payload in enumerate(payloads):
        try:
            audience, add, member = change(payload)
        except InvalidPayload as error:
            outcomes[index] = error
            continue
        key = (audience, repr(member))
        _, _, earlier = latest.pop(key, (add, member, []))
        latest[key] = (add, member, [*earlier, index])
    groups: dict[tuple[str, bool], list[tuple[Member, list[int]]]] = {}
    for (audience, _), (add, member, indexes) in latest.items():
        groups.setdefault((audience, add), []).append((member, indexes))
    return groups


SEGMENT_EVENT = first_of("$.event", "$.type")
"""The default mapping of `segment_event`: the track event's name, else the call's type."""
