"""A person's matching evidence, read from Segment's reserved traits and the usual variants."""

from __future__ import annotations

from typing import Any

import pytest

from seamline.identity.evidence import FIELDS, digest, evidence_record

EMPTY = dict.fromkeys(FIELDS)


@pytest.mark.parametrize(
    ("traits", "identifiers", "expected"),
    [
        # Segment's camelCase traits and the snake_case ones read the same.
        (
            {"firstName": " Ada ", "lastName": "LOVELACE", "birthday": "1815-12-10T00:00:00Z"},
            [],
            {"first_name": "ada", "last_name": "lovelace", "dob": "1815-12-10"},
        ),
        (
            {"first_name": "Ada", "last_name": "Lovelace", "dob": "1815-12-10"},
            [],
            {"first_name": "ada", "last_name": "lovelace", "dob": "1815-12-10"},
        ),
        # A full name fills in the first and last names (first word, last word).
        (
            {"name": "Ada  King Lovelace"},
            [],
            {"first_name": "ada", "last_name": "lovelace"},
        ),
        # ... but never overrides them.
        (
            {"name": "Ada Lovelace", "firstName": "Augusta"},
            [],
            {"first_name": "augusta", "last_name": "lovelace"},
        ),
        # Segment's address object: street, city, postalCode.
        (
            {"address": {"street": "12 St James's Sq", "city": "London", "postalCode": "SW1Y 4JH"}},
            [],
            {"address": "12 st james's sq", "city": "london", "postcode": "sw1y 4jh"},
        ),
        # An address written as one string is the street line.
        (
            {"address": "12 St James's Square", "zip": "SW1Y"},
            [],
            {"address": "12 st james's square", "postcode": "sw1y"},
        ),
        # Phones keep their digits and a leading +.
        ({"phone": "+44 (20) 7946-0958"}, [], {"phone": "+442079460958"}),
        # Identifiers fill what traits do not say; the oldest one first.
        (
            {},
            [("email", "ada@example.com"), ("email", "a@example.org"), ("phone", "555 0100")],
            {"email": "ada@example.com", "phone": "5550100"},
        ),
        # A trait wins over an identifier.
        (
            {"email": "Ada@Example.com"},
            [("email", "old@example.com")],
            {"email": "ada@example.com"},
        ),
        # What is not a date of birth is dropped, not compared as text.
        ({"birthday": "10/12/1815", "dob": None}, [], {}),
        ({"birthday": "1815-02-30"}, [], {}),
        # Objects and lists are not evidence for a flat field; nor are booleans.
        ({"firstName": {"given": "Ada"}, "lastName": ["Lovelace"], "phone": True}, [], {}),
        # Other identifier types are not evidence.
        ({}, [("user_id", "u1"), ("anonymous_id", "a1")], {}),
    ],
)
def test_a_record_reads_traits_and_identifiers(
    traits: dict[str, Any], identifiers: list[tuple[str, str]], expected: dict[str, str]
) -> None:
    assert evidence_record("p1", traits, identifiers) == {"profile_id": "p1", **EMPTY, **expected}


def test_values_are_bounded() -> None:
    record = evidence_record("p1", {"firstName": "a" * 10_000}, [])
    assert record["first_name"] == "a" * 200


def test_the_digest_follows_the_evidence() -> None:
    first = evidence_record("p1", {"email": "ada@example.com"}, [])
    assert digest(first) == digest(evidence_record("p1", {"email": "ADA@example.com "}, []))
    assert digest(first) != digest(evidence_record("p1", {"email": "ada@example.org"}, []))
