"""The identifiers a message carries, normalised per type and filtered by the blocked values."""

from __future__ import annotations

import re
from typing import Any, NamedTuple

import msgspec

from seamline.identity.rules import IdentityRules
from seamline.spec.messages import Message, decode_part


class Identifier(NamedTuple):
    """One external id: its type (`user_id`, `email`, …) and normalised value."""

    type: str
    value: str

    def __str__(self) -> str:
        return f"{self.type}:{self.value}"

    @property
    def sent(self) -> str:
        """The value as the message sent it (a phone's own spelling), else the normalised one."""
        value = self.value
        return value.sent if isinstance(value, SentValue) else value


class SentValue(str):
    """A normalised value that remembers the text it was sent as.

    It equals and hashes as the normalised text, so identifiers match on that alone, while the
    store and the Profile API can keep and show `sent` (Segment shows a phone as it was sent).
    """

    sent: str

    def __new__(cls, value: str, sent: str | None = None) -> SentValue:
        made = super().__new__(cls, value)
        made.sent = value if sent is None else sent
        return made


class _Contact(msgspec.Struct):
    email: Any = None
    phone: Any = None


class _Device(msgspec.Struct, rename="camel"):
    id: Any = None
    advertising_id: Any = None
    ad_tracking_enabled: Any = None
    type: Any = None
    token: Any = None


class _Integrations(msgspec.Struct):
    google_analytics: Any = msgspec.field(default=None, name="Google Analytics")


class _ExternalId(msgspec.Struct):
    id: Any = None
    type: Any = None


class _Context(msgspec.Struct, rename="camel"):
    traits: _Contact | None = None
    device: _Device | None = None
    external_ids: list[_ExternalId] | None = None
    # Raw: decoded only when present, and a shape we do not expect there (`"Google Analytics":
    # true` is common) costs nothing but the GA client id, never the rest of the context.
    integrations: msgspec.Raw = msgspec.field(default_factory=msgspec.Raw)


_context = msgspec.json.Decoder(_Context)
_integrations = msgspec.json.Decoder(_Integrations)
_contact = msgspec.json.Decoder(_Contact)

_PHONE_NOISE = re.compile(r"[\s\-().]")
_PHONE = re.compile(r"^\+?\d{6,15}$")


def normalise(id_type: str, value: Any) -> str | None:
    """The canonical text of an identifier value, or None when it is not usable."""
    if isinstance(value, bool) or value is None:
        return None
    if isinstance(value, int | float):
        value = str(value)
    if not isinstance(value, str):
        return None
    text = value.strip()
    if id_type == "email":
        text = text.lower()
        return text if "@" in text else None
    if id_type == "phone":
        digits = _PHONE_NOISE.sub("", text)
        if digits.startswith("00"):
            digits = "+" + digits[2:]
        # E.164 when the number carries its country code; otherwise its digits as sent.
        if not _PHONE.match(digits):
            return None
        return digits if digits == text else SentValue(digits, text)
    return text or None


_any = msgspec.json.Decoder()
_TOP = {"userId": "user_id", "anonymousId": "anonymous_id", "groupId": "group_id"}


def _at_path(message: Message, path: tuple[str, ...]) -> Any:
    """The value at a configured path (`properties.customer_number`, `userId`), or None."""
    if len(path) == 1:
        return getattr(message, _TOP[path[0]], None)
    raw = getattr(message, path[0])
    if not raw:
        return None
    value: Any = _any.decode(raw)
    for key in path[1:]:
        if not isinstance(value, dict):
            return None
        value = value.get(key)
    return value


def identifiers_of(message: Message, rules: IdentityRules) -> list[Identifier]:
    """Every usable identifier of `message`, most trusted first, without duplicates."""
    found: list[tuple[str, Any]] = [
        ("user_id", message.user_id),
        ("anonymous_id", message.anonymous_id),
    ]
    if message.type == "alias":
        # alias links a previous id (almost always the anonymous id used before sign-up) to
        # the userId; as an anonymous_id it never collides with the one-user_id limit.
        found.append(("anonymous_id", message.previous_id))
    traits = decode_part(_contact, message.traits) if message.type == "identify" else None
    if traits is not None:
        found += [("email", traits.email), ("phone", traits.phone)]
    if message.type == "track":
        properties = decode_part(_contact, message.properties)
        if properties is not None:
            found += [("email", properties.email), ("phone", properties.phone)]
    context = decode_part(_context, message.context)
    if context is not None:
        if context.traits is not None:
            found += [("email", context.traits.email), ("phone", context.traits.phone)]
        device = context.device
        if device is not None:
            kind = device.type.lower() if isinstance(device.type, str) else ""
            platform = kind if kind in ("android", "ios") else None
            found.append((f"{platform}.id" if platform else "device_id", device.id))
            if platform:
                # Segment promotes the ad id only when the device says tracking is allowed.
                if device.ad_tracking_enabled is True:
                    found.append((f"{platform}.idfa", device.advertising_id))
                found.append((f"{platform}.push_token", device.token))
        if context.integrations:
            integrations = decode_part(_integrations, context.integrations)
            analytics = integrations.google_analytics if integrations is not None else None
            if isinstance(analytics, dict):
                found.append(("ga_client_id", analytics.get("clientId")))
        for external in context.external_ids or ():
            if isinstance(external.type, str) and external.type.strip():
                found.append((external.type.strip().lower(), external.id))
    if rules.custom:
        found += [(name, _at_path(message, path)) for name, path in rules.custom]
    seen: dict[Identifier, None] = {}
    for id_type, raw in found:
        if raw is None:
            continue  # most of them: an anonymous visitor has no userId, email or phone
        value = normalise(id_type, raw)
        if value is not None and not rules.is_blocked(value):
            seen.setdefault(Identifier(id_type, value))
    if len(seen) < 2:
        return list(seen)  # most traffic: nothing to order
    return sorted(seen, key=lambda identifier: rules.rank(identifier.type))
