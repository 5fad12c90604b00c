"""Checking messages against a compiled plan: rule lookup, every violation, unplanned fields."""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import fastjsonschema
import pytest
import yaml
from hypothesis import given
from hypothesis import strategies as st

from seamline.protocols.plan import load_plan
from seamline.protocols.validate import CompiledPlan, Verdict, Violation, describe

FIXTURES = Path(__file__).parent / "fixtures"
STOREFRONT = CompiledPlan(load_plan(yaml.safe_load((FIXTURES / "storefront.yaml").read_text())))
SEGMENT = CompiledPlan(load_plan(json.loads((FIXTURES / "public_api_export.json").read_text())))

LIBRARY = {"library": {"name": "analytics.js"}}


def track(event: str, context: dict[str, Any] | None = None, **properties: Any) -> dict[str, Any]:
    return {
        "type": "track",
        "event": event,
        "properties": properties,
        "context": LIBRARY if context is None else context,
    }


ORDER: dict[str, Any] = {"order_id": "o-1", "total": 12.5, "currency": "USD"}

# (case, message, violations as (path, rule, expected, actual)). Each row: "this message breaks
# these rules of the storefront plan"; every violation is reported, not just the first.
VIOLATIONS: list[tuple[str, dict[str, Any], list[tuple[str, str, str, str]]]] = [
    ("a valid order", track("Order Completed", **ORDER, products=[{"sku": "a", "quantity": 2}]), []),
    ("null allowed by a type list", track("Order Completed", **ORDER, coupon=None), []),
    ("wrong type", track("Order Completed", **{**ORDER, "total": "12"}), [("properties.total", "type", "number", 'string "12"')]),
    ("a type list names every type", track("Order Completed", **ORDER, coupon=5), [("properties.coupon", "type", "string or null", "number 5")]),
    ("missing required", track("Order Completed", total=1), [
        ("properties.order_id", "required", "present", "missing"), ("properties.currency", "required", "present", "missing"),
    ]),
    ("not an allowed value", track("Order Completed", **{**ORDER, "currency": "GBP"}), [("properties.currency", "enum", "one of USD, EUR", 'string "GBP"')]),
    ("below the minimum", track("Order Completed", **{**ORDER, "total": -1}), [("properties.total", "minimum", ">= 0", "number -1")]),
    ("bad format", track("Order Completed", **ORDER, email="ann@"), [("properties.email", "format", "email format", 'string "ann@"')]),
    ("nested array items", track("Order Completed", **ORDER, products=[{"sku": 1}, {"quantity": 0}]), [
        ("properties.products.0.sku", "type", "string", "number 1"),
        ("properties.products.1.sku", "required", "present", "missing"),
        ("properties.products.1.quantity", "minimum", ">= 1", "number 0"),
    ]),
    ("additionalProperties false", track("Order Completed", **ORDER, gift=True, note="hi"), [
        ("properties.gift", "additionalProperties", "absent", "boolean true"),
        ("properties.note", "additionalProperties", "absent", 'string "hi"'),
    ]),
    ("all at once, and the common rule too", track("Order Completed", context={}, total="x", currency="GBP"), [
        ("properties.order_id", "required", "present", "missing"),
        ("properties.total", "type", "number", 'string "x"'),
        ("properties.currency", "enum", "one of USD, EUR", 'string "GBP"'),
        ("context.library", "required", "present", "missing"),
    ]),
    ("no properties object at all", {"type": "track", "event": "Order Completed", "context": LIBRARY}, [("properties", "required", "present", "missing")]),
    ("properties not an object", {"type": "track", "event": "Order Completed", "properties": [1], "context": LIBRARY}, [("properties", "type", "object", "array of 1 item")]),
    ("a pattern", track("Product Viewed", product_id="X1"), [("properties.product_id", "pattern", "matching ^P[0-9]+$", 'string "X1"')]),
    ("a raw schema", track("Order Refunded", order_id=7), [("properties.order_id", "type", "string", "number 7")]),
    ("identify traits", {"type": "identify", "traits": {"email": "nope", "plan": "gold"}, "context": LIBRARY}, [
        ("traits.email", "format", "email format", 'string "nope"'),
        ("traits.plan", "enum", "one of free, pro, null", 'string "gold"'),
    ]),
    ("identify allows null where the type does", {"type": "identify", "traits": {"email": "a@b.co", "plan": None}, "context": LIBRARY}, []),
    ("group traits", {"type": "group", "traits": {}, "context": LIBRARY}, [("traits.name", "required", "present", "missing")]),
    ("a named page", {"type": "page", "name": "Pricing", "properties": {"billing_period": "weekly"}, "context": LIBRARY}, [
        ("properties.billing_period", "enum", "one of monthly, yearly", 'string "weekly"'),
    ]),
    ("any other page", {"type": "page", "name": "About", "properties": {"title": 3}, "context": LIBRARY}, [("properties.title", "type", "string", "number 3")]),
    ("a page without a name", {"type": "page", "properties": {"title": "Hi"}, "context": LIBRARY}, []),
    ("an unplanned event still meets the common rule", {"type": "track", "event": "Nope", "context": {}}, [("context.library", "required", "present", "missing")]),
    ("alias has no rule but the common one", {"type": "alias", "previousId": "a", "context": {"library": 1}}, [("context.library", "type", "object", "number 1")]),
]  # fmt: skip


