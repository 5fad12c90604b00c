"""Checking messages against a tracking plan: which rule applies, what breaks it, what is unplanned.

Every rule's schema is compiled once with fastjsonschema (draft-07). A message costs one compiled
call per applicable schema (its rule's and the common rule's), so a valid message is checked in
a few microseconds. fastjsonschema stops at the first error; only when that fast call fails is
the message run again through a second compilation of the same schema with `fast_fail=False`,
which collects every error (fastjsonschema >= 2.22.1). That one is compiled lazily, on the first
failing message for the rule, so plans whose messages are valid never pay for it. Its errors
are then spread out: one violation per missing required name and per key that
`additionalProperties: false` forbids, as Segment reports them.

Rule lookup follows Segment: a track message by `event`; identify and group by type; page and
screen by `name`, else the rule for any name. Several versions of an event are told apart by
`context.protocols.event_version`; without one, or with an unknown one, the oldest version
applies. The common rule applies to every message, planned or not.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Mapping
from typing import Any, Final

import fastjsonschema
import msgspec
from fastjsonschema import JsonSchemaValueException, JsonSchemaValuesException

from seamline.protocols.plan import TrackingPlan

Validator = Callable[[Any], Any]
_SECTION: Final = {
    "track": "properties",
    "page": "properties",
    "screen": "properties",
    "identify": "traits",
    "group": "traits",
}
_SHORT = 60  # longest value text a violation quotes


class Violation(msgspec.Struct, frozen=True):
    """One broken rule: `path` is dotted (`properties.products.0.sku`), `rule` the JSON Schema
    keyword (or a Seamline rule such as `naming`), `expected`/`actual` short texts for people."""

    path: str
    rule: str
    expected: str
    actual: str


class Verdict(msgspec.Struct, frozen=True):
    """`planned`: the message has a rule (a track event in the plan, or a type with a rule).
    `unplanned`: top-level `properties.*` or `traits.*` keys its rule does not declare."""

    planned: bool
    violations: tuple[Violation, ...] = ()
    unplanned: tuple[str, ...] = ()

    @property
    def valid(self) -> bool:
        return not self.violations


class _Schema:
    """A schema compiled for the fast yes/no answer, and lazily for every error."""

    __slots__ = ("_full", "fast", "schema")

    def __init__(self, schema: dict[str, Any]) -> None:
        self.schema = schema
        # use_default=False: fastjsonschema would otherwise write defaults into the message.
        self.fast: Validator = fastjsonschema.compile(
            schema, use_default=False, detailed_exceptions=False
        )
        self._full: Validator | None = None

    def errors(self, message: Mapping[str, Any]) -> list[JsonSchemaValueException]:
        if self._full is None:
            self._full = fastjsonschema.compile(self.schema, use_default=False, fast_fail=False)
        try:
            self._full(message)
        except JsonSchemaValuesException as errors:
            return errors.errors
        except JsonSchemaValueException as error:  # some keywords raise alone even so
            return [error]
        return []


class _Entry:
    """A compiled rule with the top-level names its message section may carry."""

    __slots__ = ("declared", "patterns", "schema", "section")

    def __init__(self, schema: dict[str, Any], kind: str, common: list[dict[str, Any]]) -> None:
        self.schema = _Schema(schema)
        self.section: str = _SECTION[kind]
        declared: set[str] = set()
        patterns: list[re.Pattern[str]] = []
        for whole in (schema, *common):
            part = _sub(_sub(whole, "properties"), self.section)
            declared.update(_sub(part, "properties"))
            patterns.extend(re.compile(p) for p in _sub(part, "patternProperties"))
        self.declared = frozenset(declared)
        self.patterns = tuple(patterns)

    def unplanned(self, message: Mapping[str, Any]) -> tuple[str, ...]:
        section = message.get(self.section)
        if not isinstance(section, dict) or section.keys() <= self.declared:
            return ()
        return tuple(
            f"{self.section}.{key}"
            for key in section
            if key not in self.declared and not any(p.search(key) for p in self.patterns)
        )


class CompiledPlan:
    """A plan with every schema compiled, ready to `check` messages (thread-safe to share)."""

    def __init__(self, plan: TrackingPlan) -> None:
        self.plan = plan
        common = [rule.schema for rule in plan.rules if rule.kind == "common"]
        self._common = tuple(_Schema(schema) for schema in common)
        self._rules: dict[tuple[str, str | None], dict[int, _Entry]] = {}
        for rule in plan.rules:
            if rule.kind != "common":
                versions = self._rules.setdefault((rule.kind, rule.key), {})
                versions[rule.version] = _Entry(rule.schema, rule.kind, common)
        self._oldest = {key: versions[min(versions)] for key, versions in self._rules.items()}

    def check(self, message: Mapping[str, Any]) -> Verdict:
        """The message's verdict under the plan: every violation, not only the first."""
        entry = self._lookup(message)
        failed = False
        if entry is not None:
            try:
                entry.schema.fast(message)
            except JsonSchemaValueException:
                failed = True
        for common in self._common:
            try:
                common.fast(message)
            except JsonSchemaValueException:
                failed = True
        planned = entry is not None
        unplanned = entry.unplanned(message) if entry is not None else ()
        if not failed:
            return _PLANNED if planned and not unplanned else Verdict(planned, (), unplanned)
        schemas = (entry.schema, *self._common) if entry is not None else self._common
        return Verdict(planned, _violations(schemas, message), unplanned)

    def _lookup(self, message: Mapping[str, Any]) -> _Entry | None:
        kind = message.get("type")
        if kind == "track":
            key = (kind, message.get("event"))
        elif kind == "page" or kind == "screen":
            key = (kind, message.get("name"))
            if not isinstance(key[1], str) or key not in self._rules:
                key = (kind, None)
        elif kind == "identify" or kind == "group":
            key = (kind, None)
        else:
            return None
        if not isinstance(key[1], str | None):
            return None
        versions = self._rules.get(key)
        if versions is None or len(versions) == 1:
            return self._oldest.get(key)
        return versions.get(_event_version(message), self._oldest[key])


