"""Seamline's shorthand for tracking plans (YAML or JSON), translated to Segment-style rules.

`load_plan` (in `protocols.plan`) reads a document as shorthand when it has none of Segment's
`rules` and has one of the sections below; the result is the same typed `TrackingPlan`, each
rule a draft-07 JSON Schema over the whole message, as Segment lays it out::

    name: Web
    description: The storefront
    events:
      Order Completed:
        description: A purchase
        properties:
          order_id: {type: string, required: true}
          total: {type: number, minimum: 0}
          currency: {type: string, enum: [USD, EUR], required: true}
          coupon: [string, "null"]         # a type name or a list of them is a whole field
          products:
            type: array
            items: {properties: {sku: {type: string, required: true}}}
        additionalProperties: false         # keys outside `properties` are violations
      Order Refunded:
        schema: {type: object, required: [order_id]}   # raw JSON Schema of `properties`
      Cart Viewed: [{version: 1}, {version: 2, properties: {cart_id: string}}]
    identify: {traits: {email: {type: string, format: email, required: true}}}
    group: {traits: {plan: {enum: [free, pro]}}}
    pages: {Home: {properties: {...}}, "*": {...}}    # also `screens`; "*" = any other name
    common: {context: {...}, properties: {...}, traits: {...}}   # checked on every message

A field is a type name (string number integer boolean object array null, or any), a list of
them, or a mapping of: type, required (true puts the name in the parent's `required`),
description, title, enum (or allowed), const, default, pattern, format, minimum, maximum,
exclusiveMinimum, exclusiveMaximum, multipleOf, minLength, maxLength, minItems, maxItems,
uniqueItems, items (a field), properties (fields; implies object), additionalProperties (a
boolean or a field). When `type` allows null, `enum` does too. An event, page, screen,
identify or group has description, version, properties (traits for identify/group) or
schema, context and additionalProperties. YAML 1.1 reads yes/no/on/off as booleans: quote
them in enums.
"""

from __future__ import annotations

import copy
import difflib
import json
from collections.abc import Iterable, Mapping
from typing import Any, Final, NoReturn

from seamline.protocols.plan import (
    _COUNTS,
    _NUMBERS,
    DRAFT_07,
    TYPES,
    Kind,
    Rule,
    TrackingPlan,
    _at,
    _check_schema,
    _fail,
    _plan,
    _raw_schema,
    _text,
    _version,
)

_SECTIONS: Final[dict[str, Kind | None]] = dict(
    name=None, description=None, events="track", identify="identify", group="group",
    pages="page", screens="screen", common="common",
)  # fmt: skip
_ANY_NAME = "*"


def is_shorthand(document: Mapping[str, Any]) -> bool:
    """Whether `document` has a section of the shorthand besides `name` and `description`."""
    return bool(document.keys() & _SECTIONS.keys() - {"name", "description"})


def from_shorthand(document: Mapping[str, Any]) -> TrackingPlan:
    for section in document:
        if section not in _SECTIONS:
            _unknown(section, "", _SECTIONS)
    rules: list[tuple[str, Rule]] = []
    for section, kind in _SECTIONS.items():
        if kind is None or document.get(section) is None:
            continue
        if kind in ("identify", "group", "common"):
            rules.append((section, _message_rule(kind, None, document[section], section)))
            continue
        entries = _mapping(document[section], section)
        for name, spec in entries.items():
            if not isinstance(name, str) or not name:
                _fail(_at(section, str(name)), "a name must be a non-empty string")
            key = None if name == _ANY_NAME and kind != "track" else name
            here = _at(section, name)
            versions = spec if isinstance(spec, list) else [spec]
            for i, one in enumerate(versions):
                path = _at(here, i) if isinstance(spec, list) else here
                rules.append((path, _message_rule(kind, key, one, path)))
    return _plan(document.get("name"), document.get("description"), rules)


def _message_rule(kind: Kind, key: str | None, spec: Any, path: str) -> Rule:
    spec = _mapping(spec, path)
    primary = "traits" if kind in ("identify", "group") else "properties"
    if kind == "common":
        allowed = {"description", "context", "properties", "traits"}
    else:
        allowed = {"description", "version", primary, "schema", "context", "additionalProperties"}
    for name in spec:
        if name == "properties" and primary == "traits":
            _fail(_at(path, name), f"{kind} messages carry `traits`, not `properties`")
        if name not in allowed:
            _unknown(name, path, allowed)
    parts: dict[str, dict[str, Any]] = {}
    if "schema" in spec:
        if primary in spec or "additionalProperties" in spec:
            _fail(path, f"give `schema` or `{primary}`/`additionalProperties`, not both")
        parts[primary] = _raw_schema(spec["schema"], _at(path, "schema"))
    elif kind != "common":
        extra = spec.get("additionalProperties")
        parts[primary] = _object(spec.get(primary), path, primary, extra)
    for section in ("context", "properties", "traits"):
        if section in spec and section not in parts:
            parts[section] = _object(spec[section], path, section, None)
    schema: dict[str, Any] = {"$schema": DRAFT_07, "type": "object", "properties": parts}
    required = [name for name, part in parts.items() if part.get("required")]
    if required:  # as Segment does: a required property implies the object itself
        schema["required"] = required
    version = _version(spec.get("version", 1), _at(path, "version"))
    return Rule(
        kind, key, _text(spec.get("description"), _at(path, "description")), schema, version
    )


