"""The evidence a profile offers probabilistic matching: one flat record per person.

The matching engine (`identity.matching`) compares records field by field. A record is built
from the person's current traits (merged across every profile merged into it) and the
identifiers the graph holds for them, so two profiles of one person are one record, named by
their canonical profile id.

Traits are read under the names Segment's Spec reserves (`firstName`, `lastName`, `name`,
`email`, `phone`, `address` as an object or a string, `birthday`) and the snake_case forms
people send as often (`first_name`, `dob`, …). A full `name` fills in whichever of the first
and last names are missing: its first word and its last.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Iterable, Mapping
from datetime import date, datetime
from typing import Any

FIELDS = ("first_name", "last_name", "email", "phone", "address", "city", "postcode", "dob")
"""The record's fields besides `profile_id` (the engine's default comparisons name them)."""

TRAIT_NAMES: dict[str, tuple[str, ...]] = {
    "first_name": ("first_name", "firstName", "firstname", "given_name"),
    "last_name": ("last_name", "lastName", "lastname", "family_name", "surname"),
    "email": ("email",),
    "phone": ("phone", "phone_number", "phoneNumber"),
    "address": ("address", "street"),
    "city": ("city",),
    "postcode": ("postcode", "postal_code", "postalCode", "zip", "zip_code"),
    "dob": ("dob", "birthday", "date_of_birth", "dateOfBirth", "birthdate"),
}
"""Where each field is read from, first found wins."""

READ_TRAITS: tuple[str, ...] = ("name", *{n for names in TRAIT_NAMES.values() for n in names})
"""Every trait a record reads (the store loads only these)."""

IDENTIFIER_FIELDS = {"email": "email", "phone": "phone"}
"""Identifier type → field, used when no trait gives the field."""

MAX_VALUE = 200  # characters kept of any one value: evidence, not storage
_SPACES = re.compile(r"\s+")
_ISO_DATE = re.compile(r"^(\d{4})-(\d{1,2})-(\d{1,2})")


def evidence_record(
    profile_id: str, traits: Mapping[str, Any], identifiers: Iterable[tuple[str, str]]
) -> dict[str, str | None]:
    """The record of one person: `profile_id` (canonical) and every field of `FIELDS`, each a
    cleaned string or None when the person has no such evidence."""
    record: dict[str, str | None] = {"profile_id": profile_id}
    address = traits.get("address")
    if isinstance(address, Mapping):
        # Segment's reserved `address` trait is an object: street, city, postalCode, …
        nested = {
            "address": address.get("street"),
            "city": address.get("city"),
            "postcode": _first(address, TRAIT_NAMES["postcode"]),
        }
    else:
        nested = {}
    for field in FIELDS:
        value = None if field == "address" and nested else _first(traits, TRAIT_NAMES[field])
        if value is None:
            value = nested.get(field)
        record[field] = _clean(field, value)
    _split_name(record, traits.get("name"))
    for id_type, value in identifiers:
        named = IDENTIFIER_FIELDS.get(id_type)
        if named is not None and record[named] is None:
            record[named] = _clean(named, value)
    return record


def digest(record: Mapping[str, Any]) -> str:
    """A fingerprint of a record: the matching job looks again only at records whose
    fingerprint changed since its last run."""
    text = json.dumps(record, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(text.encode()).hexdigest()


def _first(source: Mapping[str, Any], names: Iterable[str]) -> Any:
    for name in names:
        value = source.get(name)
        if value not in (None, ""):
            return value
    return None


def _split_name(record: dict[str, str | None], name: Any) -> None:
    if not isinstance(name, str):
        return
    words = _SPACES.split(name.strip())
    if len(words) < 2:
        return
    if record["first_name"] is None:
        record["first_name"] = _clean("first_name", words[0])
    if record["last_name"] is None:
        record["last_name"] = _clean("last_name", words[-1])


def _clean(field: str, value: Any) -> str | None:
    if field == "dob":
        return _date(value)
    if isinstance(value, bool) or not isinstance(value, str | int | float):
        return None  # an object or a list is not evidence for a flat field
    text = _SPACES.sub(" ", str(value)).strip().lower()[:MAX_VALUE]
    if field == "phone":
        # Keep a leading + so a country code stays apart from a trunk prefix.
        text = ("+" if text.startswith("+") else "") + re.sub(r"\D", "", text)
    return text or None


def _date(value: Any) -> str | None:
    """A date of birth as YYYY-MM-DD; anything that is not recognisably a date is dropped
    rather than compared as text."""
    if isinstance(value, datetime):
        return value.date().isoformat()
    if isinstance(value, date):
        return value.isoformat()
    if not isinstance(value, str):
        return None
    found = _ISO_DATE.match(value.strip())
    if found is None:
        return None
    try:
        return date(int(found[1]), int(found[2]), int(found[3])).isoformat()
    except ValueError:
        return None
