"""What a reader without PII access sees: yellow and red fields masked, green ones as they are."""

from __future__ import annotations

from typing import Any

import pytest

from seamline.privacy.fields import FieldClassifier
from seamline.privacy.masking import Masker
from seamline.privacy.pii import DEFAULT_MATCHERS, Classification, custom_matcher


@pytest.fixture
def masker() -> Masker:
    return Masker(FieldClassifier(DEFAULT_MATCHERS))


def test_a_message_keeps_its_keys_and_hides_yellow_and_red_values(masker: Masker) -> None:
    message: dict[str, Any] = {
        "userId": "zoe",
        "traits": {"email": "zoe@example.com", "name": "Zoe Quinn", "plan": "pro"},
        "properties": {
            "card": "4111 1111 1111 1111",
            "note": "call +44 20 7946 0958",
            "total": 20,
            "address": {"street": "1 Main St", "city": "Leeds"},
        },
        "context": {"ip": "203.0.113.9", "library": {"name": "analytics.js"}},
    }
    masker.message(message)
    assert message["userId"] == "zoe"  # ids are not fields
    assert message["traits"] == {"email": "z***@example.com", "name": "*********", "plan": "pro"}
    assert message["properties"]["card"] == "************1111"  # red, found by its value
    assert message["properties"]["note"] == "call +44 20 7946 0958"  # a phone inside text: green
    assert message["properties"]["total"] == 20
    assert set(message["properties"]["address"]) == {"*"}  # an address object, as a whole
    assert message["context"]["ip"] == "***********"
    assert message["context"]["library"] == {"name": "analytics.js"}


def test_traits_plain_and_verbose(masker: Masker) -> None:
    plain = masker.traits({"email": "ann@example.com", "age": 31})
    assert plain == {"email": "a***@example.com", "age": 31}
    verbose = masker.traits(
        {"phone": {"value": "+1 415 555 0100", "source_id": "web"}, "plan": {"value": "pro"}},
        verbose=True,
    )
    assert verbose == {
        "phone": {"value": "*******0100", "source_id": "web"},
        "plan": {"value": "pro"},
    }


def test_identifiers_are_masked_by_type_or_value(masker: Masker) -> None:
    assert masker.identifier("email", "ann@example.com") == "a***@example.com"
    assert masker.identifier("anonymous_id", "ann@example.com") == "a***@example.com"
    assert masker.identifier("user_id", "u-123") == "u-123"


@pytest.mark.parametrize(
    ("path", "actual", "shown"),
    [
        ("traits.email", 'string "ann@example.com"', 'string "a***@example.com"'),
        ("properties.note", 'string "ann@example.com"', 'string "a***@example.com"'),
        ("properties.ssn", "number 123456789", "number *****6789"),
        ("properties.products.0.name", 'string "Mug"', 'string "Mug"'),
        ("properties.total", 'string "20"', 'string "20"'),
        ("traits.email", "null", "null"),
        ("traits.address", "object with 2 keys", "object with 2 keys"),
        ("traits.name", "missing", "missing"),
    ],
)
def test_violation_samples_are_masked_when_the_field_or_value_is_pii(
    masker: Masker, path: str, actual: str, shown: str
) -> None:
    assert masker.violation(path, actual) == shown


def test_a_workspaces_custom_matcher_masks_too() -> None:
    matchers = (
        *DEFAULT_MATCHERS,
        custom_matcher("member", Classification.RED, names=["member_no"]),
    )
    masked = Masker(FieldClassifier(matchers)).message({"properties": {"member_no": "M-1"}})
    assert masked == {"properties": {"member_no": "***"}}


@pytest.mark.parametrize(
    ("reason", "shown"),
    [
        (
            'traits.email: type (expected number, got string "ann@example.com")',
            'traits.email: type (expected number, got string "a***@example.com")',
        ),
        (
            'properties.card: pattern (expected matching ^x, got string "4111111111111111") '
            "and 2 more",
            'properties.card: pattern (expected matching ^x, got string "************1111") '
            "and 2 more",
        ),
        (
            'properties.sku: type (expected number, got string "A-1")',
            'properties.sku: type (expected number, got string "A-1")',
        ),
        ("dropped by transformation strip", "dropped by transformation strip"),
    ],
)
def test_a_held_reason_quoting_a_violation_is_masked(
    masker: Masker, reason: str, shown: str
) -> None:
    assert masker.reason(reason) == shown
