"""Google's user identifiers (Customer Match and enhanced conversions), normalised and SHA-256
hashed as Google documents.

- `hashedEmail`: trimmed and lowercased; for gmail.com and googlemail.com addresses the dots
  before the @ are removed.
- `hashedPhoneNumber`: E.164 (`+` and the digits); a number without `+` or `00` gets the
  payload's country calling code (`phone_country_code`, default +1).
- `addressInfo`, sent only whole: `hashedFirstName` and `hashedLastName` trimmed and
  lowercased, then hashed; `countryCode` (two letters) and `postalCode` in the clear, as
  Google asks.

A value that already is a SHA-256 (64 hex digits) is sent as it is, never hashed twice.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from seamline.destinations.hashing import google_email, hashed, lowercase, phone_e164_with_country

DEFAULT_COUNTRY_CODE = "+1"


def user_identifiers(payload: Mapping[str, Any]) -> list[dict[str, Any]]:
    """The `userIdentifiers` of one person from a payload's email, phone and address fields."""
    found: list[dict[str, Any]] = []
    if email := hashed(payload.get("email"), google_email):
        found.append({"hashedEmail": email})
    country_code = payload.get("phone_country_code") or DEFAULT_COUNTRY_CODE
    if phone := hashed(payload.get("phone"), lambda t: phone_e164_with_country(t, country_code)):
        found.append({"hashedPhoneNumber": phone})
    first = hashed(payload.get("first_name"), lowercase)
    last = hashed(payload.get("last_name"), lowercase)
    country = str(payload.get("country_code") or "").strip().upper()
    postal = str(payload.get("postal_code") or "").strip()
    if first and last and country and postal:  # Google matches an address only whole
        found.append(
            {
                "addressInfo": {
                    "hashedFirstName": first,
                    "hashedLastName": last,
                    "countryCode": country,
                    "postalCode": postal,
                }
            }
        )
    return found
