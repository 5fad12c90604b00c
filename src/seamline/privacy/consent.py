"""Consent: which destinations an event may reach, from the preferences it carries.

Events carry the end user's choices as `context.consent.categoryPreferences` (Segment's consent
object, e.g. `{"Advertising": false, "Analytics": true}`). Each destination is mapped to the
workspace's consent categories; an event reaches a destination only when it consents to every
category that destination is mapped to. As in Segment, an event without the consent object is
not subject to enforcement. A category the event does not mention counts as not consented.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any, Protocol

import msgspec

CONSENT_EVENT = "Segment Consent Preference Updated"


def preferences_of(context: Any) -> dict[str, bool] | None:
    """The consent preferences in a message's context, or None when it carries none."""
    if not isinstance(context, Mapping):
        return None
    consent = context.get("consent")
    if not isinstance(consent, Mapping):
        return None
    preferences = consent.get("categoryPreferences")
    if not isinstance(preferences, Mapping):
        return None
    return {str(name): value is True for name, value in preferences.items()}


def consents_to(preferences: Mapping[str, bool] | None, needed: frozenset[str]) -> bool:
    """Whether an event with `preferences` may go to a destination needing `needed`."""
    if preferences is None or not needed:
        return True
    return all(preferences.get(category, False) for category in needed)


class ProfileConsent(msgspec.Struct, frozen=True, kw_only=True):
    workspace_id: str
    profile_id: str
    preferences: dict[str, bool]
    updated_at: datetime
    message_id: str | None
    log_offset: int


class ConsentStore(Protocol):
    def record(self, found: list[ProfileConsent]) -> None:
        """Keep each profile's latest preferences (by message time, then log offset)."""
        ...

    def latest(self, workspace_id: str, profile_ids: list[str]) -> ProfileConsent | None:
        """The newest preferences among these profiles (a person merged from several)."""
        ...
