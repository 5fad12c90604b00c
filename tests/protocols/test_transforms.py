"""Declarative transformations: each kind, its scope, and bad definitions."""

from __future__ import annotations

import copy
from typing import Any

import pytest

from seamline.errors import InvalidInput
from seamline.protocols.paths import MISSING
from seamline.protocols.transforms import Transformation, cast_value, parse_transformation

ORDER = {
    "type": "track",
    "event": "order_completed",
    "userId": "u1",
    "properties": {
        "total": "12.50",
        "currency": "usd",
        "qty": "3",
        "coupon": None,
        "first": "Ada",
        "last": "Lovelace",
        "gift": "yes",
    },
    "context": {"page": {"path": "/checkout"}},
}


def run(document: dict[str, Any], message: dict[str, Any] | None = None) -> dict[str, Any] | None:
    spec = parse_transformation("t", document)
    transformation = Transformation("t", spec, frozenset(spec.sources))
    message = copy.deepcopy(message or ORDER)
    if transformation.applies_to("src", message) and transformation.apply(message) is None:
        return None
    return message


@pytest.mark.parametrize(
    ("document", "changed"),
    [
        ({"kind": "rename_event", "to": "Order Completed"}, True),
        ({"kind": "rename_event", "to": "order_completed"}, False),
        ({"kind": "map_value", "property": "properties.currency", "map": {"eur": "EUR"}}, False),
        ({"kind": "cast", "property": "properties.total", "cast": "number"}, True),
        ({"kind": "cast", "property": "properties.first", "cast": "string"}, False),
        ({"kind": "default", "property": "properties.total", "value": 0}, False),
        ({"kind": "drop_property", "properties": ["properties.nope"]}, False),
        ({"kind": "drop_property", "properties": ["properties.nope", "properties.qty"]}, True),
        ({"kind": "rename_property", "property": "properties.nope", "to": "properties.x"}, False),
    ],
)
def test_a_transformation_says_whether_it_changed_anything(
    document: dict[str, Any], changed: bool
) -> None:
    spec = parse_transformation("t", document)
    assert Transformation("t", spec, frozenset()).apply(copy.deepcopy(ORDER)) is changed


@pytest.mark.parametrize(
    ("document", "path", "expected"),
    [
        ({"kind": "rename_event", "to": "Order Completed"}, ("event",), "Order Completed"),
        (
            {
                "kind": "merge_events",
                "events": ["order_completed", "Order Complete"],
                "to": "Order Completed",
            },
            ("event",),
            "Order Completed",
        ),
        (
            {"kind": "rename_property", "property": "properties.qty", "to": "properties.quantity"},
            ("properties", "quantity"),
            "3",
        ),
        (
            {"kind": "rename_property", "property": "properties.first", "to": "traits.first_name"},
            ("traits", "first_name"),
            "Ada",
        ),
        (
            {
                "kind": "map_value",
                "property": "properties.currency",
                "map": {"usd": "USD", "eur": "EUR"},
            },
            ("properties", "currency"),
            "USD",
        ),
        (
            {"kind": "cast", "property": "properties.total", "cast": "number"},
            ("properties", "total"),
            12.5,
        ),
        (
            {"kind": "cast", "property": "properties.qty", "cast": "integer"},
            ("properties", "qty"),
            3,
        ),
        (
            {"kind": "cast", "property": "properties.gift", "cast": "boolean"},
            ("properties", "gift"),
            True,
        ),
        (
            {"kind": "cast", "property": "properties.currency", "cast": "number"},
            ("properties", "currency"),
            "usd",
        ),
        (
            {"kind": "default", "property": "properties.coupon", "value": "NONE"},
            ("properties", "coupon"),
            "NONE",
        ),
        (
            {"kind": "default", "property": "properties.channel", "value": "web"},
            ("properties", "channel"),
            "web",
        ),
        (
            {"kind": "default", "property": "properties.total", "value": 0},
            ("properties", "total"),
            "12.50",
        ),
        (
            {
                "kind": "derive",
                "property": "properties.name",
                "template": "{{properties.first}} {{properties.last}}",
            },
            ("properties", "name"),
            "Ada Lovelace",
        ),
        (
            {
                "kind": "derive",
                "property": "properties.path",
                "template": "{{ context.page.path }}",
            },
            ("properties", "path"),
            "/checkout",
        ),
        (
            {
                "kind": "derive",
                "property": "properties.label",
                "template": "{{properties.missing}}-x",
            },
            ("properties", "label"),
            "-x",
        ),
    ],
)
def test_each_kind_changes_what_it_says(
    document: dict[str, Any], path: tuple[str, ...], expected: Any
) -> None:
    result = run(document)
    assert result is not None
    node: Any = result
    for part in path:
        node = node[part]
    assert node == expected


def test_rename_property_never_overwrites_an_existing_field() -> None:
    result = run(
        {"kind": "rename_property", "property": "properties.first", "to": "properties.last"}
    )
    assert result is not None
    assert result["properties"]["first"] == "Ada"
    assert result["properties"]["last"] == "Lovelace"


def test_drop_property_and_drop_event() -> None:
    result = run({"kind": "drop_property", "properties": ["properties.first", "context.page"]})
    assert result is not None
    assert "first" not in result["properties"]
    assert result["context"] == {}
    assert run({"kind": "drop_event"}) is None


@pytest.mark.parametrize(
    ("scope", "applies"),
    [
        ({}, True),
        ({"events": ["order_completed"]}, True),
        ({"events": ["Page Viewed"]}, False),
        ({"types": ["identify"]}, False),
        ({"sources": ["src"]}, True),
        ({"sources": ["other"]}, False),
        ({"where": 'properties.currency = "usd"'}, True),
        ({"where": 'properties.currency = "eur"'}, False),
        ({"events": ["order_completed"], "where": 'userId = "u2"'}, False),
    ],
)
def test_scope_decides_which_messages_are_transformed(scope: dict[str, Any], applies: bool) -> None:
    spec = parse_transformation("t", {"kind": "drop_event", **scope})
    transformation = Transformation("t", spec, frozenset(spec.sources))
    assert transformation.applies_to("src", ORDER) is applies


@pytest.mark.parametrize(
    ("document", "message"),
    [
        ({"kind": "rename_event"}, "needs to"),
        ({"kind": "cast", "property": "properties.x", "cast": "date"}, "cast"),
        ({"kind": "explode"}, "kind"),
        ({"kind": "drop_event", "where": "event = "}, "column"),
        ({"kind": "drop_event", "colour": "red"}, "colour"),
        ({"kind": "map_value", "property": "properties.x"}, "needs map"),
    ],
)
def test_bad_definitions_are_refused_with_the_reason(
    document: dict[str, Any], message: str
) -> None:
    with pytest.raises(InvalidInput, match=message):
        parse_transformation("t", document)


@pytest.mark.parametrize(
    ("value", "to", "expected"),
    [
        (1, "string", "1"),
        (1.0, "string", "1"),
        (True, "string", "true"),
        ("4", "integer", 4),
        ("4.5", "integer", None),
        ("4.5", "number", 4.5),
        ("no", "boolean", False),
        ("maybe", "boolean", None),
        ([1], "number", None),
        (True, "number", None),
    ],
)
def test_casts(value: Any, to: Any, expected: Any) -> None:
    result = cast_value(value, to)
    assert (None if result is MISSING else result) == expected
