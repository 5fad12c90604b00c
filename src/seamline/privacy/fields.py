"""Walking a message's fields, classifying each, and applying PII controls to them.

Field paths are written as the data inventory shows them: `properties.email`,
`properties.products[].sku`, `context.traits.phone`. A field whose *name* marks it as personal
data (an `address` object) is classified and controlled as a whole, without descending.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator, Sequence
from typing import Any

import msgspec

from seamline.privacy.controls import DROPPED, apply_control
from seamline.privacy.pii import Classification, Match, Matcher, classification_of, field_key

PARTS = ("properties", "traits", "context")
# Every value matcher (email, card, IBAN, SSN, phone, IP) needs a digit or an @; checking for
# one first skips the matchers for most text at the cost of one C-level regex scan.
_MAY_BE_PII = re.compile(r"[\d@]").search


class PiiControl(msgspec.Struct, forbid_unknown_fields=True, kw_only=True, frozen=True):
    """`control` for fields of a `kind` (email …) or of a `classification` (red …); with no
    `destinations` it applies before anything is stored, else only on the way to them."""

    control: str
    kind: str | None = None
    classification: Classification | None = None
    destinations: list[str] = []

    def selects(self, match: Match) -> bool:
        return match.kind == self.kind if self.kind else match.classification == self.classification


class Field(msgspec.Struct, frozen=True):
    path: str
    holder: Any  # the dict or list that holds the value
    key: Any  # its key or index there
    value: Any


def fields(message: dict[str, Any], parts: Sequence[str] = PARTS) -> Iterator[Field]:
    """Every leaf field of the free-form parts, and every object or list under a key."""
    for part in parts:
        node = message.get(part)
        if isinstance(node, dict):
            yield from _walk(part, node)


def _walk(prefix: str, node: dict[str, Any] | list[Any]) -> Iterator[Field]:
    items = node.items() if isinstance(node, dict) else enumerate(node)
    for key, value in items:
        path = f"{prefix}.{key}" if isinstance(node, dict) else f"{prefix}[]"
        yield Field(path, node, key, value)
        if isinstance(value, dict | list):
            yield from _walk(path, value)


class FieldClassifier:
    """Classifies fields by name (once per path, remembered) and by value (every time)."""

    def __init__(self, matchers: Sequence[Matcher]) -> None:
        self._matchers = tuple(matchers)
        self._value_matchers = tuple(m for m in self._matchers if m.value is not None)
        self._by_name: dict[str, list[Match]] = {}

    def by_name(self, path: str) -> list[Match]:
        found = self._by_name.get(path)
        if found is None:
            key = field_key(path.replace("[]", ""))
            found = [
                Match(m.kind, m.classification, "name")
                for m in self._matchers
                if m.matches_name(key)
            ]
            self._by_name[path] = found
        return found

    def classify(self, path: str, value: Any) -> list[Match]:
        named = self.by_name(path)
        if named or not isinstance(value, str) or not _MAY_BE_PII(value):
            return named
        text = value.strip()
        return [
            Match(m.kind, m.classification, "value")
            for m in self._value_matchers
            if m.matches_value(text)
        ]


Blocked = str
"""The name of the control that blocks the whole message."""


def control_fields(
    message: dict[str, Any],
    classifier: FieldClassifier,
    controls: Sequence[PiiControl],
    salt: bytes,
    observe: Callable[[str, list[Match]], None] | None = None,
) -> tuple[bool, Blocked | None]:
    """Apply `controls` to the message in place; returns (changed, blocking control's kind).

    `observe` is told every field's path and matches (the data inventory listens there).
    """
    changed = False
    skip: set[int] = set()
    for field in list(fields(message)):
        if id(field.holder) in skip:
            # Inside a value a control already replaced or removed as a whole.
            if isinstance(field.value, dict | list):
                skip.add(id(field.value))
            continue
        matches = classifier.classify(field.path, field.value)
        if observe is not None:
            observe(field.path, matches)
        if not matches:
            continue
        for control in controls:
            match = next((m for m in matches if control.selects(m)), None)
            if match is None or control.control == "allow":
                continue
            if control.control == "block":
                return changed, match.kind
            if isinstance(field.value, dict | list):
                skip.add(id(field.value))
            value = field.value
            if isinstance(value, dict | list):
                value = msgspec.json.encode(value).decode()
            result = apply_control(control.control, match.kind, value, salt)
            if result is DROPPED:
                _remove(field)
            else:
                field.holder[field.key] = result
            changed = True
            break
    return changed, None


def classification(matches: list[Match]) -> tuple[Classification, str | None]:
    """The field's classification and the kind that gave it (None when green)."""
    level = classification_of(matches)
    kind = next((m.kind for m in matches if m.classification == level), None)
    return level, kind


def _remove(field: Field) -> None:
    if isinstance(field.holder, dict):
        field.holder.pop(field.key, None)
    else:
        field.holder[field.key] = None  # keep list positions stable
