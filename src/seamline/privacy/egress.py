"""Egress: what a destination may receive of a message — consent first, then PII controls.

Applied to a copy of the message just before it leaves Seamline for one destination, so
each destination gets its own view (plain SHA-256 emails for an ad platform, masked for a
support tool) and the stored event is unchanged.
"""

from __future__ import annotations

import copy
from collections.abc import Mapping, Sequence
from typing import Any, NamedTuple

from seamline.privacy.consent import consents_to, preferences_of
from seamline.privacy.fields import FieldClassifier, PiiControl, control_fields

ALL_DESTINATIONS = "*"


class Prepared(NamedTuple):
    message: dict[str, Any] | None
    reason: str  # why it is None: "consent" or "pii:<kind>"


class Egress:
    def __init__(
        self,
        consent: Mapping[str, frozenset[str]],
        controls: Sequence[PiiControl],
        classifier: FieldClassifier,
        salt: bytes,
    ) -> None:
        self._consent = consent
        self._classifier = classifier
        self._salt = salt
        self._controls: dict[str, list[PiiControl]] = {}
        self._all = [c for c in controls if ALL_DESTINATIONS in c.destinations]
        for control in controls:
            for destination in control.destinations:
                if destination != ALL_DESTINATIONS:
                    self._controls.setdefault(destination, []).append(control)

    def needs(self, destination: str) -> frozenset[str]:
        """The consent categories `destination` is mapped to."""
        return self._consent.get(destination, frozenset())

    def prepare(self, destination: str, message: Mapping[str, Any]) -> Prepared:
        """The message as `destination` may receive it, or None with the reason it may not."""
        if not consents_to(preferences_of(message.get("context")), self.needs(destination)):
            return Prepared(None, "consent")
        controls = self._controls.get(destination, []) + self._all
        if not controls:
            return Prepared(dict(message), "")
        prepared = copy.deepcopy(dict(message))
        _, blocked = control_fields(prepared, self._classifier, controls, self._salt)
        if blocked is not None:
            return Prepared(None, f"pii:{blocked}")
        return Prepared(prepared, "")