_PLANNED: Final = Verdict(True)


def _event_version(message: Mapping[str, Any]) -> int:
    """`context.protocols.event_version`, or 0 (no such version) when absent or not a number."""
    context = message.get("context")
    protocols = context.get("protocols") if isinstance(context, dict) else None
    version = protocols.get("event_version") if isinstance(protocols, dict) else None
    return version if isinstance(version, int) and not isinstance(version, bool) else 0


def _sub(schema: Any, key: str) -> dict[str, Any]:
    value = schema.get(key) if isinstance(schema, dict) else None
    return value if isinstance(value, dict) else {}


# --- violations ------------------------------------------------------------------------------


def _violations(schemas: tuple[_Schema, ...], message: Mapping[str, Any]) -> tuple[Violation, ...]:
    found: dict[tuple[str, str], Violation] = {}  # a common rule may repeat an event's
    for schema in schemas:
        for error in schema.errors(message):
            for violation in _spread(error):
                found.setdefault((violation.path, violation.rule), violation)
    return tuple(found.values())


def _spread(error: JsonSchemaValueException) -> list[Violation]:
    """`required` and `additionalProperties` fail once per object; report each name."""
    at = error.path[1:]  # [0] is fastjsonschema's "data"
    value, rule, definition = error.value, error.rule or "schema", error.definition or {}
    if rule == "required" and isinstance(value, dict):
        return [
            Violation(_join(*at, name), "required", "present", "missing")
            for name in error.rule_definition or ()
            if name not in value
        ]
    if rule == "additionalProperties" and isinstance(value, dict):
        declared = definition.get("properties", {})
        patterns = [re.compile(p) for p in definition.get("patternProperties", {})]
        return [
            Violation(_join(*at, key), rule, "absent", describe(item))
            for key, item in value.items()
            if key not in declared and not any(p.search(key) for p in patterns)
        ]
    return [Violation(_join(*at), rule, _expected(rule, error.rule_definition), describe(value))]


def _join(*parts: str) -> str:
    return ".".join(parts) or "message"


def _expected(rule: str, wanted: Any) -> str:
    if rule == "type":
        return " or ".join(wanted) if isinstance(wanted, list) else str(wanted)
    if rule == "enum" and isinstance(wanted, list):
        return "one of " + ", ".join(_plain(v) for v in wanted)
    words = _EXPECTED.get(rule)
    return _clip(words.format(_plain(wanted)) if words else f"{rule} {_plain(wanted)}")


_EXPECTED: Final = {
    "const": "exactly {}",
    "minimum": ">= {}",
    "maximum": "<= {}",
    "exclusiveMinimum": "> {}",
    "exclusiveMaximum": "< {}",
    "multipleOf": "a multiple of {}",
    "minLength": "at least {} characters",
    "maxLength": "at most {} characters",
    "minItems": "at least {} items",
    "maxItems": "at most {} items",
    "minProperties": "at least {} keys",
    "maxProperties": "at most {} keys",
    "uniqueItems": "unique items",
    "pattern": "matching {}",
    "format": "{} format",
    "not": "not matching the `not` schema",
    "anyOf": "matching one of the anyOf schemas",
    "oneOf": "matching exactly one of the oneOf schemas",
    "contains": "an item matching `contains`",
    "propertyNames": "keys matching `propertyNames`",
}


def describe(value: Any) -> str:
    """A short text for a value, its JSON type first: `string "12"`, `number 3.5`, `null`."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return f"boolean {json.dumps(value)}"
    if isinstance(value, int | float):
        return f"number {_clip(repr(value))}"
    if isinstance(value, str):
        return f"string {_clip(json.dumps(value, ensure_ascii=False))}"
    if isinstance(value, dict):
        return f"object with {len(value)} keys" if len(value) != 1 else "object with 1 key"
    if isinstance(value, list):
        return f"array of {len(value)} items" if len(value) != 1 else "array of 1 item"
    return _clip(repr(value))


def _plain(value: Any) -> str:
    return value if isinstance(value, str) else json.dumps(value, default=repr)


def _clip(text: str) -> str:
    return text if len(text) <= _SHORT else text[: _SHORT - 1] + "…"
