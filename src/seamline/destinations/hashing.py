"""SHA-256 hashing of customer identifiers, as ads tools require before matching people.

Every tool documents its own normalisation (what to trim, lowercase or strip) before the hash,
and they differ: TikTok wants phones as `+15551234567`, Snap as `15551234567`, Google removes
the dots of a Gmail address and Reddit every non-alphanumeric character of any address's
local part. So this module holds the small normalisers and one `hashed` that applies one;
each destination picks the normaliser its tool documents. A value that already is a SHA-256
(64 hex digits) is passed on lowercased and never hashed twice, so people who hash upstream
keep matching.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Callable
from typing import Any

Normaliser = Callable[[str], str]

_SHA256 = re.compile(r"[0-9a-fA-F]{64}")
_GOOGLE_MAIL = frozenset({"gmail.com", "googlemail.com"})


def sha256_hex(text: str) -> str:
    """The lowercase hex SHA-256 of UTF-8 `text`."""
    return hashlib.sha256(text.encode()).hexdigest()


def is_sha256(text: str) -> bool:
    """Whether `text` (trimmed) already is a SHA-256 hex digest."""
    return bool(_SHA256.fullmatch(text.strip()))


def hashed(value: Any, normalise: Normaliser) -> str | None:
    """The SHA-256 of `value` after `normalise`; a SHA-256 given is returned lowercased; None
    when nothing is left to hash (an empty value, or one the normaliser empties)."""
    if value is None or isinstance(value, bool | dict | list):
        return None
    text = str(value).strip()
    if not text:
        return None
    if _SHA256.fullmatch(text):
        return text.lower()
    normalised = normalise(text)
    return sha256_hex(normalised) if normalised else None


def lowercase(text: str) -> str:
    """Trimmed and lowercased (emails for most tools, external ids)."""
    return text.strip().lower()


def trimmed(text: str) -> str:
    """Trimmed only: ids that are case-sensitive."""
    return text.strip()


def no_spaces_lowercase(text: str) -> str:
    """Every whitespace removed, lowercased (Pinterest's and Snap's rule for most keys)."""
    return re.sub(r"\s", "", text).lower()


def google_email(text: str) -> str:
    """Google's rule: trimmed, lowercased, and for gmail.com and googlemail.com addresses
    without the dots of the part before the @."""
    email = text.strip().lower()
    local, at, domain = email.partition("@")
    if at and domain in _GOOGLE_MAIL:
        return f"{local.replace('.', '')}@{domain}"
    return email


def reddit_email(text: str) -> str:
    """Reddit's canonical address: lowercased, the `+alias` dropped from the local part, then
    every character of the local part that is not a letter or digit removed."""
    email = text.strip().lower()
    local, at, domain = email.rpartition("@")
    if not at:
        return email
    local = re.sub(r"[^a-z0-9]", "", local.split("+", 1)[0])
    return f"{local}@{domain}" if local else ""


def phone_digits(text: str) -> str:
    """Digits only (the country code must be in the number already)."""
    return re.sub(r"\D", "", text)


def phone_digits_no_leading_zeros(text: str) -> str:
    """Digits only, leading zeros (a 00 international prefix) removed."""
    return phone_digits(text).lstrip("0")


def phone_e164(text: str) -> str:
    """E.164: `+` then the digits, a 00 international prefix read as `+`; empty when there
    are no digits. The country code must be in the number already."""
    digits = phone_digits_no_leading_zeros(text)
    return f"+{digits}" if digits else ""


def phone_e164_with_country(text: str, country_code: Any) -> str:
    """E.164 for a number that may lack its country code: a number written with `+` or `00`
    keeps its own; otherwise, after the national trunk 0 is dropped, `country_code` (like "+44"
    or "44") is put before it unless the digits already start with it."""
    stripped = text.strip()
    if stripped.startswith(("+", "00")) or not country_code:
        return phone_e164(stripped)
    national = phone_digits(stripped).lstrip("0")
    country = phone_digits(str(country_code))
    if not national:
        return ""
    if national.startswith(country):
        return f"+{national}"  # the country code was written without its +
    return f"+{country}{national}"
