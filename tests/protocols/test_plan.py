"""Tracking plans: the three document shapes, the shorthand's translation, bad documents, round trip."""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import pytest
import yaml
from hypothesis import given
from hypothesis import strategies as st

from seamline.errors import InvalidInput
from seamline.protocols.plan import (
    DRAFT_07,
    KINDS,
    Rule,
    TrackingPlan,
    load_plan,
    load_plan_file,
    plan_to_document,
)

FIXTURES = Path(__file__).parent / "fixtures"


def fixture(name: str) -> Any:
    text = (FIXTURES / name).read_text()
    return json.loads(text) if name.endswith(".json") else yaml.safe_load(text)


def rules_of(plan: TrackingPlan) -> list[tuple[str, str | None, int]]:
    return [(rule.kind, rule.key, rule.version) for rule in plan.rules]


def field(plan: TrackingPlan, name: str, section: str = "properties") -> Any:
    """The schema of field `name` in the first rule's `section` object."""
    return plan.rules[0].schema["properties"][section]["properties"][name]


# --- shapes ------------------------------------------------------------------------------------

PUBLIC_API = fixture("public_api_export.json")

# (document, plan name, rules in order). Each row: "this export loads as these rules".
SHAPES: list[tuple[str, Any, str, list[tuple[str, str | None, int]]]] = [
    ("public api export (plan + rules)", PUBLIC_API, "Storefront Web", [
        ("common", None, 1), ("identify", None, 1), ("group", None, 1),
        ("track", "Order Completed", 1), ("track", "Order Completed", 2),
        ("track", "Product Viewed", 1), ("page", "Pricing", 1),
    ]),  # Wishlist Shared has a deprecatedAt: skipped
    ("public api raw list-rules response", {"data": {"rules": PUBLIC_API["rules"][3:5], "pagination": {"current": "MA==", "totalEntries": 2}}}, "", [
        ("track", "Order Completed", 1), ("track", "Order Completed", 2),
    ]),
    ("legacy config api export", fixture("config_api_export.json"), "Kicks App", [
        ("common", None, 1), ("track", "Order Completed", 1), ("track", "Product Viewed", 1),
        ("identify", None, 1), ("group", None, 1),
    ]),
    ("seamline shorthand", fixture("storefront.yaml"), "Storefront Web", [
        ("track", "Order Completed", 1), ("track", "Product Viewed", 1),
        ("track", "Cart Viewed", 1), ("track", "Cart Viewed", 2), ("track", "Order Refunded", 1),
        ("identify", None, 1), ("group", None, 1), ("page", "Pricing", 1), ("page", None, 1),
        ("screen", "Home", 1), ("common", None, 1),
    ]),
]  # fmt: skip


@pytest.mark.parametrize(
    ("document", "name", "rules"), [s[1:] for s in SHAPES], ids=[s[0] for s in SHAPES]
)
def test_each_shape_loads_as_its_rules(document: Any, name: str, rules: list[Any]) -> None:
    plan = load_plan(document)
    assert plan.name == name
    assert rules_of(plan) == rules
    # and the canonical form reads back identically
    assert load_plan(json.loads(json.dumps(plan_to_document(plan)))) == plan


def test_public_api_rules_keep_segments_schema_and_take_the_description_from_it() -> None:
    plan = load_plan(PUBLIC_API)
    order = plan.rules[3]
    assert plan.description == "Events the web storefront sends"
    assert order.description == "A customer paid for an order"
    assert order.schema == PUBLIC_API["rules"][3]["jsonSchema"]
    assert order.schema is not PUBLIC_API["rules"][3]["jsonSchema"]  # a copy, owned by the plan


