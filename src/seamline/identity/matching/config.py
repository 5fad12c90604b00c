"""The `matching:` block of the identity document: its schema, its defaults and its validation.

Everything a user configures here is data. Blocking rules and comparisons name fields and pick
from fixed kinds; the engine builds the SQL from them, so no user string ever reaches SQL.

Canonical form (what `normalise_matching` returns):

```yaml
matching:
  enabled: false
  threshold: 0.99            # auto-merge at or above
  review_threshold: 0.8      # between this and threshold: waits for review; below: dropped
  blocking_rules:            # a pair is scored when it agrees on every part of one rule
    - {equal: [email]}
    - {equal: [last_name, {field: dob, prefix: 4}]}
  comparisons:               # the evidence, one comparison per field
    - {field: first_name, kind: name, term_frequency: true}
  max_records: 1000000
  max_pairs: 20000000        # a blocking rule that would make more pairs is refused
  u_sample_pairs: 1000000    # random pairs that estimate how often non-matches agree
```

Blocking rules may also be written as the contract's strings, `"l.email = r.email and
l.dob = r.dob"`: only that exact shape (equalities of the same plain field, joined by `and`) is
accepted, and it is rewritten to the structured form.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from seamline.errors import InvalidInput

KINDS = ("exact", "name", "email", "phone", "date", "postcode", "address", "text")
"""Comparison kinds. `exact`: equal or not. `name`: exact, then Jaro-Winkler bands. `email`:
exact, same mailbox, then Jaro-Winkler bands (typos). `phone`: digits only; exact, last 8 digits,
one edit. `date`: digits only (so 1987-04-09 and 19870409 agree); exact, one edit, swapped
month/day digits. `postcode`: exact, one edit. `address` and `text`: exact, Damerau-Levenshtein
1 and 2, then Jaro-Winkler."""

DEFAULT_FIELDS = ("first_name", "last_name", "email", "phone", "address", "city", "postcode", "dob")

DEFAULT_COMPARISONS: tuple[dict[str, Any], ...] = (
    {"field": "first_name", "kind": "name", "term_frequency": True},
    {"field": "last_name", "kind": "name", "term_frequency": True},
    {"field": "email", "kind": "email", "term_frequency": False},
    {"field": "phone", "kind": "phone", "term_frequency": False},
    {"field": "address", "kind": "address", "term_frequency": False},
    {"field": "city", "kind": "name", "term_frequency": True},
    {"field": "postcode", "kind": "postcode", "term_frequency": False},
    {"field": "dob", "kind": "date", "term_frequency": False},
)

DEFAULT_BLOCKING_RULES: tuple[dict[str, Any], ...] = (
    {"equal": ["email"]},
    {"equal": ["phone"]},
    {"equal": ["first_name", "last_name"]},
    {"equal": ["last_name", "dob"]},
    {"equal": ["postcode", "dob"]},
)

HARD_MAX_RECORDS = 5_000_000
HARD_MAX_PAIRS = 500_000_000
MAX_RULES = 20
MAX_RULE_PARTS = 6
MAX_COMPARISONS = 30
MAX_PREFIX = 64

DEFAULTS: dict[str, Any] = {
    "enabled": False,
    "threshold": 0.99,
    "review_threshold": 0.8,
    "blocking_rules": [dict(rule) for rule in DEFAULT_BLOCKING_RULES],
    "comparisons": [dict(comparison) for comparison in DEFAULT_COMPARISONS],
    "max_records": 1_000_000,
    "max_pairs": 20_000_000,
    "u_sample_pairs": 1_000_000,
}

_FIELD = re.compile(r"^[a-z][a-z0-9_]{0,62}$")
# Reserved: the engine's own columns.
_RESERVED = frozenset({"profile_id", "unique_id", "source_dataset", "source", "known_id"})
_STRING_EQUALITY = re.compile(r"^\s*l\.([a-z][a-z0-9_]*)\s*=\s*r\.([a-z][a-z0-9_]*)\s*$")


def default_matching() -> dict[str, Any]:
    """A fresh copy of the defaults (callers may change it)."""
    return normalise_matching({})


def normalise_matching(value: Any) -> dict[str, Any]:
    """The canonical form of a `matching:` block: defaults filled in, every field checked.

    Raises `InvalidInput` (message names the offending key) on anything else; `None` means
    the defaults.
    """
    if value is None:
        value = {}
    if not isinstance(value, Mapping):
        raise InvalidInput("matching: must be a mapping")
    unknown = sorted(set(value) - set(DEFAULTS))
    if unknown:
        raise InvalidInput(f"matching: unknown key {unknown[0]!r} (known: {', '.join(DEFAULTS)})")
    out: dict[str, Any] = {}
    enabled = value.get("enabled", DEFAULTS["enabled"])
    if not isinstance(enabled, bool):
        raise InvalidInput("matching.enabled must be true or false")
    out["enabled"] = enabled
    out["threshold"] = _probability(value, "threshold")
    out["review_threshold"] = _probability(value, "review_threshold")
    if out["review_threshold"] > out["threshold"]:
        raise InvalidInput("matching.review_threshold must not be above matching.threshold")
    comparisons = _comparisons(value.get("comparisons", DEFAULTS["comparisons"]))
    out["blocking_rules"] = _blocking_rules(value.get("blocking_rules", DEFAULTS["blocking_rules"]))
    out["comparisons"] = comparisons
    out["max_records"] = _count(value, "max_records", HARD_MAX_RECORDS)
    out["max_pairs"] = _count(value, "max_pairs", HARD_MAX_PAIRS)
    out["u_sample_pairs"] = _count(value, "u_sample_pairs", 10_000_000)
    return out


def fields_of(config: Mapping[str, Any]) -> list[str]:
    """Every field a normalised config reads, comparisons first, in order, without repeats."""
    names = [comparison["field"] for comparison in config["comparisons"]]
    for rule in config["blocking_rules"]:
        names.extend(part_field(part) for part in rule["equal"])
    return list(dict.fromkeys(names))


def part_field(part: str | Mapping[str, Any]) -> str:
    """The field a normalised blocking-rule part reads (a name, or `{field, prefix}`)."""
    return part if isinstance(part, str) else str(part["field"])


def _probability(value: Mapping[str, Any], key: str) -> float:
    number = value.get(key, DEFAULTS[key])
    if isinstance(number, bool) or not isinstance(number, int | float) or not 0 < number <= 1:
        raise InvalidInput(f"matching.{key} must be a number in (0, 1]")
    return float(number)


def _count(value: Mapping[str, Any], key: str, hard_max: int) -> int:
    number = value.get(key, DEFAULTS[key])
    if isinstance(number, bool) or not isinstance(number, int) or not 1 <= number <= hard_max:
        raise InvalidInput(f"matching.{key} must be a whole number from 1 to {hard_max}")
    return number


def _field(name: Any, where: str) -> str:
    if not isinstance(name, str) or not _FIELD.match(name) or name in _RESERVED:
        raise InvalidInput(
            f"{where}: field {name!r} must be a lower-case name (letters, digits, _) and not "
            f"one of {', '.join(sorted(_RESERVED))}"
        )
    return name


def _comparisons(value: Any) -> list[dict[str, Any]]:
    if not isinstance(value, list) or not 1 <= len(value) <= MAX_COMPARISONS:
        raise InvalidInput(f"matching.comparisons must be a list of 1 to {MAX_COMPARISONS} items")
    out: list[dict[str, Any]] = []
    for index, item in enumerate(value):
        where = f"matching.comparisons[{index}]"
        if not isinstance(item, Mapping):
            raise InvalidInput(f"{where} must be a mapping like {{field: email, kind: email}}")
        unknown = sorted(set(item) - {"field", "kind", "term_frequency"})
        if unknown:
            raise InvalidInput(f"{where}: unknown key {unknown[0]!r}")
        field = _field(item.get("field"), where)
        kind = item.get("kind", "text")
        if kind not in KINDS:
            raise InvalidInput(f"{where}: kind {kind!r} is not one of {', '.join(KINDS)}")
        term_frequency = item.get("term_frequency", False)
        if not isinstance(term_frequency, bool):
            raise InvalidInput(f"{where}.term_frequency must be true or false")
        out.append({"field": field, "kind": kind, "term_frequency": term_frequency})
    names = [comparison["field"] for comparison in out]
    if len(set(names)) != len(names):
        raise InvalidInput("matching.comparisons: each field may be compared once")
    return out


def _blocking_rules(value: Any) -> list[dict[str, Any]]:
    if not isinstance(value, list) or not 1 <= len(value) <= MAX_RULES:
        raise InvalidInput(f"matching.blocking_rules must be a list of 1 to {MAX_RULES} rules")
    out: list[dict[str, Any]] = []
    for index, rule in enumerate(value):
        where = f"matching.blocking_rules[{index}]"
        if isinstance(rule, str):
            rule = {"equal": _parse_string_rule(rule, where)}
        if not isinstance(rule, Mapping) or set(rule) != {"equal"}:
            raise InvalidInput(f"{where} must be a mapping like {{equal: [last_name, dob]}}")
        parts = rule["equal"]
        if not isinstance(parts, list) or not 1 <= len(parts) <= MAX_RULE_PARTS:
            raise InvalidInput(f"{where}.equal must list 1 to {MAX_RULE_PARTS} fields")
        out.append({"equal": [_part(part, f"{where}.equal") for part in parts]})
    return out


def _part(part: Any, where: str) -> str | dict[str, Any]:
    """One equality of a blocking rule: a field, or the first `prefix` characters of one."""
    if isinstance(part, str):
        return _field(part, where)
    if not isinstance(part, Mapping) or not set(part) <= {"field", "prefix"}:
        raise InvalidInput(f"{where}: a part is a field name or {{field: NAME, prefix: N}}")
    prefix = part.get("prefix")
    if prefix is not None and (
        isinstance(prefix, bool) or not isinstance(prefix, int) or not 1 <= prefix <= MAX_PREFIX
    ):
        raise InvalidInput(f"{where}: prefix must be a whole number from 1 to {MAX_PREFIX}")
    field = _field(part.get("field"), where)
    return field if prefix is None else {"field": field, "prefix": prefix}


def _parse_string_rule(text: str, where: str) -> list[str]:
    """`l.a = r.a and l.b = r.b` → [a, b]; anything else is refused, never passed on as SQL."""
    if len(text) > 500:
        raise InvalidInput(f"{where}: rule too long")
    fields: list[str] = []
    for clause in re.split(r"\s+and\s+", text.strip(), flags=re.IGNORECASE):
        match = _STRING_EQUALITY.match(clause)
        if match is None or match.group(1) != match.group(2):
            raise InvalidInput(
                f"{where}: {text!r} is not of the form 'l.FIELD = r.FIELD [and l.F2 = r.F2]'; "
                "write it as {equal: [FIELD, F2]}"
            )
        fields.append(match.group(1))
    return fields
