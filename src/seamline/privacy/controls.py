"""What happens to a classified field before it leaves Seamline: allow, hash, mask or drop."""

from __future__ import annotations

import hashlib
import hmac
from enum import StrEnum
from typing import Any

from seamline.errors import InvalidInput


class Control(StrEnum):
    ALLOW = "allow"
    HASH = "hash"  # HMAC-SHA-256 with the workspace's salt: joinable inside Seamline only
    HASH_PLAIN = "hash_plain"  # plain SHA-256 of the normalised value, as ad platforms want
    MASK = "mask"
    DROP = "drop"


DROPPED = object()
"""Returned by `apply_control` for a field that must be removed."""


def normalise_for_hash(kind: str, text: str) -> str:
    """Ad platforms match on SHA-256 of trimmed, lower-cased emails and digits-only phones."""
    if kind == "email":
        return text.strip().lower()
    if kind == "phone":
        return "".join(char for char in text if char.isdigit() or char == "+")
    return text.strip()


def mask(kind: str, text: str) -> str:
    """Hide all but what a person needs to recognise the value (last 4 digits, email domain)."""
    text = text.strip()
    if kind == "email" and "@" in text:
        local, _, domain = text.partition("@")
        return local[:1] + "***@" + domain
    if kind in ("credit_card", "iban", "phone", "ssn"):
        digits = [char for char in text if char.isalnum()]
        return "*" * max(len(digits) - 4, 0) + "".join(digits[-4:])
    return "*" * len(text)


def apply_control(control: Control | str, kind: str, value: Any, salt: bytes) -> Any:
    """The value as it may leave Seamline under `control`, or `DROPPED`."""
    control = Control(control)
    if control is Control.ALLOW:
        return value
    if control is Control.DROP:
        return DROPPED
    text = value if isinstance(value, str) else str(value)
    if control is Control.MASK:
        return mask(kind, text)
    normalised = normalise_for_hash(kind, text).encode()
    if control is Control.HASH_PLAIN:
        return hashlib.sha256(normalised).hexdigest()
    if not salt:
        raise InvalidInput("hashing with the workspace salt needs a salt; none is configured")
    return hmac.new(salt, normalised, hashlib.sha256).hexdigest()
