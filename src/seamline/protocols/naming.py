"""Naming conventions for event names and property and trait keys: flag or fix them.

Segment recommends "Object Action" event names: Title Case words, the object then the action in
the past tense (`Order Completed`, `Signed Up`); Seamline checks the form (Title Case, at least
two words), not the grammar. Keys are usually snake_case or camelCase.

`to_case` splits a name into words at spaces, `_`, `-` and other separators, at a lower-to-upper
change (`orderCompleted`) and before the last capital of an acronym (`HTMLParser` → HTML Parser);
digits stay with the word they follow (`address1`). `conforms` checks a name's form, leniently
about acronyms for camelCase and PascalCase (`userID` is camelCase); `to_case` always returns a
conforming name when the text has a letter or digit. Only top-level keys of `properties` (track,
page, screen) and `traits` (identify, group) are checked.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from enum import StrEnum
from functools import lru_cache
from typing import Any, Final, Literal

from seamline.protocols.validate import Violation


class Case(StrEnum):
    OBJECT_ACTION = "object_action"
    TITLE_CASE = "title_case"
    SNAKE_CASE = "snake_case"
    CAMEL_CASE = "camel_case"
    PASCAL_CASE = "pascal_case"
    KEBAB_CASE = "kebab_case"

    @property
    def label(self) -> str:
        """How people write the convention's name: `Object Action`, `camelCase`."""
        return _LABELS[self]


_LABELS: Final = {
    Case.OBJECT_ACTION: "Object Action",
    Case.TITLE_CASE: "Title Case",
    Case.SNAKE_CASE: "snake_case",
    Case.CAMEL_CASE: "camelCase",
    Case.PASCAL_CASE: "PascalCase",
    Case.KEBAB_CASE: "kebab-case",
}
_SEPARATORS: Final = re.compile(r"[\W_]+")


def words(text: str) -> list[str]:
    """The words of a name in any convention: `orderCompleted` → [order, Completed]."""
    found: list[str] = []
    for chunk in _SEPARATORS.split(text):
        start = 0
        for i in range(1, len(chunk)):
            before, here, after = chunk[i - 1], chunk[i], chunk[i + 1 : i + 2]
            if here.isupper() and (not before.isupper() or after.islower()):
                found.append(chunk[start:i])
                start = i
        if chunk[start:]:
            found.append(chunk[start:])
    return found


def to_case(text: str, case: Case) -> str:
    """`text` rewritten in `case`: `order_completed` → `Order Completed` in Object Action."""
    parts = words(text)
    if case in (Case.OBJECT_ACTION, Case.TITLE_CASE):
        return " ".join(_capital(w) for w in parts)
    if case == Case.SNAKE_CASE:
        return "_".join(w.lower() for w in parts)
    if case == Case.KEBAB_CASE:
        return "-".join(w.lower() for w in parts)
    if case == Case.PASCAL_CASE:
        return "".join(_capital(w) for w in parts)
    return "".join(w.lower() if i == 0 else _capital(w) for i, w in enumerate(parts))


def conforms(text: str, case: Case) -> bool:
    """Whether `text` is already written in `case`."""
    if case in (Case.OBJECT_ACTION, Case.TITLE_CASE):
        parts = text.split(" ")
        shaped = all(_WORD.fullmatch(p) and p == _capital(p) for p in parts)
        return shaped and (case == Case.TITLE_CASE or len(parts) >= 2)
    if case in (Case.SNAKE_CASE, Case.KEBAB_CASE):
        joiner = "_" if case == Case.SNAKE_CASE else "-"
        parts = text.split(joiner)
        return all(_WORD.fullmatch(p) and p == p.lower() for p in parts)
    if not _WORD.fullmatch(text):
        return False
    return not text[0].isupper() if case == Case.CAMEL_CASE else not text[0].islower()


_WORD: Final = re.compile(r"[^\W_]+")


def _capital(word: str) -> str:
    return word[:1].upper() + word[1:].lower()


# Streams repeat the same few hundred names: remembering verdicts makes a check of a conforming
# message with 7 names ~6x faster (9.8 → 1.7 µs, benchmarks/plans.py); bounded against junk keys.
_known = lru_cache(maxsize=8192)(conforms)


@dataclass(frozen=True)
class NamingResult:
    """`violations`: names still breaking the rules in `message`; `fixed`: those renamed (fix
    mode). `message` is the input itself when nothing was renamed, else a new dict."""

    violations: tuple[Violation, ...]
    fixed: tuple[Violation, ...]
    message: dict[str, Any]


_KEYS_OF: Final = {
    "track": "properties",
    "page": "properties",
    "screen": "properties",
    "identify": "traits",
    "group": "traits",
}


@dataclass(frozen=True)
class NamingRules:
    """Which convention event names, property keys and trait keys follow (None: any), and
    whether a break is only flagged or also fixed. A fix never overwrites an existing key."""

    events: Case | None = None
    properties: Case | None = None
    traits: Case | None = None
    mode: Literal["flag", "fix"] = "flag"

    def check(self, message: dict[str, Any]) -> NamingResult:
        """Flag (and in fix mode, rename) the names in `message` that break the rules."""
        broken: list[Violation] = []
        fixed: list[Violation] = []
        changes: dict[str, Any] = {}
        event = message.get("event") if message.get("type") == "track" else None
        if self.events and isinstance(event, str) and not _known(event, self.events):
            violation = _violation("event", event, self.events)
            better = to_case(event, self.events)
            if self.mode == "fix" and conforms(better, self.events):
                changes["event"] = better
                fixed.append(violation)
            else:
                broken.append(violation)
        section = _KEYS_OF.get(str(message.get("type")))
        case = self.traits if section == "traits" else self.properties
        fields = message.get(section) if section else None
        if case and section and isinstance(fields, dict):
            renamed = self._keys(section, fields, case, broken, fixed)
            if renamed is not fields:
                changes[section] = renamed
        message = {**message, **changes} if changes else message
        return NamingResult(tuple(broken), tuple(fixed), message)

    def _keys(
        self,
        section: str,
        fields: dict[str, Any],
        case: Case,
        broken: list[Violation],
        fixed: list[Violation],
    ) -> dict[str, Any]:
        """`fields` with keys renamed to `case` where that clashes with no other key."""
        renames: dict[str, str] = {}
        taken = set(fields)
        for key in fields:
            if not isinstance(key, str) or _known(key, case):
                continue
            violation = _violation(f"{section}.{key}", key, case)
            better = to_case(key, case)
            if self.mode == "fix" and better not in taken and conforms(better, case):
                renames[key] = better
                taken.add(better)
                fixed.append(violation)
            else:
                broken.append(violation)
        if not renames:
            return fields
        return {renames.get(key, key): value for key, value in fields.items()}


def _violation(path: str, name: str, case: Case) -> Violation:
    return Violation(path, "naming", case.label, json.dumps(name, ensure_ascii=False))
