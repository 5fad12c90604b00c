"""Tracking plans (Segment Protocols): the typed model, and loading it from documents.

A rule holds a JSON Schema (draft-07) over the whole message, laid out as Segment lays it out:
the schema's top-level `properties` holds sub-schemas for the message's `properties`, `traits`
and `context`. `load_plan` tells three document shapes apart:

* **Segment Public API**: `rules` is a list of `{type, key, version, jsonSchema}`, `type` one of
  TRACK IDENTIFY GROUP PAGE SCREEN COMMON; the body of `GET /tracking-plans/{id}/rules`, raw
  (`{"data": {"rules": [...]}}`) or beside the plan (`{"trackingPlan": {...}, "rules": [...]}`).
  A rule with a real `deprecatedAt` is skipped (Go's zero time means "not deprecated").
  `plan_to_document` writes this shape plus a `description` per rule: our canonical form.
* **Segment Config API** (legacy): `rules` is `{global, events: [{name, description, version,
  rules}], identify, group}`, the name is `display_name`. Its schemas say draft-04; what Segment
  generated (type lists, enum, pattern, required lists) means the same in draft-07: relabelled.
* **Seamline shorthand** (YAML or JSON): `events`, `identify`, `group`, `pages`, `screens` and
  `common` sections of hand-written fields, translated to the same rules; see
  `protocols.shorthand`.

Problems raise `InvalidInput` naming where they are (`events."Order Completed".properties.total:
unknown type "numbr"`); every schema is also compiled with fastjsonschema as draft-07.
"""

from __future__ import annotations

import copy
import json
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Final, Literal, NoReturn

import fastjsonschema
import msgspec
import yaml

from seamline.errors import InvalidInput

Kind = Literal["track", "identify", "group", "page", "screen", "common"]
KINDS: Final[tuple[Kind, ...]] = ("track", "identify", "group", "page", "screen", "common")
DRAFT_07: Final = "http://json-schema.org/draft-07/schema#"


class Rule(msgspec.Struct, frozen=True):
    """What one kind of message must look like; `key` is the event (track) or page/screen name,
    None for identify, group, common and for the page/screen rule that applies to any name."""

    kind: Kind
    key: str | None
    description: str
    schema: dict[str, Any]
    version: int = 1


class TrackingPlan(msgspec.Struct, frozen=True):
    name: str
    description: str
    rules: tuple[Rule, ...]


def load_plan(document: Mapping[str, Any]) -> TrackingPlan:
    """Read a plan in any of the three shapes (see the module docstring); raise `InvalidInput`."""
    if not isinstance(document, Mapping):
        _fail("", "a tracking plan must be an object")
    data = document.get("data")  # a raw API response
    body = {**document, **data} if isinstance(data, Mapping) and "rules" in data else document
    if isinstance(body.get("rules"), list):
        return _from_public_api(body)
    if isinstance(body.get("rules"), Mapping):
        return _from_config_api(body)
    if "rules" in body:
        _fail("rules", "must be a list (Public API) or an object (Config API)")
    # Imported here: the shorthand builds on this module's model and checks.
    from seamline.protocols.shorthand import from_shorthand, is_shorthand

    if is_shorthand(document):
        return from_shorthand(document)
    _fail("", "not a tracking plan: expected `rules` (a Segment export) or `events`, `identify`, "
          "`group`, `pages`, `screens` or `common` (Seamline's shorthand)")  # fmt: skip


def load_plan_file(path: Path) -> TrackingPlan:
    """Read a plan from a .yaml, .yml or .json file."""
    if path.suffix not in (".yaml", ".yml", ".json"):
        raise InvalidInput(f"{path}: a tracking plan file ends in .yaml, .yml or .json")
    try:
        text = path.read_text(encoding="utf-8")
        document = json.loads(text) if path.suffix == ".json" else yaml.safe_load(text)
    except OSError as error:
        raise InvalidInput(f"{path}: cannot read: {error.strerror}") from None
    except (ValueError, yaml.YAMLError) as error:  # JSONDecodeError is a ValueError
        raise InvalidInput(f"{path}: not valid {path.suffix[1:].upper()}: {error}") from None
    return load_plan(document)


def plan_to_document(plan: TrackingPlan) -> dict[str, Any]:
    """The canonical JSON form (Public-API-like rules with descriptions) `load_plan` reads back."""
    rules = [
        {
            "type": rule.kind.upper(),
            "key": rule.key,
            "description": rule.description,
            "version": rule.version,
            "jsonSchema": copy.deepcopy(rule.schema),
        }
        for rule in plan.rules
    ]
    return {"name": plan.name, "description": plan.description, "rules": rules}


