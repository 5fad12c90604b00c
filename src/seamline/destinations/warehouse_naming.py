"""Segment's warehouse naming: how event names become tables and nested keys become columns.

Segment converts collection and property names with its `go-snakecase` package; `snakecase`
is a faithful port (ASCII letters and digits survive, everything else separates words), so a
query written against a Segment warehouse finds the same names here. Nested objects are
flattened with their keys joined by `_` and arrays are stored as JSON text, as Segment's
warehouse connector does for properties, traits and context.
"""

from __future__ import annotations

import functools
import json
from collections.abc import Iterator, Mapping
from datetime import date, datetime
from typing import Any

MAX_NAME = 63
"""PostgreSQL truncates longer identifiers (NAMEDATALEN - 1 bytes); we truncate first, so the
names we compare are the names the server keeps."""

RESERVED_TABLES = frozenset(
    {"aliases", "groups", "accounts", "identifies", "users", "pages", "screens", "tracks"}
    | {"seamline_discards"}
)
EVENT_TABLE_SUFFIX = "_event"
"""Added to an event table named like a reserved table (`Users` → `users_event`)."""


def _lower(c: str) -> bool:
    return "a" <= c <= "z"


def _upper(c: str) -> bool:
    return "A" <= c <= "Z"


def _digit(c: str) -> bool:
    return "0" <= c <= "9"


@functools.lru_cache(maxsize=16_384)
def snakecase(text: str) -> str:
    """`text` in snake_case exactly as Segment's go-snakecase writes it: `inviteYourCustomers`
    → `invite_your_customers`, `Base64Encode` → `base64_encode`, `FOO:BAR` → `foo_bar`."""
    # Cached: a warehouse load names the same few hundred columns thousands of times, and
    # this took ~15 % of every warehouse's load time; the bound keeps odd names from growing it.
    n, i = len(text), 0
    # Already-good prefix: lowercase letters, digits, and `_` before a lowercase letter or digit.
    while i < n and (
        _lower(text[i])
        or _digit(text[i])
        or (text[i] == "_" and i < n - 1 and (_lower(text[i + 1]) or _digit(text[i + 1])))
    ):
        i += 1
    if i == n:
        return text
    if i > 0 and _digit(text[i - 1]):  # a digit followed by an uppercase letter starts a word
        i -= 1
    out = [text[:i]]
    size = i
    while i < n:
        if not (_lower(text[i]) or _upper(text[i]) or _digit(text[i])):
            i += 1
            continue
        if size:
            out.append("_")
        start = i
        while i < n and (_upper(text[i]) or _digit(text[i])):
            i += 1
        upper_run = text[start:i].lower()
        start = i
        while i < n and (_lower(text[i]) or _digit(text[i])):
            i += 1
        word = upper_run + text[start:i]
        out.append(word)
        size += len(word) + 1
    return "".join(out)


def column_name(*path: str) -> str:
    """The column for a nested key path: joined by `_`, snake_cased, cut to `MAX_NAME`."""
    return snakecase("_".join(path))[:MAX_NAME]


def event_table(event: str) -> str | None:
    """The table of a track event (`Order Completed` → `order_completed`); None when the name
    has no letter or digit to keep."""
    name = snakecase(event)[:MAX_NAME]
    if not name:
        return None
    if name in RESERVED_TABLES:
        name = name[: MAX_NAME - len(EVENT_TABLE_SUFFIX)] + EVENT_TABLE_SUFFIX
    return name


def flatten(value: Mapping[str, Any], *prefix: str) -> Iterator[tuple[str, Any]]:
    """(column, value) for every leaf of `value`: nested objects flattened (`address.street` →
    `address_street`), arrays as JSON text, nulls and empty objects left out (Segment creates a
    column only for a non-null value). A name already produced keeps its first value."""
    seen: set[str] = set()
    for name, leaf in _leaves(value, prefix):
        column = column_name(*name)
        if column and column not in seen:
            seen.add(column)
            yield column, leaf


def _leaves(
    value: Mapping[str, Any], prefix: tuple[str, ...]
) -> Iterator[tuple[tuple[str, ...], Any]]:
    for key, item in value.items():
        path = (*prefix, str(key))
        if isinstance(item, Mapping):
            yield from _leaves(item, path)
        elif isinstance(item, list | tuple):
            yield path, to_json(item)
        elif item is not None:
            yield path, item


def to_json(value: Any) -> str:
    """Compact JSON; datetimes (as the pipeline hands them over) in ISO 8601."""
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False, default=_json_default)


def _json_default(value: Any) -> Any:
    if isinstance(value, datetime | date):
        return value.isoformat()
    return str(value)
