"""Computed traits and audiences as typed definitions, parsed from JSON/YAML documents.

One definition feeds both engines (`realtime` and `batch`), so its meaning is fixed here:

- Values compare by JSON type, as FQL's strict `=` does: a string condition matches string
  values, a number condition numbers (booleans are not numbers), a boolean booleans. `!=` and
  `not_contains` are the negations of `=` and `contains`, so they also match a missing value.
- A window of N seconds holds events with `timestamp >= now - N`; no window is all time.
- A computed trait has no value (null) for a profile without matching events in its window.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from seamline.errors import InvalidInput

Scalar = str | float | bool

OPERATORS = (
    "=", "!=", ">", ">=", "<", "<=",
    "contains", "not_contains", "starts_with", "ends_with", "exists", "not_exists",
)  # fmt: skip
_ALIASES = {
    "==": "=", "equals": "=", "not_equals": "!=", "gt": ">", "gte": ">=", "lt": "<", "lte": "<=",
}  # fmt: skip
_NUMERIC = (">", ">=", "<", "<=")
_TEXT = ("contains", "not_contains", "starts_with", "ends_with")
_PRESENCE = ("exists", "not_exists")

TRAIT_KINDS = (
    "event_counter", "aggregation", "most_frequent", "first", "last",
    "unique_list", "unique_list_count",
)  # fmt: skip
AGGREGATIONS = ("sum", "avg", "min", "max")
VALUE_TYPES = ("string", "number")
MAX_SEQUENCE_STEPS = 3
_KEY = re.compile(r"^[a-z][a-z0-9_]{0,99}$")
_WINDOW_TEXT = re.compile(r"^(\d+)\s*([dhm])$")
_UNIT_SECONDS = {"days": 86400, "hours": 3600, "minutes": 60, "d": 86400, "h": 3600, "m": 60}


@dataclass(frozen=True)
class Compare:
    """`path op value` on an event property, a profile trait or an account trait."""

    path: str
    op: str
    value: Scalar | None = None


@dataclass(frozen=True)
class EventFilter:
    """Track events named `event` whose properties meet every `where` comparison."""

    event: str
    where: tuple[Compare, ...] = ()


@dataclass(frozen=True)
class ComputedTrait:
    key: str
    kind: str
    events: EventFilter
    property: str | None = None
    function: str | None = None
    value_type: str = "string"
    window: int | None = None  # seconds; None is all time


@dataclass(frozen=True)
class All:
    parts: tuple[Condition, ...]


@dataclass(frozen=True)
class AnyOf:
    parts: tuple[Condition, ...]


@dataclass(frozen=True)
class Not:
    part: Condition


@dataclass(frozen=True)
class Performed:
    """Matching events counted in the window compare to `count` with `op` (>=, <= or =)."""

    events: EventFilter
    op: str = ">="
    count: int = 1
    window: int | None = None


@dataclass(frozen=True)
class TraitIs:
    """A profile trait, or a computed trait or audience of the workspace, by its key."""

    compare: Compare


@dataclass(frozen=True)
class InAudience:
    key: str


@dataclass(frozen=True)
class AccountIs:
    """Some account (group) the profile belongs to has a trait meeting `compare`."""

    compare: Compare


@dataclass(frozen=True)
class Sequence:
    """Each step's event strictly after the previous one's, the last at most `within` seconds
    after the first; with `window`, the first step inside it."""

    steps: tuple[EventFilter, ...]
    within: int
    window: int | None = None


Condition = All | AnyOf | Not | Performed | TraitIs | InAudience | AccountIs | Sequence


@dataclass(frozen=True)
class Audience:
    key: str
    condition: Condition


# -- parsing ------------------------------------------------------------------------------------


def parse_trait(key: str, document: Any) -> ComputedTrait:
    """A computed trait from its document; InvalidInput names the offending field."""
    _check_key(key)
    doc = _mapping(document, "trait")
    _only(doc, {"kind", "event", "where", "property", "function", "value_type", "window"}, "")
    kind = _choice(doc.get("kind"), TRAIT_KINDS, "kind")
    events = EventFilter(_text(doc.get("event"), "event"), _where(doc.get("where"), "where"))
    window = _window(doc.get("window"), "window")
    if kind == "event_counter":
        if doc.get("property") is not None or doc.get("function") is not None:
            raise InvalidInput("event_counter counts events: drop `property` and `function`")
        return ComputedTrait(key, kind, events, window=window)
    prop = _text(doc.get("property"), "property")
    function = None
    value_type = "number"
    if kind == "aggregation":
        function = _choice(doc.get("function"), AGGREGATIONS, "function")
        if doc.get("value_type", "number") != "number":
            raise InvalidInput("value_type: aggregations read numbers")
    else:
        if doc.get("function") is not None:
            raise InvalidInput(f"function: only aggregation takes one, not {kind}")
        value_type = _choice(doc.get("value_type", "string"), VALUE_TYPES, "value_type")
    return ComputedTrait(key, kind, events, prop, function, value_type, window)


def parse_audience(key: str, document: Any) -> Audience:
    """An audience from `{"condition": …}`; InvalidInput names the offending path."""
    _check_key(key)
    doc = _mapping(document, "audience")
    _only(doc, {"condition"}, "")
    if "condition" not in doc:
        raise InvalidInput("condition: required (performed, trait, audience, all, any, …)")
    return Audience(key, _condition(doc["condition"], "condition"))


def _condition(document: Any, at: str) -> Condition:
    doc = _mapping(document, at)
    if len(doc) != 1:
        raise InvalidInput(f"{at}: one of all, any, not, performed, not_performed, trait, "
                           "audience, account, sequence per condition")  # fmt: skip
    (name, body), = doc.items()  # fmt: skip
    here = f"{at}.{name}"
    if name in ("all", "any"):
        if not isinstance(body, list) or not body:
            raise InvalidInput(f"{here}: a non-empty list of conditions")
        parts = tuple(_condition(part, f"{here}[{i}]") for i, part in enumerate(body))
        return All(parts) if name == "all" else AnyOf(parts)
    if name == "not":
        return Not(_condition(body, here))
    if name in ("performed", "not_performed"):
        return _performed(_mapping(body, here), here, negative=name == "not_performed")
    if name == "trait":
        return TraitIs(_compare(body, here, "name"))
    if name == "account":
        return AccountIs(_compare(body, here, "name"))
    if name == "audience":
        if isinstance(body, dict):
            _only(body, {"key"}, here)
            body = body.get("key")
        return InAudience(_text(body, here))
    if name == "sequence":
        return _sequence(_mapping(body, here), here)
    raise InvalidInput(f"{at}: unknown condition {name!r}")


def _performed(doc: dict[str, Any], at: str, *, negative: bool) -> Performed:
    counts = {"at_least": ">=", "at_most": "<=", "exactly": "="}
    allowed = {"event", "where", "within"} | (set() if negative else set(counts))
    _only(doc, allowed, at)
    events = EventFilter(_text(doc.get("event"), f"{at}.event"), _where(doc.get("where"), at))
    window = _window(doc.get("within"), f"{at}.within")
    if negative:
        return Performed(events, "=", 0, window)
    given = [(op, doc[name], name) for name, op in counts.items() if name in doc]
    if len(given) > 1:
        raise InvalidInput(f"{at}: give one of at_least, at_most, exactly")
    op, count, name = given[0] if given else (">=", 1, "at_least")
    if isinstance(count, bool) or not isinstance(count, int) or count < 0:
        raise InvalidInput(f"{at}.{name}: a whole number ≥ 0, not {count!r}")
    return Performed(events, op, count, window)


def _sequence(doc: dict[str, Any], at: str) -> Sequence:
    _only(doc, {"steps", "within", "during"}, at)
    steps = doc.get("steps")
    if not isinstance(steps, list) or not 2 <= len(steps) <= MAX_SEQUENCE_STEPS:
        raise InvalidInput(f"{at}.steps: a list of 2 to {MAX_SEQUENCE_STEPS} events")
    parsed = []
    for i, step in enumerate(steps):
        here = f"{at}.steps[{i}]"
        step_doc = {"event": step} if isinstance(step, str) else _mapping(step, here)
        _only(step_doc, {"event", "where"}, here)
        parsed.append(
            EventFilter(
                _text(step_doc.get("event"), f"{here}.event"), _where(step_doc.get("where"), here)
            )
        )
    within = _window(doc.get("within"), f"{at}.within")
    if within is None:
        raise InvalidInput(f"{at}.within: required, the longest time from first to last step")
    return Sequence(tuple(parsed), within, _window(doc.get("during"), f"{at}.during"))


def _where(document: Any, at: str) -> tuple[Compare, ...]:
    if document is None:
        return ()
    if not isinstance(document, list):
        raise InvalidInput(f"{at}.where: a list of {{property, op, value}}")
    return tuple(_compare(c, f"{at}.where[{i}]", "property") for i, c in enumerate(document))


def _compare(document: Any, at: str, subject: str) -> Compare:
    doc = _mapping(document, at)
    _only(doc, {subject, "op", "value"}, at)
    path = _text(doc.get(subject), f"{at}.{subject}")
    raw_op = doc.get("op", "=")
    op = _ALIASES.get(raw_op, raw_op) if isinstance(raw_op, str) else raw_op
    if op not in OPERATORS:
        raise InvalidInput(f"{at}.op: one of {', '.join(OPERATORS)}, not {raw_op!r}")
    value = doc.get("value")
    if op in _PRESENCE:
        if value is not None:
            raise InvalidInput(f"{at}.value: {op} takes no value")
        return Compare(path, op)
    if op in _NUMERIC and not _is_number(value):
        raise InvalidInput(f"{at}.value: {op} compares numbers, not {value!r}")
    if op in _TEXT and not isinstance(value, str):
        raise InvalidInput(f"{at}.value: {op} compares text, not {value!r}")
    if not isinstance(value, str | bool) and not _is_number(value):
        raise InvalidInput(f"{at}.value: a string, number or boolean, not {value!r}")
    return Compare(path, op, float(value) if _is_number(value) else value)  # type: ignore[arg-type]


def _window(document: Any, at: str) -> int | None:
    if document is None:
        return None
    if isinstance(document, str):
        found = _WINDOW_TEXT.match(document.strip())
        if found is None:
            raise InvalidInput(f"{at}: like 30d, 12h or 90m, or {{days: 30}}, not {document!r}")
        seconds = int(found[1]) * _UNIT_SECONDS[found[2]]
    else:
        doc = _mapping(document, at)
        if len(doc) != 1 or next(iter(doc)) not in ("days", "hours", "minutes"):
            raise InvalidInput(f"{at}: one of days, hours or minutes")
        (unit, amount), = doc.items()  # fmt: skip
        if isinstance(amount, bool) or not isinstance(amount, int):
            raise InvalidInput(f"{at}.{unit}: a whole number, not {amount!r}")
        seconds = amount * _UNIT_SECONDS[unit]
    if seconds <= 0:
        raise InvalidInput(f"{at}: must be longer than zero")
    return seconds


def _check_key(key: str) -> None:
    if not _KEY.match(key):
        raise InvalidInput(
            f"key {key!r}: lower-case letters, digits and _ , starting with a letter "
            "(it becomes a trait name on profiles and in destinations)"
        )


def _mapping(document: Any, at: str) -> dict[str, Any]:
    if not isinstance(document, dict):
        raise InvalidInput(f"{at}: an object, not {type(document).__name__}")
    return document


def _only(doc: dict[str, Any], allowed: set[str], at: str) -> None:
    unknown = sorted(set(doc) - allowed)
    if unknown:
        where = f"{at}: " if at else ""
        raise InvalidInput(
            f"{where}unknown field {unknown[0]!r}; known: {', '.join(sorted(allowed))}"
        )


def _text(value: Any, at: str) -> str:
    if not isinstance(value, str) or not value.strip():
        raise InvalidInput(f"{at}: a non-empty string is required")
    return value


def _choice(value: Any, choices: tuple[str, ...], at: str) -> str:
    if value not in choices:
        raise InvalidInput(f"{at}: one of {', '.join(choices)}, not {value!r}")
    return str(value)


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)