# --- Segment's exports -------------------------------------------------------------------------

_ZERO_TIME = "0001-01-01"  # Go's zero time.Time: the Public API's "never deprecated"


def _from_public_api(document: Mapping[str, Any]) -> TrackingPlan:
    meta = document.get("trackingPlan", document)
    meta = meta if isinstance(meta, Mapping) else {}
    rules: list[tuple[str, Rule]] = []
    for i, entry in enumerate(document["rules"]):
        here = _at("rules", i)
        if not isinstance(entry, Mapping):
            _fail(here, "a rule must be an object")
        deprecated = entry.get("deprecatedAt")
        if deprecated and not str(deprecated).startswith(_ZERO_TIME):
            continue
        kind = str(entry.get("type", "")).lower()
        if kind not in KINDS:
            _fail(_at(here, "type"), f"unknown rule type {json.dumps(entry.get('type'))}")
        raw = entry.get("jsonSchema", entry.get("json_schema"))
        if isinstance(raw, str):  # Terraform state and some exports hold the schema as a string
            try:
                raw = json.loads(raw)
            except ValueError as error:
                _fail(_at(here, "jsonSchema"), f"not valid JSON: {error}")
        schema = _raw_schema(raw, _at(here, "jsonSchema"))
        description = entry.get("description", schema.get("description", ""))
        rule = Rule(
            kind,
            _key(kind, entry.get("key"), _at(here, "key")),
            _text(description, _at(here, "description")),
            schema,
            _version(entry.get("version", 1), _at(here, "version")),
        )
        rules.append((here, rule))
    return _plan(meta.get("name"), meta.get("description"), rules)


def _from_config_api(document: Mapping[str, Any]) -> TrackingPlan:
    source = document["rules"]
    rules: list[tuple[str, Rule]] = []
    if source.get("global"):
        schema = _raw_schema(source["global"], "rules.global")
        rules.append(("rules.global", Rule("common", None, "", schema)))
    events = source.get("events") or []
    if not isinstance(events, list):
        _fail("rules.events", "must be a list")
    for i, event in enumerate(events):
        here = _at("rules.events", i)
        if not isinstance(event, Mapping):
            _fail(here, "an event must be an object")
        name = _key("track", event.get("name"), _at(here, "name"))
        schema = _raw_schema(event.get("rules", {}), _at(here, "rules"))
        description = _text(event.get("description"), _at(here, "description"))
        version = _version(event.get("version", 1), _at(here, "version"))
        rules.append((here, Rule("track", name, description, schema, version)))
    for kind in ("identify", "group"):  # identify_traits/group_traits (Personas) are not rules
        if source.get(kind):
            schema = _raw_schema(source[kind], f"rules.{kind}")
            rules.append((f"rules.{kind}", Rule(kind, None, "", schema)))
    name = document.get("display_name") or document.get("name")
    return _plan(name, document.get("description"), rules)


def _plan(name: Any, description: Any, rules: list[tuple[str, Rule]]) -> TrackingPlan:
    seen: set[tuple[str, str | None, int]] = set()
    commons = 0
    for path, rule in rules:
        identity = (rule.kind, rule.key, rule.version)
        if identity in seen:
            what = f"{rule.kind} {json.dumps(rule.key)}" if rule.key is not None else rule.kind
            _fail(path, f"a second rule for {what} version {rule.version}")
        seen.add(identity)
        commons += rule.kind == "common"
        if commons > 1:
            _fail(path, "a plan has at most one common rule")
        try:
            fastjsonschema.compile(rule.schema, use_default=False)
        except (fastjsonschema.JsonSchemaDefinitionException, re.error) as error:
            _fail(path, f"not a valid draft-07 schema: {error}")
    return TrackingPlan(
        _text(name, "name"), _text(description, "description"), tuple(r for _, r in rules)
    )


def _key(kind: Kind, key: Any, path: str) -> str | None:
    if key is None or key == "":
        if kind == "track":
            _fail(path, "a track rule needs the event name")
        return None
    if not isinstance(key, str):
        _fail(path, "must be a string")
    if kind in ("identify", "group", "common"):
        _fail(path, f"a {kind} rule has no key")
    return key


def _version(value: Any, path: str) -> int:
    # The Public API's Go SDK carries versions as float32, so 2.0 arrives for 2.
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    if not isinstance(value, int) or isinstance(value, bool) or value < 1:
        _fail(path, "a version is a whole number from 1")
    return value