@pytest.mark.parametrize(
    ("message", "expected"), [v[1:] for v in VIOLATIONS], ids=[v[0] for v in VIOLATIONS]
)
def test_every_violation_is_reported(
    message: dict[str, Any], expected: list[tuple[str, str, str, str]]
) -> None:
    verdict = STOREFRONT.check(message)
    assert [(v.path, v.rule, v.expected, v.actual) for v in verdict.violations] == expected
    assert verdict.valid is (not expected)


# (case, message, planned, unplanned). Each row: "this message is (un)planned, with these extra keys".
PLANNING: list[tuple[str, dict[str, Any], bool, tuple[str, ...]]] = [
    ("event in the plan", track("Product Viewed", product_id="P1"), True, ()),
    ("extra properties", track("Product Viewed", product_id="P1", colour="red", size=3), True, ("properties.colour", "properties.size")),
    ("extra traits", {"type": "identify", "traits": {"email": "a@b.co", "age": 3}}, True, ("traits.age",)),
    ("event not in the plan", track("Wishlist Shared", anything=1), False, ()),
    ("event names are exact", track("order completed", **ORDER), False, ()),
    ("a named screen", {"type": "screen", "name": "Home", "properties": {"tab": "feed", "x": 1}}, True, ("properties.x",)),
    ("a screen without a rule", {"type": "screen", "name": "Settings", "properties": {}}, False, ()),
    ("alias has no rules", {"type": "alias", "userId": "u", "previousId": "a"}, False, ()),
    ("no type", {"event": "Order Completed"}, False, ()),
    ("an event name that is not a string", {"type": "track", "event": ["Order Completed"]}, False, ()),
]  # fmt: skip


@pytest.mark.parametrize(
    ("message", "planned", "unplanned"), [p[1:] for p in PLANNING], ids=[p[0] for p in PLANNING]
)
def test_planned_and_unplanned(
    message: dict[str, Any], planned: bool, unplanned: tuple[str, ...]
) -> None:
    verdict = STOREFRONT.check(message)
    assert (verdict.planned, verdict.unplanned) == (planned, unplanned)


def test_a_valid_message_gets_the_plain_planned_verdict() -> None:
    assert STOREFRONT.check(track("Order Completed", **ORDER)) == Verdict(True, (), ())


# (case, context, violations). Each row: "this event_version picks that version of Cart Viewed".
VERSIONS: list[tuple[str, dict[str, Any], list[str]]] = [
    ("no version: the oldest", LIBRARY, []),
    ("version 2 requires cart_id", {**LIBRARY, "protocols": {"event_version": 2}}, ["properties.cart_id"]),
    ("version 1 does not", {**LIBRARY, "protocols": {"event_version": 1}}, []),
    ("an unknown version: the oldest", {**LIBRARY, "protocols": {"event_version": 7}}, []),
    ("not a whole number: the oldest", {**LIBRARY, "protocols": {"event_version": "2"}}, []),
]  # fmt: skip


@pytest.mark.parametrize(
    ("context", "paths"), [v[1:] for v in VERSIONS], ids=[v[0] for v in VERSIONS]
)
def test_event_versions(context: dict[str, Any], paths: list[str]) -> None:
    verdict = STOREFRONT.check(track("Cart Viewed", context=context, items=2))
    assert [v.path for v in verdict.violations] == paths