# (rule as exported, Rule). Each row: "Segment writes this rule this way too".
RULE_VARIANTS: list[tuple[dict[str, Any], Rule]] = [
    ({"type": "track", "key": "A", "jsonSchema": {}}, Rule("track", "A", "", {})),  # type in any case
    ({"type": "TRACK", "key": "A", "version": 2.0, "jsonSchema": {}}, Rule("track", "A", "", {}, 2)),  # the Go SDK's float32 version
    ({"type": "TRACK", "key": "A", "json_schema": '{"type": "object"}'}, Rule("track", "A", "", {"type": "object"})),  # Terraform's string
    ({"type": "PAGE", "key": "", "jsonSchema": {}}, Rule("page", None, "", {})),  # empty key: any page
    ({"type": "IDENTIFY", "key": "", "jsonSchema": {}}, Rule("identify", None, "", {})),
    ({"type": "TRACK", "key": "A", "description": "Mine", "jsonSchema": {"description": "Theirs"}}, Rule("track", "A", "Mine", {"description": "Theirs"})),
    ({"type": "TRACK", "key": "A", "jsonSchema": {}, "deprecatedAt": None}, Rule("track", "A", "", {})),
]  # fmt: skip


@pytest.mark.parametrize(("rule", "expected"), RULE_VARIANTS)
def test_public_api_rule_variants(rule: dict[str, Any], expected: Rule) -> None:
    assert load_plan({"rules": [rule]}).rules == (expected,)


def test_legacy_draft_04_schemas_are_relabelled_draft_07() -> None:
    plan = load_plan(fixture("config_api_export.json"))
    assert {rule.schema["$schema"] for rule in plan.rules} == {DRAFT_07}
    assert plan.rules[1].description == "Who bought what"


# --- the shorthand -----------------------------------------------------------------------------

# (shorthand field, JSON Schema it becomes, required). Each row: "this field means that schema".
FIELDS: list[tuple[Any, dict[str, Any], bool]] = [
    ("string", {"type": "string"}, False),
    (["string", "null"], {"type": ["string", "null"]}, False),
    ("any", {}, False),
    (None, {}, False),
    ({"type": "string", "required": True, "description": "Ours"}, {"type": "string", "description": "Ours"}, True),
    ({"type": "number", "minimum": 0, "maximum": 10}, {"type": "number", "minimum": 0, "maximum": 10}, False),
    ({"type": "string", "enum": ["USD", "EUR"]}, {"type": "string", "enum": ["USD", "EUR"]}, False),
    ({"allowed": ["free", "pro"]}, {"enum": ["free", "pro"]}, False),
    ({"type": ["string", "null"], "enum": ["USD", "EUR"]}, {"type": ["string", "null"], "enum": ["USD", "EUR", None]}, False),  # null stays allowed
    ({"type": "string", "pattern": "^P[0-9]+$", "format": "email"}, {"type": "string", "pattern": "^P[0-9]+$", "format": "email"}, False),
    ({"items": "string", "minItems": 1}, {"type": "array", "items": {"type": "string"}, "minItems": 1}, False),
    ({"items": {"properties": {"sku": {"type": "string", "required": True}}}},
     {"type": "array", "items": {"type": "object", "properties": {"sku": {"type": "string"}}, "required": ["sku"]}}, False),
    ({"properties": {"a": "integer"}, "additionalProperties": False},
     {"type": "object", "properties": {"a": {"type": "integer"}}, "additionalProperties": False}, False),
    ({"type": ["object", "null"], "additionalProperties": "number"},
     {"type": ["object", "null"], "properties": {}, "additionalProperties": {"type": "number"}}, False),
]  # fmt: skip


@pytest.mark.parametrize(("spec", "schema", "required"), FIELDS)
def test_shorthand_field(spec: Any, schema: dict[str, Any], required: bool) -> None:
    plan = load_plan({"events": {"E": {"properties": {"f": spec}}}})
    assert field(plan, "f") == schema
    assert plan.rules[0].schema["properties"]["properties"].get("required", []) == (
        ["f"] if required else []
    )


