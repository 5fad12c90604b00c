"""Definitions: what parses, what is refused (with the path of the problem), the text form, and
checks across definitions (unknown audiences, cycles)."""

from __future__ import annotations

from typing import Any

import pytest

from seamline.engage.definition import parse_audience, parse_trait
from seamline.engage.rules import build
from seamline.engage.text import describe
from seamline.engage.workspace import normalise_audience
from seamline.errors import InvalidInput

BAD_TRAITS = [
    ("an unknown kind", {"kind": "median", "event": "E"}, "kind: one of"),
    ("no event", {"kind": "event_counter"}, "event: a non-empty string"),
    (
        "a counter with a property",
        {"kind": "event_counter", "event": "E", "property": "p"},
        "drop `property`",
    ),
    (
        "an aggregation without a function",
        {"kind": "aggregation", "event": "E", "property": "p"},
        "function: one of",
    ),
    (
        "an aggregation of strings",
        {
            "kind": "aggregation",
            "event": "E",
            "property": "p",
            "function": "sum",
            "value_type": "string",
        },
        "aggregations read numbers",
    ),
    (
        "a window of zero",
        {"kind": "event_counter", "event": "E", "window": {"days": 0}},
        "longer than zero",
    ),
    ("a window in weeks", {"kind": "event_counter", "event": "E", "window": "2w"}, "like 30d"),
    (
        "an unknown field",
        {"kind": "event_counter", "event": "E", "colour": "red"},
        "unknown field 'colour'",
    ),
    (
        "a where that is not a list",
        {"kind": "event_counter", "event": "E", "where": {"p": 1}},
        "where: a list",
    ),
    (
        "a numeric operator on text",
        {
            "kind": "event_counter",
            "event": "E",
            "where": [{"property": "p", "op": ">", "value": "x"}],
        },
        "where[0].value: > compares numbers",
    ),
]

BAD_AUDIENCES = [
    ("no condition", {}, "condition: required"),
    (
        "two conditions in one",
        {"condition": {"trait": {"name": "a"}, "audience": "b"}},
        "one of all, any",
    ),
    ("an empty all", {"condition": {"all": []}}, "condition.all: a non-empty list"),
    (
        "a negative count",
        {"condition": {"performed": {"event": "E", "at_least": -1}}},
        "condition.performed.at_least: a whole number",
    ),
    (
        "two counts",
        {"condition": {"performed": {"event": "E", "at_least": 1, "at_most": 3}}},
        "one of at_least, at_most, exactly",
    ),
    (
        "a count on not_performed",
        {"condition": {"not_performed": {"event": "E", "exactly": 2}}},
        "unknown field 'exactly'",
    ),
    (
        "an operator that does not exist",
        {"condition": {"trait": {"name": "plan", "op": "like", "value": "p"}}},
        "condition.trait.op: one of",
    ),
    (
        "exists with a value",
        {"condition": {"trait": {"name": "plan", "op": "exists", "value": 1}}},
        "exists takes no value",
    ),
    (
        "a one-step sequence",
        {"condition": {"sequence": {"steps": ["A"], "within": "1d"}}},
        "a list of 2 to 3 events",
    ),
    (
        "a sequence without within",
        {"condition": {"sequence": {"steps": ["A", "B"]}}},
        "within: required",
    ),
    (
        "a nested problem",
        {
            "condition": {
                "any": [
                    {"trait": {"name": "a", "op": "exists"}},
                    {"not": {"performed": {"event": ""}}},
                ]
            }
        },
        "condition.any[1].not.performed.event",
    ),
]


@pytest.mark.parametrize(
    ("case", "document", "message"), BAD_TRAITS, ids=[c[0] for c in BAD_TRAITS]
)
def test_bad_computed_traits_are_refused_with_the_field(
    case: str, document: Any, message: str
) -> None:
    with pytest.raises(InvalidInput, match=message.replace("[", r"\[").replace("(", r"\(")):
        parse_trait("t", document)


