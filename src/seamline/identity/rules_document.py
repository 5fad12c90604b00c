"""The identity rules document: a workspace's identity configuration as data, its checks and
the `IdentityRules` it stands for.

```yaml
types:                       # override or add a type's rule (the others keep the defaults)
  phone: {priority: 3, limit: 2, window_seconds: 2592000}
blocked_values: ["", "null", "test@test.com"]   # omitted: the defaults
blocked_patterns: ["^0+$"]
custom:                      # identifier types read from the message
  - {name: customer_number, path: properties.customer_number}
matching: {enabled: false}   # probabilistic matching (identity/matching/config.py checks it)
```

`normalise_identity` gives the canonical form: only the keys above, types sorted by name, each
type with the fields it was given (a field left out keeps the default rule's value), duplicates
removed. Every size is bounded, so a document can neither fill the state store nor stall the
identity stage (see `pattern_safety` for the patterns).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

import msgspec

from seamline.config import Settings
from seamline.errors import InvalidInput
from seamline.identity.pattern_safety import pattern_problem
from seamline.identity.rules import (
    CUSTOM_RULE,
    DEFAULT_BLOCKED,
    DEFAULT_RULES,
    IdentifierRule,
    IdentityRules,
)

KEYS = ("types", "blocked_values", "blocked_patterns", "custom", "matching")
RULE_FIELDS = ("priority", "limit", "window_seconds")

MAX_DOCUMENT_BYTES = 256 * 1024
MAX_TYPES = 100
MAX_PRIORITY = 1000
MAX_LIMIT = 10_000
MAX_WINDOW_SECONDS = 10 * 366 * 24 * 3600
MAX_BLOCKED_VALUES = 1000
MAX_VALUE_LENGTH = 1000  # an identifier value is at most this long (the graph's column)
MAX_PATTERNS = 50
MAX_CUSTOM = 50
MAX_PATH_LENGTH = 300

_TYPE_NAME = re.compile(r"^[a-z0-9_.]{1,100}$")
_PATH = re.compile(r"^(userId|anonymousId|groupId|(properties|traits|context)(\.[^.]+){1,10})$")
_ROOTS = "userId, anonymousId, groupId, properties.…, traits.… or context.…"


class InvalidIdentityRules(InvalidInput):
    """An identity rules document that breaks a documented rule; nothing was saved."""

    code = "invalid_identity_rules"


def built_in_types() -> frozenset[str]:
    """The identifier types Seamline reads itself; a custom type may not take their names."""
    return frozenset(DEFAULT_RULES) | {"group_id"}


def normalise_identity(document: Any) -> dict[str, Any]:
    """The canonical form of an identity rules document; InvalidIdentityRules names the first
    place that breaks a rule (`types.phone.priority: …`)."""
    if document is None:
        document = {}
    if not isinstance(document, Mapping):
        raise InvalidIdentityRules("the identity rules must be a mapping of " + ", ".join(KEYS))
    size = len(msgspec.json.encode(document))
    if size > MAX_DOCUMENT_BYTES:
        raise InvalidIdentityRules(
            f"the identity rules are {size} bytes as JSON; at most {MAX_DOCUMENT_BYTES}"
        )
    unknown = sorted(str(key) for key in document if key not in KEYS)
    if unknown:
        raise InvalidIdentityRules(f"unknown key {unknown[0]!r}; the keys are " + ", ".join(KEYS))
    out: dict[str, Any] = {
        "types": _types(document.get("types")),
        "blocked_patterns": _patterns(document.get("blocked_patterns")),
        "custom": _custom(document.get("custom")),
    }
    if document.get("blocked_values") is not None:
        out["blocked_values"] = _blocked_values(document["blocked_values"])
    if document.get("matching") is not None:
        out["matching"] = _matching(document["matching"])
    return out


def rules_from_document(document: Mapping[str, Any]) -> IdentityRules:
    """The rules a (canonical) document stands for, on top of the defaults."""
    rules = dict(DEFAULT_RULES)
    for name, given in (document.get("types") or {}).items():
        base = rules.get(name, CUSTOM_RULE)
        rules[name] = IdentifierRule(
            given.get("priority", base.priority),
            given.get("limit", base.limit),
            given.get("window_seconds", base.window_seconds),
        )
    blocked = document.get("blocked_values")
    return IdentityRules(
        rules,
        blocked_values=DEFAULT_BLOCKED if blocked is None else blocked,
        blocked_patterns=document.get("blocked_patterns") or (),
        custom=[(c["name"], c["path"]) for c in document.get("custom") or ()],
    )


def document_from_settings(settings: Settings) -> dict[str, Any]:
    """The document the deprecated `identity_*` settings describe (canonical): what version 1
    of a workspace's rules is when it has none yet, so old seamline.toml files keep working."""
    legacy: dict[str, Any] = {
        "types": {
            name: rule.model_dump(exclude_none=True)
            for name, rule in settings.identity_types.items()
        },
        "blocked_patterns": list(settings.identity_blocked_patterns),
        "custom": [c.model_dump() for c in settings.identity_custom_identifiers],
    }
    if settings.identity_blocked_values is not None:
        legacy["blocked_values"] = list(settings.identity_blocked_values)
    try:
        return normalise_identity(legacy)
    except InvalidIdentityRules as error:
        raise InvalidIdentityRules(
            f"the identity_* settings (seed of the identity rules): {error.message}"
        ) from None