def test_shorthand_event_is_a_segment_style_schema_over_the_message() -> None:
    plan = load_plan(
        {
            "events": {
                "Signed Up": {
                    "description": "New account",
                    "properties": {"plan": {"type": "string", "required": True}},
                    "context": {"ip": "string"},
                }
            }
        }
    )
    assert plan.rules == (
        Rule("track", "Signed Up", "New account", {
            "$schema": DRAFT_07,
            "type": "object",
            "properties": {
                "properties": {"type": "object", "properties": {"plan": {"type": "string"}}, "required": ["plan"]},
                "context": {"type": "object", "properties": {"ip": {"type": "string"}}},
            },
            "required": ["properties"],
        }),
    )  # fmt: skip


def test_shorthand_sections_map_to_rule_kinds() -> None:
    plan = load_plan(fixture("storefront.yaml"))
    identify = next(rule for rule in plan.rules if rule.kind == "identify")
    assert identify.schema["properties"]["traits"]["required"] == ["email"]
    refunded = next(rule for rule in plan.rules if rule.key == "Order Refunded")
    assert refunded.schema["properties"]["properties"] == {
        "type": "object",
        "properties": {"order_id": {"type": "string"}},
        "required": ["order_id"],
    }
    common = plan.rules[-1]
    assert common.schema["required"] == ["context"]


# --- bad documents -----------------------------------------------------------------------------

ORDER_RULE = {"type": "TRACK", "key": "Order Completed", "jsonSchema": {}}

