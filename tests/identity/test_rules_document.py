"""The identity rules document: canonical form, the rules it stands for, and what it refuses."""

from __future__ import annotations

from typing import Any

import pytest

from seamline.config import Settings
from seamline.identity.rules import DEFAULT_BLOCKED, DEFAULT_RULES
from seamline.identity.rules_document import (
    InvalidIdentityRules,
    defaults_document,
    document_from_settings,
    normalise_identity,
    rules_from_document,
)


def test_the_canonical_form_sorts_types_and_drops_duplicates() -> None:
    document = normalise_identity(
        {
            "types": {"phone": {"priority": 3, "limit": 2}, "email": {"limit": None}},
            "blocked_values": ["Test@Test.com", "test@test.com ", ""],
            "custom": [{"name": "customer_number", "path": "properties.customer_number"}],
        }
    )
    assert document == {
        "types": {"email": {"limit": None}, "phone": {"priority": 3, "limit": 2}},
        "blocked_patterns": [],
        "custom": [{"name": "customer_number", "path": "properties.customer_number"}],
        "blocked_values": ["test@test.com", ""],
    }
    assert list(document["types"]) == ["email", "phone"]
    assert normalise_identity(document) == document  # canonical is a fixed point
    assert normalise_identity(None) == {"types": {}, "blocked_patterns": [], "custom": []}


def test_the_rules_keep_defaults_for_what_the_document_leaves_out() -> None:
    rules = rules_from_document(
        normalise_identity(
            {
                "types": {
                    "phone": {"priority": 3, "limit": 2, "window_seconds": 60},
                    "email": {"limit": None},
                    "loyalty": {"limit": 1},
                },
                "blocked_patterns": ["^0+$"],
                "custom": [{"name": "loyalty", "path": "traits.loyalty"}],
            }
        )
    )
    assert (rules.rule("phone").priority, rules.rule("phone").limit) == (3, 2)
    assert rules.rule("phone").window_seconds == 60
    assert rules.rule("email").limit is None  # null: unlimited
    assert rules.rule("email").priority == DEFAULT_RULES["email"].priority
    assert rules.rule("loyalty").limit == 1
    assert rules.rule("user_id") == DEFAULT_RULES["user_id"]
    assert rules.is_blocked("0000") and rules.is_blocked("null")  # defaults kept
    assert rules.custom == (("loyalty", ("traits", "loyalty")),)


def test_blocked_values_given_replace_the_defaults() -> None:
    rules = rules_from_document(normalise_identity({"blocked_values": ["Nobody"]}))
    assert rules.is_blocked("nobody") and not rules.is_blocked("null")


def test_the_legacy_settings_seed_the_same_rules() -> None:
    settings = Settings(
        identity_types={"phone": {"priority": 2, "limit": 1}},
        identity_blocked_values=["x"],
        identity_blocked_patterns=["^9+$"],
        identity_custom_identifiers=[{"name": "crm", "path": "properties.crm"}],
    )
    document = document_from_settings(settings)
    assert document == {
        "types": {"phone": {"priority": 2, "limit": 1}},
        "blocked_patterns": ["^9+$"],
        "custom": [{"name": "crm", "path": "properties.crm"}],
        "blocked_values": ["x"],
    }
    assert document_from_settings(Settings()) == normalise_identity({})


def test_the_defaults_document_is_itself_valid() -> None:
    defaults = defaults_document()
    assert normalise_identity(defaults)["blocked_values"] == list(DEFAULT_BLOCKED)
    assert set(defaults["types"]) == set(DEFAULT_RULES)


REFUSED: list[tuple[str, Any, str]] = [
    ("an unknown key", {"typez": {}}, "unknown key 'typez'"),
    ("an unknown rule field", {"types": {"email": {"limits": 2}}}, "types.email: unknown field"),
    ("a priority of 0", {"types": {"email": {"priority": 0}}}, "types.email.priority: 0 is out"),
    ("a priority of -1", {"types": {"email": {"priority": -1}}}, "types.email.priority: -1"),
    ("a limit of 0", {"types": {"phone": {"limit": 0}}}, "types.phone.limit: 0 is out"),
    ("a limit as text", {"types": {"phone": {"limit": "2"}}}, "types.phone.limit: expected"),
    ("a true limit", {"types": {"phone": {"limit": True}}}, "types.phone.limit: expected"),
    ("a type name in capitals", {"types": {"Email": {"limit": 1}}}, "'Email' is not a type"),
    ("a catastrophic pattern", {"blocked_patterns": ["(a+)+$"]}, "nested quantifiers"),
    ("overlapping alternatives", {"blocked_patterns": ["(a|aa)+$"]}, "start alike"),
    ("a backreference", {"blocked_patterns": [r"(a)\1"]}, "backreference"),
    ("a long pattern", {"blocked_patterns": ["a" * 201]}, "at most 200"),
    ("a broken pattern", {"blocked_patterns": ["("]}, "not a regular expression"),
    ("10,000 blocked values", {"blocked_values": ["v"] * 10_000}, "10000 entries; at most 1000"),
    ("a blocked value as a number", {"blocked_values": [0]}, "blocked_values[0]: expected"),
    ("a path outside the message", {"custom": [{"name": "x", "path": "foo.bar"}]}, "not a message"),
    ("a path to nothing", {"custom": [{"name": "x", "path": "properties."}]}, "not a message"),
    ("a custom user_id", {"custom": [{"name": "user_id", "path": "userId"}]}, "built-in"),
    (
        "a custom type twice",
        {"custom": [{"name": "a", "path": "traits.a"}, {"name": "a", "path": "traits.b"}]},
        "named twice",
    ),
    (
        "a custom entry with more",
        {"custom": [{"name": "a", "path": "traits.a", "x": 1}]},
        "exactly",
    ),
    ("a list", [], "must be a mapping"),
    ("a huge document", {"blocked_patterns": ["x" * 300_000]}, "bytes as JSON"),
    ("a bad matching block", {"matching": {"threshold": 2}}, "matching:"),
]


@pytest.mark.parametrize(("_case", "document", "message"), REFUSED, ids=[r[0] for r in REFUSED])
def test_bad_documents_are_refused_with_the_place(_case: str, document: Any, message: str) -> None:
    with pytest.raises(InvalidIdentityRules) as raised:
        normalise_identity(document)
    assert message in raised.value.message
    assert raised.value.code == "invalid_identity_rules" and raised.value.status == 400


def test_a_catastrophic_pattern_in_the_settings_is_named_as_theirs() -> None:
    settings = Settings(identity_blocked_patterns=["(x+)+y"])
    with pytest.raises(InvalidIdentityRules, match="the identity_\\* settings"):
        document_from_settings(settings)
