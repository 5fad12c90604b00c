"""The identifier normalisers ads tools document, and the rule every destination relies on:
a value that already is a SHA-256 is passed on, never hashed twice."""

from __future__ import annotations

from typing import Any

import pytest

from seamline.destinations.hashing import (
    google_email,
    hashed,
    is_sha256,
    lowercase,
    no_spaces_lowercase,
    phone_digits,
    phone_digits_no_leading_zeros,
    phone_e164,
    phone_e164_with_country,
    reddit_email,
    sha256_hex,
)


def test_sha256_of_a_known_input() -> None:
    # The SHA-256 of "abc" from FIPS 180-2's examples.
    assert sha256_hex("abc") == "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"


@pytest.mark.parametrize(
    ("normalise", "raw", "normalised"),
    [
        (lowercase, "  Jane.Doe@Example.COM ", "jane.doe@example.com"),
        (no_spaces_lowercase, " Mary Ann ", "maryann"),
        (google_email, "Jane.Doe@GoogleMail.com", "janedoe@googlemail.com"),
        (google_email, "Jane.Doe@example.com", "jane.doe@example.com"),
        (reddit_email, "Al.ice$+Apple@Example.Com", "alice@example.com"),
        (phone_digits, "+1 (650) 555-1212", "16505551212"),
        (phone_digits_no_leading_zeros, "0044 20 7946 0958", "442079460958"),
        (phone_e164, "+1 (650) 555-1212", "+16505551212"),
        (phone_e164, "0044 20 7946 0958", "+442079460958"),
    ],
)
def test_normalisers(normalise: Any, raw: str, normalised: str) -> None:
    assert normalise(raw) == normalised
    assert hashed(raw, normalise) == sha256_hex(normalised)


@pytest.mark.parametrize(
    ("raw", "country", "e164"),
    [
        ("07946 095812", "+44", "+447946095812"),
        ("(650) 555-1212", "1", "+16505551212"),
        ("1 650 555 1212", "+1", "+16505551212"),
        ("+33 6 12 34 56 78", "+1", "+33612345678"),
        ("0033 6 12 34 56 78", "+1", "+33612345678"),
        ("n/a", "+1", ""),
    ],
)
def test_a_country_code_is_added_only_to_national_numbers(
    raw: str, country: str, e164: str
) -> None:
    assert phone_e164_with_country(raw, country) == e164


def test_a_sha256_is_passed_on_lowercased_and_empty_values_give_nothing() -> None:
    digest = sha256_hex("jane@example.com")
    assert is_sha256(f" {digest.upper()} ")
    assert hashed(digest.upper(), reddit_email) == digest
    for empty in (None, "", "   ", [], {}, True):
        assert hashed(empty, lowercase) is None
    assert hashed("+-()", phone_digits) is None  # normalised to nothing