@pytest.mark.parametrize(
    ("case", "document", "message"), BAD_AUDIENCES, ids=[c[0] for c in BAD_AUDIENCES]
)
def test_bad_audiences_are_refused_with_the_path(case: str, document: Any, message: str) -> None:
    with pytest.raises(InvalidInput, match=message.replace("[", r"\[")):
        parse_audience("a", document)


@pytest.mark.parametrize("key", ["", "Big", "1st", "with-dash", "x" * 101])
def test_keys_must_be_usable_as_trait_names(key: str) -> None:
    with pytest.raises(InvalidInput, match="key"):
        parse_audience(key, {"condition": {"audience": "x"}})


TEXTS = [
    (
        {"performed": {"event": "Order Completed", "at_least": 3, "within": "30d"}},
        'performed "Order Completed" at least 3 times in the last 30 days',
    ),
    (
        {"not_performed": {"event": "Login", "within": {"hours": 12}}},
        'did not perform "Login" in the last 12 hours',
    ),
    (
        {"all": [{"trait": {"name": "plan", "value": "pro"}}, {"not": {"audience": "churned"}}]},
        'plan = "pro" and not in audience churned',
    ),
    (
        {
            "any": [
                {"trait": {"name": "age", "op": ">=", "value": 18}},
                {"trait": {"name": "vip", "value": True}},
            ]
        },
        "age >= 18 or vip = true",
    ),
    (
        {
            "sequence": {
                "steps": [
                    "Viewed",
                    {"event": "Bought", "where": [{"property": "total", "op": ">", "value": 10}]},
                ],
                "within": "1d",
            }
        },
        '"Viewed" then "Bought" where total > 10 within 1 day',
    ),
    ({"account": {"name": "tier", "op": "exists"}}, "an account has tier exists"),
]


@pytest.mark.parametrize(("condition", "text"), TEXTS)
def test_the_text_form_reads_as_a_sentence(condition: dict[str, Any], text: str) -> None:
    assert describe(parse_audience("a", {"condition": condition})) == f"a: {text}"


def test_the_text_form_of_computed_traits() -> None:
    found = parse_trait(
        "spend",
        {
            "kind": "aggregation",
            "event": "Order Completed",
            "property": "total",
            "function": "sum",
            "window": "90d",
        },
    )
    assert describe(found) == 'spend = sum of total in "Order Completed" in the last 90 days'


def test_audiences_that_depend_on_themselves_are_refused() -> None:
    a = parse_audience("a", {"condition": {"audience": "b"}})
    b = parse_audience("b", {"condition": {"not": {"audience": "a"}}})
    with pytest.raises(InvalidInput, match="depend on themselves: a → b → a"):
        build([], [a, b])


def test_saving_checks_references_through_the_stored_definitions() -> None:
    stored = {("audience", "b"): {"condition": {"audience": "a"}}}

    def lookup(kind: str, name: str) -> dict[str, Any] | None:
        return stored.get((kind, name))

    with pytest.raises(InvalidInput, match="depend on themselves"):
        normalise_audience("a", {"condition": {"audience": "b"}}, lookup)
    with pytest.raises(InvalidInput, match="no audience 'c'"):
        normalise_audience("a", {"condition": {"audience": "c"}}, lookup)
    assert normalise_audience(
        "z",
        {"condition": {"audience": "b"}},
        lambda k, n: {"condition": {"trait": {"name": "x", "op": "exists"}}} if n == "b" else None,
    )


def test_a_list_trait_only_answers_exists() -> None:
    cats = parse_trait("cats", {"kind": "unique_list", "event": "V", "property": "c"})
    uses = parse_audience("a", {"condition": {"trait": {"name": "cats", "value": "x"}}})
    with pytest.raises(InvalidInput, match="is a list"):
        build([cats], [uses])


def test_definitions_reading_the_same_events_share_one_feature() -> None:
    same = {"performed": {"event": "E", "at_least": 2, "within": "7d"}}
    rules = build(
        [],
        [
            parse_audience("a", {"condition": same}),
            parse_audience("b", {"condition": {"not": same}}),
        ],
    )
    assert len(rules.features) == 1
    assert rules.only(["a"]).definition_keys() == ["a"]