_FIELD_KEYS: Final = frozenset(
    {"type", "required", "description", "title", "enum", "allowed", "const", "default", "format"}
    | {"pattern", "items", "properties", "additionalProperties", "uniqueItems"}
    | set(_NUMBERS)
    | set(_COUNTS) - {"minProperties", "maxProperties"}
)
_FORMATS: Final = frozenset(
    {"date", "date-time", "time", "email", "idn-email", "hostname", "idn-hostname", "ipv4"}
    | {"ipv6", "uri", "uri-reference", "uri-template", "iri", "iri-reference", "json-pointer"}
    | {"relative-json-pointer", "regex"}
)


def _object(fields: Any, owner: str, key: str, additional: Any) -> dict[str, Any]:
    """An object schema from shorthand fields at `owner.key`, with `owner.additionalProperties`."""
    path = _at(owner, key)
    properties: dict[str, Any] = {}
    required: list[str] = []
    for name, spec in _mapping(fields, path).items():
        if not isinstance(name, str):
            _fail(_at(path, str(name)), "a field name must be a string")
        properties[name], needed = _field(spec, _at(path, name))
        if needed:
            required.append(name)
    schema: dict[str, Any] = {"type": "object", "properties": properties}
    if required:
        schema["required"] = required
    if isinstance(additional, bool):
        schema["additionalProperties"] = additional
    elif additional is not None:
        schema["additionalProperties"] = _field(additional, _at(owner, "additionalProperties"))[0]
    return schema


def _field(spec: Any, path: str) -> tuple[dict[str, Any], bool]:
    """The JSON Schema of one shorthand field, and whether the field is required."""
    if spec is None or isinstance(spec, str | list):
        spec = {"type": spec} if spec is not None else {}
    if not isinstance(spec, Mapping):
        _fail(path, "a field is a type name, a list of type names or a mapping")
    for key in spec:
        if key not in _FIELD_KEYS:
            _unknown(key, path, _FIELD_KEYS)
    if "enum" in spec and "allowed" in spec:
        _fail(path, "give `enum` or `allowed`, not both")
    types = _types(spec["type"], path) if "type" in spec else []
    is_object = "properties" in spec or "additionalProperties" in spec
    if not types and (is_object or "items" in spec):
        types = ["object"] if is_object else ["array"]
    if is_object and "object" not in types:
        _fail(path, "`properties` and `additionalProperties` need type object")
    if "items" in spec and "array" not in types:
        _fail(path, "`items` needs type array")
    schema: dict[str, Any] = {"type": types[0] if len(types) == 1 else types} if types else {}
    for key, value in spec.items():
        here = _at(path, key)
        if key == "required" and not isinstance(value, bool):
            _fail(here, "must be true or false")
        elif key in ("enum", "allowed"):
            if not isinstance(value, list) or not value:
                _fail(here, "must be a non-empty list of values")
            nullable = "null" in types and None not in value
            schema["enum"] = [*value, None] if nullable else list(value)
        elif key == "format" and (not isinstance(value, str) or value not in _FORMATS):
            _fail(here, f"unknown format {json.dumps(value)}{_did_you_mean(value, _FORMATS)}")
        elif key == "items":
            item, needed = _field(value, here)
            if needed:
                _fail(_at(here, "required"), "an array item cannot be required; use minItems")
            schema["items"] = item
        elif key not in ("type", "required", "properties", "additionalProperties"):
            schema[key] = copy.deepcopy(value)
    if is_object:
        fields = spec.get("properties")
        schema |= _object(fields, path, "properties", spec.get("additionalProperties"))
        schema["type"] = types[0] if len(types) == 1 else types
    _check_schema(schema, path)
    return schema, bool(spec.get("required", False))


def _types(value: Any, path: str) -> list[str]:
    names = value if isinstance(value, list) else [value]
    if not names:
        _fail(path, "list at least one type")
    for name in names:
        if name == "any":
            if len(names) > 1:
                _fail(path, "`any` cannot be combined with other types")
            return []
        if not isinstance(name, str) or name not in TYPES:
            suggestion = _did_you_mean(name, TYPES | {"any"})
            _fail(path, f"unknown type {json.dumps(name)}{suggestion}")
    return list(names)


def _mapping(value: Any, path: str) -> Mapping[str, Any]:
    if value is None:
        return {}
    if not isinstance(value, Mapping):
        _fail(path, "must be a mapping")
    return value


def _unknown(key: Any, path: str, known: Iterable[str]) -> NoReturn:
    _fail(_at(path, str(key)), f"unknown key{_did_you_mean(key, known)}")


def _did_you_mean(value: Any, known: Iterable[str]) -> str:
    close = difflib.get_close_matches(str(value), sorted(known), n=1)
    return f' (did you mean "{close[0]}"?)' if close else ""