# (document, the error). Each row: "this mistake is reported at this path".
BAD: list[tuple[Any, str]] = [
    ({"events": {"Order Completed": {"properties": {"total": {"type": "numbr"}}}}}, 'events."Order Completed".properties.total: unknown type "numbr" (did you mean "number"?)'),
    ({"events": {"Order Completed": {"properties": {"total": "numbr"}}}}, 'events."Order Completed".properties.total: unknown type "numbr" (did you mean "number"?)'),
    ({"events": {"A": {"properties": {"total": {"type": "number", "requird": True}}}}}, 'events.A.properties.total.requird: unknown key (did you mean "required"?)'),
    ({"events": {"A": {"properties": {"email": {"format": "emial"}}}}}, 'events.A.properties.email.format: unknown format "emial" (did you mean "email"?)'),
    ({"events": {"A": {"properties": {"code": {"pattern": "(["}}}}}, 'events.A.properties.code.pattern: invalid pattern "([": unterminated character set at position 1'),
    ({"events": {"A": {"properties": {"n": {"type": "number", "minimum": "0"}}}}}, "events.A.properties.n.minimum: must be a number"),
    ({"events": {"A": {"properties": {"n": {"type": "string", "required": "yes"}}}}}, "events.A.properties.n.required: must be true or false"),
    ({"events": {"A": {"properties": {"n": {"enum": []}}}}}, "events.A.properties.n.enum: must be a non-empty list of values"),
    ({"events": {"A": {"properties": {"n": {"type": "string", "items": "string"}}}}}, "events.A.properties.n: `items` needs type array"),
    ({"events": {"A": {"properties": {"n": {"items": {"type": "string", "required": True}}}}}}, "events.A.properties.n.items.required: an array item cannot be required; use minItems"),
    ({"events": {"A": {"properties": {"n": ["any", "null"]}}}}, "events.A.properties.n: `any` cannot be combined with other types"),
    ({"events": {"A": {"propertes": {}}}}, 'events.A.propertes: unknown key (did you mean "properties"?)'),
    ({"events": {"A": {"properties": {}, "schema": {}}}}, "events.A: give `schema` or `properties`/`additionalProperties`, not both"),
    ({"events": {"A": {"version": 0}}}, "events.A.version: a version is a whole number from 1"),
    ({"events": {"A": [{"version": 1}, {"version": 1}]}}, "events.A.1: a second rule for track \"A\" version 1"),
    ({"events": {"A": {"properties": ["x"]}}}, "events.A.properties: must be a mapping"),
    ({"events": {"": {}}}, 'events."": a name must be a non-empty string'),
    ({"identify": {"properties": {}}}, "identify.properties: identify messages carry `traits`, not `properties`"),
    ({"events": {}, "screen": {}}, 'screen: unknown key (did you mean "screens"?)'),
    ({"name": "Only a name"}, "not a tracking plan: expected `rules` (a Segment export) or `events`, `identify`, `group`, `pages`, `screens` or `common` (Seamline's shorthand)"),
    ({"rules": [{"type": "ALIAS", "jsonSchema": {}}]}, 'rules.0.type: unknown rule type "ALIAS"'),
    ({"rules": [{"type": "TRACK", "jsonSchema": {}}]}, "rules.0.key: a track rule needs the event name"),
    ({"rules": [{"type": "IDENTIFY", "key": "x", "jsonSchema": {}}]}, "rules.0.key: a identify rule has no key"),
    ({"rules": [{"type": "TRACK", "key": "A"}]}, "rules.0.jsonSchema: a rule's schema must be an object"),
    ({"rules": [{"type": "TRACK", "key": "A", "jsonSchema": "{nope"}]}, "rules.0.jsonSchema: not valid JSON: Expecting property name enclosed in double quotes: line 1 column 2 (char 1)"),
    ({"rules": [ORDER_RULE, ORDER_RULE]}, 'rules.1: a second rule for track "Order Completed" version 1'),
    ({"rules": [{"type": "COMMON", "jsonSchema": {}}, {"type": "COMMON", "version": 2, "jsonSchema": {}}]}, "rules.1: a plan has at most one common rule"),
    ({"rules": [{"type": "TRACK", "key": "A", "jsonSchema": {"$schema": "https://json-schema.org/draft/2020-12/schema"}}]}, 'rules.0.jsonSchema.$schema: unsupported "https://json-schema.org/draft/2020-12/schema": plans use draft-07'),
    ({"rules": [{"type": "TRACK", "key": "A", "jsonSchema": {"properties": {"properties": {"properties": {"total": {"type": ["numbr"]}}}}}}]}, 'rules.0.jsonSchema.properties.properties.properties.total.type: unknown type "numbr"'),
    ({"rules": [{"type": "TRACK", "key": "A", "jsonSchema": {"properties": {"properties": {"required": True}}}}]}, "rules.0.jsonSchema.properties.properties.required: must be a list of names (draft-07 has no `required: true`)"),
    ({"rules": [{"type": "TRACK", "key": "A", "jsonSchema": {"properties": {"x": {"$ref": "https://example.com/s.json"}}}}]}, "rules.0.jsonSchema.properties.x.$ref: only references inside the schema (#/...) are supported"),
    ({"rules": [{"type": "TRACK", "key": "A", "jsonSchema": {"$ref": "#/definitions/missing"}}]}, "rules.0: not a valid draft-07 schema: Unresolvable ref: definitions"),
    ({"rules": [{"type": "TRACK", "key": "A", "jsonSchema": {"minimum": True}}]}, "rules.0.jsonSchema.minimum: must be a number"),
    ({"rules": {"events": [{"description": "no name"}]}}, "rules.events.0.name: a track rule needs the event name"),
    ({"rules": {"events": {"Order Completed": {}}}}, "rules.events: must be a list"),
    ({"rules": {"events": [{"name": "A", "rules": {"exclusiveMinimum": True, "minimum": 0}}]}}, "rules.events.0.rules.exclusiveMinimum: must be a number"),  # draft-04's boolean form
    (["not", "a", "mapping"], "a tracking plan must be an object"),
]  # fmt: skip


@pytest.mark.parametrize(("document", "message"), BAD)
def test_bad_documents_name_the_path_of_the_problem(document: Any, message: str) -> None:
    with pytest.raises(InvalidInput) as caught:
        load_plan(document)
    assert caught.value.message == message
    assert caught.value.code == "invalid_input"


# --- files -------------------------------------------------------------------------------------


@pytest.mark.parametrize("suffix", [".yaml", ".yml", ".json"])
def test_load_plan_file_reads_yaml_and_json(tmp_path: Path, suffix: str) -> None:
    document = fixture("storefront.yaml")
    path = tmp_path / f"plan{suffix}"
    path.write_text(
        json.dumps(document) if suffix == ".json" else yaml.safe_dump(document, sort_keys=False)
    )
    assert load_plan_file(path) == load_plan(document)