# Segment's own export: the common rule declares no properties, the order rule has two versions.
SEGMENT_CASES: list[tuple[str, dict[str, Any], list[tuple[str, str]], tuple[str, ...]]] = [
    ("valid v1 order", track("Order Completed", **ORDER, products=[{"sku": "a", "quantity": 1}]), [], ()),
    ("v2 order without subtotal", track("Order Completed", context={**LIBRARY, "protocols": {"event_version": 2}}, **ORDER), [("properties.subtotal", "required")], ()),
    ("v2 does not declare products", track("Order Completed", context={**LIBRARY, "protocols": {"event_version": 2}}, **ORDER, subtotal=10, products=[]), [], ("properties.products",)),
    ("identify", {"type": "identify", "traits": {"email": "a@b.co", "plan": "enterprise", "created_at": "yesterday"}, "context": LIBRARY}, [
        ("traits.plan", "enum"), ("traits.created_at", "format"),
    ], ()),
    ("group: integer or null", {"type": "group", "traits": {"name": "Acme", "employees": 2.5}, "context": LIBRARY}, [("traits.employees", "type")], ()),
    ("library without its name", track("Product Viewed", context={"library": {}}, product_id="p"), [("context.library.name", "required")], ()),
    ("the deprecated rule is gone", track("Wishlist Shared", context=LIBRARY), [], ()),
]  # fmt: skip


@pytest.mark.parametrize(
    ("message", "violations", "unplanned"),
    [c[1:] for c in SEGMENT_CASES],
    ids=[c[0] for c in SEGMENT_CASES],
)
def test_segment_export(
    message: dict[str, Any], violations: list[tuple[str, str]], unplanned: tuple[str, ...]
) -> None:
    verdict = SEGMENT.check(message)
    assert [(v.path, v.rule) for v in verdict.violations] == violations
    assert verdict.unplanned == unplanned


def test_checking_never_changes_the_message() -> None:
    plan = CompiledPlan(
        load_plan(
            {
                "events": {
                    "E": {"properties": {"n": {"type": "integer", "default": 3}, "s": "string"}}
                }
            }
        )
    )
    message = {"type": "track", "event": "E", "properties": {"s": 1}}
    before = copy.deepcopy(message)
    plan.check(message)
    assert message == before  # fastjsonschema would write `default`s in unless told not to


def test_schemas_compile_once_and_the_full_one_only_after_a_failure(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    calls: list[dict[str, Any]] = []
    compile_ = fastjsonschema.compile

    def counting(definition: Any, **options: Any) -> Any:
        calls.append(options)
        return compile_(definition, **options)

    monkeypatch.setattr(fastjsonschema, "compile", counting)
    plan = CompiledPlan(load_plan({"events": {"E": {"properties": {"n": "number"}}}, "common": {}}))
    calls.clear()  # loading compiles each schema once to prove it valid
    for _ in range(3):
        plan.check({"type": "track", "event": "E", "properties": {"n": 1}})
    assert calls == []
    for _ in range(3):
        plan.check({"type": "track", "event": "E", "properties": {"n": "x"}})
    assert len(calls) == 2  # the event's and the common rule's error-collecting validators
    assert all(options["fast_fail"] is False for options in calls)


@pytest.mark.parametrize(
    ("value", "text"),
    [
        (None, "null"),
        (True, "boolean true"),
        (12, "number 12"),
        (2.5, "number 2.5"),
        ("12", 'string "12"'),
        ("x" * 100, 'string "' + "x" * 58 + "…"),
        ({"a": 1, "b": 2}, "object with 2 keys"),
        ([], "array of 0 items"),
    ],
)
def test_describe_is_short_and_typed(value: Any, text: str) -> None:
    assert describe(value) == text


def test_violation_is_positional_for_other_modules() -> None:
    assert Violation("event", "naming", "Object Action", '"x"').path == "event"


MESSAGE_KEYS = ["type", "event", "name", "properties", "traits", "context", "library", "protocols", "event_version", "order_id", "products", "sku"]  # fmt: skip
message_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=5) | st.sampled_from(["track", "page", "identify", "Order Completed", "Cart Viewed"]),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.sampled_from(MESSAGE_KEYS), inner, max_size=4),
    max_leaves=20,
)  # fmt: skip


@given(st.dictionaries(st.sampled_from(MESSAGE_KEYS[:6]), message_values))
def test_any_message_gets_a_verdict(message: dict[str, Any]) -> None:
    verdict = STOREFRONT.check(message)
    assert all(v.path and v.rule and v.expected and v.actual for v in verdict.violations)
