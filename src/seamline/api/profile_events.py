"""The Profile API's `/events`: Segment's query parameters and Segment's event item.

Segment documents `start` and `end` (ISO 8601: events after `start`, before `end`), `include`
and `exclude` (comma-separated event names) and `sort` (`asc` or `desc`, descending by
default); each item carries the `external_ids` the event was resolved by.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import msgspec

from seamline.errors import InvalidInput
from seamline.identity.identifiers import identifiers_of
from seamline.identity.rules import IdentityRules
from seamline.spec.messages import ABSENT, Message
from seamline.store.event_window import EventWindow

MAX_NAMES = 100
"""At most this many event names in `include` or `exclude`."""
MAX_NAME = 200
SORTS = {"asc": True, "desc": False}

_json = msgspec.json.Decoder()


def event_window(
    start: str | None,
    end: str | None,
    include: str | None,
    exclude: str | None,
    sort: str | None,
) -> EventWindow:
    """The window the query parameters ask for; InvalidInput names the first bad one."""
    ascending = SORTS.get(sort or "desc")
    if ascending is None:
        raise InvalidInput(f"sort must be asc or desc, not {sort!r}")
    after, before = _instant("start", start), _instant("end", end)
    if after is not None and before is not None and after >= before:
        raise InvalidInput("start must be before end")
    return EventWindow(
        after, before, _names("include", include), _names("exclude", exclude), ascending
    )


def _instant(name: str, text: str | None) -> datetime | None:
    if not text:
        return None
    try:
        found = datetime.fromisoformat(text.strip().replace("Z", "+00:00"))
    except ValueError:
        raise InvalidInput(
            f"{name} must be an ISO 8601 date or time (2018-01-02, 2018-01-02T10:00:00Z),"
            f" not {text[:40]!r}"
        ) from None
    # A date alone, or a time without an offset, is UTC, as every stored timestamp is.
    return found if found.tzinfo is not None else found.replace(tzinfo=UTC)


def _names(name: str, text: str | None) -> tuple[str, ...]:
    if not text:
        return ()
    names = tuple(dict.fromkeys(part.strip() for part in text.split(",") if part.strip()))
    if len(names) > MAX_NAMES:
        raise InvalidInput(f"{name} names at most {MAX_NAMES} events")
    if any(len(part) > MAX_NAME for part in names):
        raise InvalidInput(f"an event name in {name} is longer than {MAX_NAME} characters")
    return names


def cursor_of(row: dict[str, Any]) -> str:
    """The `next` cursor that continues after `row`."""
    return f"{iso(row['timestamp'])}|{row['message_id']}"


def parse_cursor(next_value: str | None) -> tuple[datetime, str] | None:
    """The (timestamp, message id) a `next` cursor continues after."""
    if not next_value:
        return None
    stamp, _, message_id = next_value.partition("|")
    try:
        return datetime.fromisoformat(stamp), message_id
    except ValueError:
        raise InvalidInput("next must be the cursor from the previous page") from None


def iso(value: datetime | None) -> str | None:
    return None if value is None else value.isoformat().replace("+00:00", "Z")


def event_item(row: dict[str, Any], rules: IdentityRules) -> dict[str, Any]:
    """An event-store row as the Profile API shows it, with its `external_ids`."""
    event: dict[str, Any] = {
        "type": row["type"],
        "message_id": row["message_id"],
        "source_id": row["source_id"],
        "timestamp": iso(row["timestamp"]),
        "received_at": iso(row["received_at"]),
        "user_id": row["user_id"],
        "anonymous_id": row["anonymous_id"],
        "external_ids": external_ids(row, rules),
        "related": {"users": row["profile_id"]},
    }
    for name in ("event", "name", "category", "group_id", "previous_id"):
        if row[name] is not None:
            event[name] = row[name]
    for name in ("properties", "traits", "context"):
        if row[name] is not None:
            event[name] = _json.decode(row[name])
    return event


def external_ids(row: dict[str, Any], rules: IdentityRules) -> list[dict[str, str]]:
    """The identifiers the event carries under `rules`, most trusted first, each as it was sent."""
    message = Message(
        type=row["type"],
        user_id=row["user_id"],
        anonymous_id=row["anonymous_id"],
        previous_id=row["previous_id"],
        group_id=row["group_id"],
        properties=_raw(row["properties"]),
        traits=_raw(row["traits"]),
        context=_raw(row["context"]),
    )
    return [
        {"collection": "users", "type": found.type, "id": found.sent, "encoding": "none"}
        for found in identifiers_of(message, rules)
    ]


def _raw(text: str | bytes | None) -> msgspec.Raw:
    return ABSENT if text is None else msgspec.Raw(text)
