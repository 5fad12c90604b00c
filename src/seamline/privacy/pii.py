"""PII matchers: classify a field as personal data by its name and by its value.

Classifications follow Segment's Privacy Portal: red (must not leave Seamline unprotected:
card numbers, national ids, bank accounts), yellow (identifies a person: email, phone, name,
address, birth date, IP address), green (anything else).
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from enum import StrEnum
from typing import Any


class Classification(StrEnum):
    GREEN = "green"
    YELLOW = "yellow"
    RED = "red"


_RANK = {Classification.GREEN: 0, Classification.YELLOW: 1, Classification.RED: 2}


@dataclass(frozen=True)
class Matcher:
    """Recognises one kind of personal data, by field name, by value, or both."""

    kind: str
    classification: Classification
    names: frozenset[str] = frozenset()
    value: Callable[[str], bool] | None = None
    name_pattern: re.Pattern[str] | None = None

    def matches_name(self, key: str) -> bool:
        if key in self.names:
            return True
        return self.name_pattern is not None and self.name_pattern.search(key) is not None

    def matches_value(self, text: str) -> bool:
        return self.value is not None and self.value(text)


@dataclass(frozen=True)
class Match:
    kind: str
    classification: Classification
    by: str  # "name" or "value"


def _normal(text: str) -> str:
    return re.sub(r"[^a-z0-9]", "", text.lower())


def field_key(path: str) -> str:
    """The comparable form of a field's last path segment: `properties.First-Name` → firstname.

    A bare `name` is a person's name only among traits (`traits.name`, Segment's reserved
    trait); elsewhere (`context.library.name`, a product's `properties.name`) it is not.
    """
    segments = path.replace("[]", "").rsplit(".", 2)
    last = _normal(segments[-1])
    if last == "name" and (len(segments) < 2 or _normal(segments[-2]) != "traits"):
        return "name-of-a-thing"
    return last


# --- value checks ---------------------------------------------------------------------------

_EMAIL = re.compile(r"^[A-Za-z0-9._%+'-]+@[A-Za-z0-9-]+(\.[A-Za-z0-9-]+)*\.[A-Za-z]{2,}$")
_CARD_SHAPE = re.compile(r"^\d[\d -]{11,21}\d$")
_CARD_PREFIX = re.compile(r"^(4|5[1-5]|2[2-7]|3[47]|6011|65|64[4-9]|35|30[0-5]|36|38|62)")
_SSN = re.compile(r"^(?!000|666|9\d\d)\d{3}-(?!00)\d{2}-(?!0000)\d{4}$")
_IBAN_SHAPE = re.compile(r"^[A-Z]{2}\d{2}[A-Z0-9]{11,30}$")
_PHONE_SHAPE = re.compile(r"^\+?[\d\s().-]{7,22}$")
# Shapes that look like phones but are dates, US SSNs or dotted addresses.
_NOT_PHONE = re.compile(
    r"^(\d{4}[-./]\d{1,2}[-./]\d{1,2}|\d{1,2}[-./]\d{1,2}[-./]\d{4}|\d{3}-\d{2}-\d{4}"
    r"|\d{1,3}(\.\d{1,3}){3})$"
)


def luhn(digits: str) -> bool:
    """The Luhn checksum that every payment card number satisfies."""
    total = 0
    for position, char in enumerate(reversed(digits)):
        digit = ord(char) - 48
        if position % 2:
            digit *= 2
            if digit > 9:
                digit -= 9
        total += digit
    return total % 10 == 0


def is_card_number(text: str) -> bool:
    if not _CARD_SHAPE.match(text):
        return False
    digits = text.replace(" ", "").replace("-", "")
    return 13 <= len(digits) <= 19 and bool(_CARD_PREFIX.match(digits)) and luhn(digits)


def is_iban(text: str) -> bool:
    compact = text.replace(" ", "").upper()
    if not _IBAN_SHAPE.match(compact):
        return False
    rearranged = compact[4:] + compact[:4]
    number = "".join(str(int(char, 36)) for char in rearranged)
    return int(number) % 97 == 1


def is_ssn(text: str) -> bool:
    return bool(_SSN.match(text))


def is_email(text: str) -> bool:
    return len(text) <= 254 and bool(_EMAIL.match(text))


def is_phone(text: str) -> bool:
    """A phone number as people write one: a leading + or separators, 7 to 15 digits.

    Bare digit runs are left alone (order ids, amounts); card numbers are not phones.
    """
    if not _PHONE_SHAPE.match(text):
        return False
    digits = sum(char.isdigit() for char in text)
    if not 7 <= digits <= 15:
        return False
    written_as_phone = text.startswith("+") or any(char in text for char in " ()-.")
    return written_as_phone and not _NOT_PHONE.match(text) and not is_card_number(text)


_IP_SHAPE = re.compile(r"^[0-9A-Fa-f:.]{2,45}$")


def is_ip_address(text: str) -> bool:
    # The shape check first: ipaddress raises (slowly) for most text it is handed.
    if not _IP_SHAPE.match(text):
        return False
    try:
        address = ipaddress.ip_address(text)
    except ValueError:
        return False
    return not (address.is_loopback or address.is_unspecified)


def _names(*names: str) -> frozenset[str]:
    return frozenset(_normal(name) for name in names)


DEFAULT_MATCHERS: tuple[Matcher, ...] = (
    Matcher(
        "credit_card",
        Classification.RED,
        _names("credit_card", "card_number", "cc_number", "ccnum", "pan"),
        is_card_number,
    ),
    Matcher("ssn", Classification.RED, _names("ssn", "social_security_number"), is_ssn),
    Matcher("iban", Classification.RED, _names("iban", "bank_account", "account_number"), is_iban),
    Matcher("passport", Classification.RED, _names("passport", "passport_number")),
    Matcher("email", Classification.YELLOW, _names("email", "email_address", "e_mail"), is_email),
    Matcher(
        "phone",
        Classification.YELLOW,
        _names("phone", "phone_number", "mobile", "telephone", "tel", "cell"),
        is_phone,
    ),
    Matcher("ip_address", Classification.YELLOW, _names("ip", "ip_address"), is_ip_address),
    Matcher(
        "name",
        Classification.YELLOW,
        _names(
            "name",
            "first_name",
            "last_name",
            "full_name",
            "firstname",
            "lastname",
            "given_name",
            "family_name",
            "surname",
        ),
    ),
    Matcher(
        "address",
        Classification.YELLOW,
        _names(
            "address",
            "street",
            "street_address",
            "address_line1",
            "address_line2",
            "postal_code",
            "postcode",
            "zip",
            "zip_code",
        ),
    ),
    Matcher(
        "birth_date",
        Classification.YELLOW,
        _names("birthday", "dob", "date_of_birth", "birth_date", "birthdate"),
    ),
)


def custom_matcher(
    kind: str,
    classification: Classification | str,
    *,
    names: Iterable[str] = (),
    name_regex: str | None = None,
    value_regex: str | None = None,
) -> Matcher:
    """A user-defined matcher (field names, a field-name regex, a value regex)."""
    value_pattern = re.compile(value_regex) if value_regex else None
    return Matcher(
        kind,
        Classification(classification),
        _names(*names),
        (lambda text: bool(value_pattern.fullmatch(text))) if value_pattern else None,
        re.compile(name_regex, re.IGNORECASE) if name_regex else None,
    )


def classify(path: str, value: Any, matchers: Sequence[Matcher] = DEFAULT_MATCHERS) -> list[Match]:
    """Every matcher that recognises this field, by its name or by its (text) value."""
    key = field_key(path)
    text = value.strip() if isinstance(value, str) else None
    found: list[Match] = []
    for matcher in matchers:
        if matcher.matches_name(key):
            found.append(Match(matcher.kind, matcher.classification, "name"))
        elif text and matcher.matches_value(text):
            found.append(Match(matcher.kind, matcher.classification, "value"))
    return found


def classification_of(matches: Iterable[Match]) -> Classification:
    """The strictest classification among matches (green when none)."""
    best = Classification.GREEN
    for match in matches:
        if _RANK[match.classification] > _RANK[best]:
            best = match.classification
    return best