def defaults_document() -> dict[str, Any]:
    """Every built-in type's rule and the default blocked values, as a document."""
    return {
        "types": {
            name: {f: v for f, v in msgspec.structs.asdict(rule).items() if v is not None}
            for name, rule in sorted(DEFAULT_RULES.items())
        },
        "blocked_values": list(DEFAULT_BLOCKED),
        "blocked_patterns": [],
        "custom": [],
    }


def _types(value: Any) -> dict[str, dict[str, int | None]]:
    if value is None:
        return {}
    if not isinstance(value, Mapping):
        raise InvalidIdentityRules("types: expected a mapping of type names to rules")
    if len(value) > MAX_TYPES:
        raise InvalidIdentityRules(f"types: {len(value)} types; at most {MAX_TYPES}")
    out: dict[str, dict[str, int | None]] = {}
    for name in sorted(value, key=str):
        where = f"types.{name}"
        _type_name(name, "types")
        rule = value[name]
        if not isinstance(rule, Mapping):
            raise InvalidIdentityRules(f"{where}: expected a mapping of " + ", ".join(RULE_FIELDS))
        unknown = sorted(str(key) for key in rule if key not in RULE_FIELDS)
        if unknown:
            raise InvalidIdentityRules(
                f"{where}: unknown field {unknown[0]!r}; the fields are " + ", ".join(RULE_FIELDS)
            )
        checked: dict[str, int | None] = {}
        if "priority" in rule:
            checked["priority"] = _whole(rule["priority"], f"{where}.priority", MAX_PRIORITY)
        for field, most in (("limit", MAX_LIMIT), ("window_seconds", MAX_WINDOW_SECONDS)):
            if field in rule:
                given = rule[field]
                # null: no limit (or no window), unlike leaving the field out (the default)
                checked[field] = None if given is None else _whole(given, f"{where}.{field}", most)
        out[name] = checked
    return out


def _whole(value: Any, where: str, most: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise InvalidIdentityRules(f"{where}: expected a whole number from 1 to {most}")
    if not 1 <= value <= most:
        raise InvalidIdentityRules(f"{where}: {value} is out of range; from 1 to {most}")
    return value


def _type_name(name: Any, where: str) -> str:
    if not isinstance(name, str) or not _TYPE_NAME.match(name):
        raise InvalidIdentityRules(
            f"{where}: {name!r} is not a type name (lowercase letters, digits, _ and ., "
            "at most 100 characters)"
        )
    return name


def _strings(value: Any, where: str, most: int, longest: int) -> list[str]:
    if not isinstance(value, list):
        raise InvalidIdentityRules(f"{where}: expected a list of strings")
    if len(value) > most:
        raise InvalidIdentityRules(f"{where}: {len(value)} entries; at most {most}")
    for index, item in enumerate(value):
        if not isinstance(item, str):
            raise InvalidIdentityRules(f"{where}[{index}]: expected a string")
        if len(item) > longest:
            raise InvalidIdentityRules(
                f"{where}[{index}]: {len(item)} characters; at most {longest}"
            )
    return list(dict.fromkeys(value))


def _blocked_values(value: Any) -> list[str]:
    found = _strings(value, "blocked_values", MAX_BLOCKED_VALUES, MAX_VALUE_LENGTH)
    # Compared after normalisation, case-insensitively (IdentityRules.is_blocked).
    return list(dict.fromkeys(v.strip().lower() for v in found))


def _patterns(value: Any) -> list[str]:
    if value is None:
        return []
    found = _strings(value, "blocked_patterns", MAX_PATTERNS, 10_000)
    for index, pattern in enumerate(found):
        problem = pattern_problem(pattern)
        if problem:
            raise InvalidIdentityRules(f"blocked_patterns[{index}]: {pattern[:60]!r} {problem}")
    return found


def _custom(value: Any) -> list[dict[str, str]]:
    if value is None:
        return []
    if not isinstance(value, list):
        raise InvalidIdentityRules("custom: expected a list of {name, path}")
    if len(value) > MAX_CUSTOM:
        raise InvalidIdentityRules(f"custom: {len(value)} types; at most {MAX_CUSTOM}")
    out: dict[str, dict[str, str]] = {}
    for index, entry in enumerate(value):
        where = f"custom[{index}]"
        if not isinstance(entry, Mapping) or set(entry) != {"name", "path"}:
            raise InvalidIdentityRules(f"{where}: expected exactly {{name, path}}")
        name = _type_name(entry["name"], f"{where}.name")
        if name in built_in_types():
            raise InvalidIdentityRules(
                f"{where}.name: {name!r} is a built-in identifier type; Seamline reads it "
                "itself (set its rule under types instead)"
            )
        if name in out:
            raise InvalidIdentityRules(f"{where}.name: {name!r} is named twice")
        path = entry["path"]
        if not isinstance(path, str) or len(path) > MAX_PATH_LENGTH or not _PATH.match(path):
            raise InvalidIdentityRules(
                f"{where}.path: {str(path)[:80]!r} is not a message path; it is {_ROOTS} "
                "(at most 10 levels, names separated by dots)"
            )
        out[name] = {"name": name, "path": path}
    return list(out.values())


def _matching(value: Any) -> dict[str, Any]:
    if not isinstance(value, Mapping):
        raise InvalidIdentityRules("matching: expected a mapping")
    # The matching engine owns this block's schema; imported here, not when rules load.
    from seamline.identity.matching.config import normalise_matching

    try:
        checked: dict[str, Any] = normalise_matching(value)
    except InvalidInput as error:
        raise InvalidIdentityRules(f"matching: {error.message}") from None
    except ValueError as error:
        raise InvalidIdentityRules(f"matching: {error}") from None
    return checked