def _text(value: Any, path: str) -> str:
    if value is None:
        return ""
    if not isinstance(value, str):
        _fail(path, "must be a string")
    return value


# --- raw JSON Schema -------------------------------------------------------------------------

_DRAFT_07_IDS = {DRAFT_07, DRAFT_07[:-1], "https://json-schema.org/draft-07/schema#"}
_DRAFT_04_IDS = {
    "http://json-schema.org/draft-04/schema#",
    "http://json-schema.org/draft-04/schema",
}
TYPES: Final = frozenset({"string", "number", "integer", "boolean", "object", "array", "null"})
_ONE = ("additionalItems", "additionalProperties", "contains", "else", "if", "not", "propertyNames")
_MAPS = ("definitions", "patternProperties", "properties")
_LISTS = ("allOf", "anyOf", "oneOf")
_NUMBERS = ("minimum", "maximum", "exclusiveMinimum", "exclusiveMaximum", "multipleOf")
_COUNTS = ("minLength", "maxLength", "minItems", "maxItems", "minProperties", "maxProperties")


def _raw_schema(schema: Any, path: str) -> dict[str, Any]:
    """A copy of `schema` labelled draft-07, after checking the keywords plans use."""
    if not isinstance(schema, Mapping):
        _fail(path, "a rule's schema must be an object")
    copied: dict[str, Any] = copy.deepcopy(dict(schema))
    label = copied.get("$schema")
    if label is not None and not isinstance(label, str):
        _fail(_at(path, "$schema"), "must be a string")
    if label in _DRAFT_04_IDS:
        copied["$schema"] = DRAFT_07
    elif label is not None and label not in _DRAFT_07_IDS:
        _fail(_at(path, "$schema"), f"unsupported {json.dumps(label)}: plans use draft-07")
    _check_schema(copied, path)
    return copied


def _check_schema(schema: Any, path: str) -> None:
    """Fail at the first malformed keyword; fastjsonschema's own errors do not say where."""
    if isinstance(schema, bool):
        return
    if not isinstance(schema, Mapping):
        _fail(path, "a schema must be an object or a boolean")
    for key, value in schema.items():
        here = _at(path, key)
        if key == "type":
            for name in value if isinstance(value, list) else [value]:
                if not isinstance(name, str) or name not in TYPES:
                    _fail(here, f"unknown type {json.dumps(name)}")
        elif key == "required" and not _strings(value):
            _fail(here, "must be a list of names (draft-07 has no `required: true`)")
        elif key == "enum" and not (isinstance(value, list) and value):
            _fail(here, "must be a non-empty list")
        elif key == "pattern":
            _check_pattern(value, here)
        elif key == "$ref" and not (isinstance(value, str) and value.startswith("#")):
            _fail(here, "only references inside the schema (#/...) are supported")
        elif key in _NUMBERS and not _number(value):
            _fail(here, "must be a number")
        elif key in _COUNTS and not (_number(value) and isinstance(value, int) and value >= 0):
            _fail(here, "must be a whole number from 0")
        elif key in _ONE or (key == "items" and not isinstance(value, list)):
            _check_schema(value, here)
        elif key in _LISTS or key == "items":
            if not isinstance(value, list) or not value:
                _fail(here, "must be a non-empty list of schemas")
            for i, item in enumerate(value):
                _check_schema(item, _at(here, i))
        elif key in _MAPS:
            if not isinstance(value, Mapping):
                _fail(here, "must be an object")
            for name, sub in value.items():
                if key == "patternProperties":
                    _check_pattern(name, _at(here, name))
                _check_schema(sub, _at(here, name))


def _check_pattern(value: Any, path: str) -> None:
    if not isinstance(value, str):
        _fail(path, "a pattern must be a string")
    try:
        re.compile(value)
    except re.error as error:
        _fail(path, f"invalid pattern {json.dumps(value)}: {error}")


def _strings(value: Any) -> bool:
    return isinstance(value, list) and all(isinstance(item, str) for item in value)


def _number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


# --- paths -------------------------------------------------------------------------------------

_BARE = re.compile(r"[A-Za-z_$][A-Za-z0-9_$-]*\Z")


def _at(path: str, key: str | int) -> str:
    """`path` extended by `key`, quoted when it is not a plain word: `events."Order Completed"`."""
    part = str(key) if isinstance(key, int) or _BARE.match(key) else json.dumps(key)
    return f"{path}.{part}" if path else part


def _fail(path: str, problem: str) -> NoReturn:
    raise InvalidInput(f"{path}: {problem}" if path else problem, details={"path": path})