@pytest.mark.parametrize(
    ("name", "content", "error"),
    [
        ("plan.toml", "", "a tracking plan file ends in .yaml, .yml or .json"),
        ("plan.json", "{", "not valid JSON"),
        ("plan.yaml", "events: [unclosed", "not valid YAML"),
        ("absent.yaml", None, "cannot read: No such file or directory"),
    ],
)
def test_load_plan_file_errors_name_the_file(
    tmp_path: Path, name: str, content: str | None, error: str
) -> None:
    path = tmp_path / name
    if content is not None:
        path.write_text(content)
    with pytest.raises(InvalidInput, match=f"^{path}: {error}"):
        load_plan_file(path)


# --- round trip --------------------------------------------------------------------------------

names = st.text(min_size=1, max_size=12)
leaf = st.fixed_dictionaries(
    {"type": st.sampled_from(["string", "number", "integer", "boolean", "null"])},
    optional={
        "description": names,
        "enum": st.lists(st.integers() | names, min_size=1, max_size=3),
        "minimum": st.integers(),
    },
)
subschemas = st.recursive(
    leaf,
    lambda inner: (
        st.fixed_dictionaries(
            {"type": st.just("object"), "properties": st.dictionaries(names, inner, max_size=3)}
        )
        | st.fixed_dictionaries({"type": st.just("array"), "items": inner})
    ),
    max_leaves=6,
)
message_schemas = st.fixed_dictionaries(
    {
        "type": st.just("object"),
        "properties": st.dictionaries(
            st.sampled_from(["properties", "traits", "context"]), subschemas, max_size=3
        ),
    },
    optional={"$schema": st.just(DRAFT_07), "required": st.just(["properties"])},
)


@st.composite
def plans(draw: st.DrawFn) -> TrackingPlan:
    rules: dict[tuple[str, str | None, int], Rule] = {}
    for _ in range(draw(st.integers(0, 6))):
        kind = draw(st.sampled_from(KINDS))
        key = (
            draw(names)
            if kind == "track"
            else draw(st.none() | names)
            if kind in ("page", "screen")
            else None
        )
        version = 1 if kind == "common" else draw(st.integers(1, 3))
        rule = Rule(kind, key, draw(st.text(max_size=20)), draw(message_schemas), version)
        rules.setdefault((kind, key, version) if kind != "common" else ("common", None, 1), rule)
    return TrackingPlan(
        draw(st.text(max_size=20)), draw(st.text(max_size=40)), tuple(rules.values())
    )


@given(plans())
def test_canonical_document_reads_back_identically(plan: TrackingPlan) -> None:
    document = plan_to_document(plan)
    assert load_plan(json.loads(json.dumps(document))) == plan
    assert load_plan(yaml.safe_load(yaml.safe_dump(document))) == plan


def test_loading_does_not_keep_or_change_the_document() -> None:
    document = fixture("storefront.yaml")
    before = copy.deepcopy(document)
    plan = load_plan(document)
    assert document == before
    document["events"]["Order Completed"]["properties"]["total"]["minimum"] = 99
    assert load_plan(before) == plan


# Anything JSON-shaped either loads or raises InvalidInput: never a TypeError from deep inside.
DOCUMENT_KEYS = ["name", "events", "identify", "pages", "common", "rules", "data", "global", "properties", "traits", "type", "required", "enum", "items", "schema", "jsonSchema", "key", "$schema", "E"]  # fmt: skip
json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=5) | st.sampled_from(["string", "any", "TRACK", "email", "(", "#/x"]),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.sampled_from(DOCUMENT_KEYS), inner, max_size=4),
    max_leaves=20,
)  # fmt: skip


@given(st.dictionaries(st.sampled_from(DOCUMENT_KEYS[:7]), json_values, max_size=3))
def test_any_document_loads_or_raises_invalid_input(document: dict[str, Any]) -> None:
    try:
        load_plan(document)
    except InvalidInput as error:
        assert error.message
