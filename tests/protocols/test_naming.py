"""Naming conventions: converting names between cases, checking them, flagging and fixing."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from seamline.protocols.naming import Case, NamingRules, conforms, to_case, words
from seamline.protocols.validate import Violation

OA, TITLE, SNAKE, CAMEL, PASCAL, KEBAB = Case

# (input, Object Action, snake_case, camelCase, PascalCase, kebab-case). Each row: "this name in
# every case"; Title Case is written like Object Action.
CONVERSIONS: list[tuple[str, str, str, str, str, str]] = [
    ("orderCompleted", "Order Completed", "order_completed", "orderCompleted", "OrderCompleted", "order-completed"),
    ("order_completed", "Order Completed", "order_completed", "orderCompleted", "OrderCompleted", "order-completed"),
    ("Order-Completed", "Order Completed", "order_completed", "orderCompleted", "OrderCompleted", "order-completed"),
    ("ORDER COMPLETED", "Order Completed", "order_completed", "orderCompleted", "OrderCompleted", "order-completed"),
    ("OrderCompleted", "Order Completed", "order_completed", "orderCompleted", "OrderCompleted", "order-completed"),
    ("  signed  up. ", "Signed Up", "signed_up", "signedUp", "SignedUp", "signed-up"),
    ("HTMLPageViewed", "Html Page Viewed", "html_page_viewed", "htmlPageViewed", "HtmlPageViewed", "html-page-viewed"),
    ("userID", "User Id", "user_id", "userId", "UserId", "user-id"),
    ("address1", "Address1", "address1", "address1", "Address1", "address1"),  # digits stay with their word
    ("step2Completed", "Step2 Completed", "step2_completed", "step2Completed", "Step2Completed", "step2-completed"),
    ("Step 2 Completed", "Step 2 Completed", "step_2_completed", "step2Completed", "Step2Completed", "step-2-completed"),
    ("2fa_enabled", "2fa Enabled", "2fa_enabled", "2faEnabled", "2faEnabled", "2fa-enabled"),
    ("Café Visité", "Café Visité", "café_visité", "caféVisité", "CaféVisité", "café-visité"),
    ("", "", "", "", "", ""),
]  # fmt: skip


@pytest.mark.parametrize(
    ("text", "object_action", "snake", "camel", "pascal", "kebab"), CONVERSIONS
)
def test_to_case(
    text: str, object_action: str, snake: str, camel: str, pascal: str, kebab: str
) -> None:
    converted = [to_case(text, case) for case in (OA, TITLE, SNAKE, CAMEL, PASCAL, KEBAB)]
    assert converted == [object_action, object_action, snake, camel, pascal, kebab]


# (name, the cases it conforms to). Each row: "this name is already written in these cases".
CONFORMING: list[tuple[str, set[Case]]] = [
    ("Order Completed", {OA, TITLE}),
    ("Completed", {TITLE, PASCAL}),  # Object Action needs an object and an action
    ("Order completed", set()),
    ("ORDER COMPLETED", set()),
    ("Order  Completed", set()),  # two spaces
    ("order_completed", {SNAKE}),
    ("order", {SNAKE, CAMEL, KEBAB}),
    ("order__completed", set()),
    ("_order", set()),
    ("orderCompleted", {CAMEL}),
    ("userID", {CAMEL}),  # lenient about acronyms
    ("OrderCompleted", {PASCAL}),
    ("HTMLParser", {PASCAL}),
    ("order-completed", {KEBAB}),
    ("address1", {SNAKE, CAMEL, KEBAB}),
    ("2fa", {TITLE, SNAKE, CAMEL, PASCAL, KEBAB}),  # a digit is neither upper nor lower case
    ("", set()),
]  # fmt: skip


@pytest.mark.parametrize(("name", "cases"), CONFORMING)
def test_conforms(name: str, cases: set[Case]) -> None:
    assert {case for case in Case if conforms(name, case)} == cases


@pytest.mark.parametrize("text", ["iOS", "HTMLParser", "XYCoordinate", "a b c", "order 2 go"])
def test_words_split_where_people_read_words(text: str) -> None:
    assert (
        words(text)
        == {
            "iOS": ["i", "OS"],
            "HTMLParser": ["HTML", "Parser"],
            "XYCoordinate": ["XY", "Coordinate"],
            "a b c": ["a", "b", "c"],
            "order 2 go": ["order", "2", "go"],
        }[text]
    )


names = st.text(st.sampled_from("abcXYZ019 _-."), max_size=16).filter(
    lambda t: any(c.isalnum() for c in t)
)


@given(names, st.sampled_from([TITLE, SNAKE, CAMEL, PASCAL, KEBAB]))
def test_a_converted_name_conforms(text: str, case: Case) -> None:
    assert conforms(to_case(text, case), case)


@given(names, st.sampled_from(list(Case)))
def test_a_conforming_name_is_what_fix_mode_leaves_alone(text: str, case: Case) -> None:
    if conforms(text, case):
        message = {"type": "track", "event": text, "properties": {text: 1}}
        result = NamingRules(events=case, properties=case, mode="fix").check(message)
        assert result.message is message


FLAG = NamingRules(events=OA, properties=SNAKE, traits=CAMEL)
FIX = NamingRules(events=OA, properties=SNAKE, traits=CAMEL, mode="fix")


def v(path: str, expected: str, actual: str) -> Violation:
    return Violation(path, "naming", expected, f'"{actual}"')


# (case, rules, message, violations left, fixed, message after). Each row: "these rules make
# this of the message".
CHECKS: list[tuple[str, NamingRules, dict[str, Any], list[Violation], list[Violation], dict[str, Any]]] = [
    ("flag a snake_case event name", FLAG, {"type": "track", "event": "order_completed", "properties": {}},
     [v("event", "Object Action", "order_completed")], [], {"type": "track", "event": "order_completed", "properties": {}}),
    ("flag property keys", FLAG, {"type": "track", "event": "Order Completed", "properties": {"OrderId": 1, "total": 2}},
     [v("properties.OrderId", "snake_case", "OrderId")], [], {"type": "track", "event": "Order Completed", "properties": {"OrderId": 1, "total": 2}}),
    ("fix the event and keys, keeping key order", FIX, {"type": "track", "event": "orderCompleted", "properties": {"OrderId": 1, "total": 2, "unitPrice": 3}},
     [], [v("event", "Object Action", "orderCompleted"), v("properties.OrderId", "snake_case", "OrderId"), v("properties.unitPrice", "snake_case", "unitPrice")],
     {"type": "track", "event": "Order Completed", "properties": {"order_id": 1, "total": 2, "unit_price": 3}}),
    ("never overwrite an existing key: flag it", FIX, {"type": "track", "event": "Order Completed", "properties": {"OrderId": 1, "order_id": 2}},
     [v("properties.OrderId", "snake_case", "OrderId")], [], {"type": "track", "event": "Order Completed", "properties": {"OrderId": 1, "order_id": 2}}),
    ("two keys with one fixed name: the first wins", FIX, {"type": "track", "event": "Order Completed", "properties": {"OrderId": 1, "orderID": 2}},
     [v("properties.orderID", "snake_case", "orderID")], [v("properties.OrderId", "snake_case", "OrderId")],
     {"type": "track", "event": "Order Completed", "properties": {"order_id": 1, "orderID": 2}}),
    ("a one-word event cannot be fixed to Object Action", FIX, {"type": "track", "event": "login"},
     [v("event", "Object Action", "login")], [], {"type": "track", "event": "login"}),
    ("traits follow their own case", FIX, {"type": "identify", "traits": {"first_name": "Ada", "email": "a@b.co"}},
     [], [v("traits.first_name", "camelCase", "first_name")], {"type": "identify", "traits": {"firstName": "Ada", "email": "a@b.co"}}),
    ("page names and page properties: only the keys", FIX, {"type": "page", "name": "home_page", "properties": {"Path": "/"}},
     [], [v("properties.Path", "snake_case", "Path")], {"type": "page", "name": "home_page", "properties": {"path": "/"}}),
    ("no rule for a part: left alone", NamingRules(events=OA, mode="fix"), {"type": "track", "event": "Order Completed", "properties": {"OrderId": 1}},
     [], [], {"type": "track", "event": "Order Completed", "properties": {"OrderId": 1}}),
    ("alias has no names to check", FIX, {"type": "alias", "previousId": "a", "userId": "b"}, [], [], {"type": "alias", "previousId": "a", "userId": "b"}),
]  # fmt: skip


@pytest.mark.parametrize(
    ("rules", "message", "violations", "fixed", "after"),
    [c[1:] for c in CHECKS],
    ids=[c[0] for c in CHECKS],
)
def test_naming_rules(
    rules: NamingRules,
    message: dict[str, Any],
    violations: list[Violation],
    fixed: list[Violation],
    after: dict[str, Any],
) -> None:
    before = repr(message)
    result = rules.check(message)
    assert list(result.violations) == violations
    assert list(result.fixed) == fixed
    assert result.message == after
    assert repr(message) == before  # the input is never changed; a fix makes a new dict
