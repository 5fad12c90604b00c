"""PII classification on a corpus of realistic values and look-alikes."""

from __future__ import annotations

from typing import Any

import pytest

from seamline.privacy.pii import (
    Classification,
    classification_of,
    classify,
    custom_matcher,
    is_iban,
    luhn,
)

# (field path, value, expected kind or None). Each row: "this value in this field is <kind>".
CORPUS: list[tuple[str, Any, str | None]] = [
    # payment cards: valid numbers of several networks, and look-alikes that fail Luhn/prefix
    ("properties.payment", "4111 1111 1111 1111", "credit_card"),
    ("properties.payment", "5500-0000-0000-0004", "credit_card"),
    ("properties.payment", "340000000000009", "credit_card"),
    ("properties.payment", "6011000000000004", "credit_card"),
    ("properties.payment", "4111 1111 1111 1112", None),  # Luhn fails
    ("properties.order_number", "1234567812345678", None),  # no card prefix
    ("properties.tracking", "9400100000000000000000", None),  # too long
    # national ids and bank accounts
    ("properties.ref", "123-45-6789", "ssn"),
    ("properties.ref", "000-12-3456", None),
    ("properties.ref", "666-12-3456", None),
    ("properties.bank", "DE89 3704 0044 0532 0130 00", "iban"),
    ("properties.bank", "GB82WEST12345698765432", "iban"),
    ("properties.bank", "GB82WEST12345698765433", None),  # checksum fails
    # emails
    ("properties.contact", "ann.smith+news@example.co.uk", "email"),
    ("properties.contact", "o'neil@example.ie", "email"),
    ("properties.contact", "not an email", None),
    ("properties.contact", "ann@localhost", None),
    ("properties.handle", "@ann", None),
    # phones
    ("properties.contact", "+31 6 1234 5678", "phone"),
    ("properties.contact", "(555) 123-4567", "phone"),
    ("properties.contact", "+14155552671", "phone"),
    ("properties.quantity", "12345678", None),  # a bare number is not a phone
    ("properties.version", "1.2.3", None),
    ("properties.date", "2026-11-29", None),
    # IP addresses
    ("properties.client", "203.0.113.7", "ip_address"),
    ("properties.client", "2001:db8::1", "ip_address"),
    ("properties.client", "127.0.0.1", None),
    ("properties.client", "999.1.1.1", None),
    # by field name
    ("traits.first_name", "Ann", "name"),
    ("traits.name", "Ann Smith", "name"),
    ("context.traits.name", "Ann Smith", "name"),
    ("context.library.name", "analytics.js", None),  # `name` is a person's only among traits
    ("properties.name", "Blue Suede Shoes", None),
    ("traits.lastName", "Smith", "name"),
    ("traits.address.street", "1 Main St", "address"),
    ("traits.address.postalCode", "2611 AB", "address"),
    ("traits.birthday", "1990-04-01", "birth_date"),
    ("traits.Email", "whatever", "email"),
    ("traits.phone_number", "n/a", "phone"),
    ("traits.passport", "X1234567", "passport"),
    ("context.ip", "203.0.113.9", "ip_address"),
    # green
    ("properties.plan", "pro", None),
    ("properties.total", 129.99, None),
    ("properties.sku", "SKU-4821", None),
    ("properties.coupon", "SPRING24", None),
    ("properties.url", "https://shop.example/p/1", None),
]


@pytest.mark.parametrize(("path", "value", "kind"), CORPUS)
def test_each_value_is_classified(path: str, value: Any, kind: str | None) -> None:
    found = {match.kind for match in classify(path, value)}
    assert found == ({kind} if kind else set())


def test_precision_and_recall_on_the_corpus() -> None:
    true_positive = false_positive = false_negative = 0
    for path, value, kind in CORPUS:
        found = {match.kind for match in classify(path, value)}
        expected = {kind} if kind else set()
        true_positive += len(found & expected)
        false_positive += len(found - expected)
        false_negative += len(expected - found)
    precision = true_positive / (true_positive + false_positive)
    recall = true_positive / (true_positive + false_negative)
    print(f"PII corpus: {len(CORPUS)} values, precision {precision:.3f}, recall {recall:.3f}")
    assert precision == 1.0 and recall == 1.0


def test_classification_is_the_strictest_match() -> None:
    assert classification_of(classify("traits.email", "4111111111111111")) == Classification.RED
    assert classification_of(classify("traits.email", "a@b.io")) == Classification.YELLOW
    assert classification_of(classify("properties.plan", "pro")) == Classification.GREEN


def test_custom_matchers() -> None:
    loyalty = custom_matcher("loyalty_id", "red", name_regex=r"loyalty", value_regex=r"LY-\d{6}")
    assert [m.kind for m in classify("properties.myLoyaltyNumber", "x", [loyalty])] == [
        "loyalty_id"
    ]
    assert [m.by for m in classify("properties.ref", "LY-123456", [loyalty])] == ["value"]
    assert classify("properties.ref", "LY-12", [loyalty]) == []
    with pytest.raises(ValueError):
        custom_matcher("x", "purple")


def test_checksums() -> None:
    assert luhn("79927398713") and not luhn("79927398710")
    assert is_iban("NL91ABNA0417164300") and not is_iban("NL91ABNA0417164301")
