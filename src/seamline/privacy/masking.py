"""What a reader without PII access sees: yellow and red fields masked.

The fields are found by the workspace's PII matchers (privacy/pii.py, custom ones included)
and masked by the `mask` control destinations use (privacy/controls.py): the key stays, the
value keeps only what lets a person recognise it (`j***@example.com`, `************4242`,
`*****` for a name). Green fields and the message's ids are shown as they are.
"""

from __future__ import annotations

import json
import re
from typing import Any

from seamline.privacy.controls import mask
from seamline.privacy.fields import FieldClassifier, PiiControl, control_fields
from seamline.privacy.pii import Classification, Match

MASKED = (Classification.RED, Classification.YELLOW)
_CONTROLS = tuple(PiiControl(control="mask", classification=level) for level in MASKED)


class Masker:
    """Masks yellow and red PII in documents the APIs show (changing them in place)."""

    def __init__(self, classifier: FieldClassifier) -> None:
        self._classifier = classifier

    def message(self, message: dict[str, Any]) -> dict[str, Any]:
        """A message or event: its properties, traits and context, masked."""
        control_fields(message, self._classifier, _CONTROLS, b"")
        return message

    def traits(self, traits: dict[str, Any], *, verbose: bool = False) -> dict[str, Any]:
        """A profile's traits `{name: value}` (verbose: `{name: {"value": …, …}}`), masked."""
        values = {name: found["value"] if verbose else found for name, found in traits.items()}
        self.message({"traits": values})
        for name, value in values.items():
            if verbose:
                traits[name]["value"] = value
            else:
                traits[name] = value
        return traits

    def identifier(self, id_type: str, value: str) -> str:
        """An external id (`email` …) masked when its type or its value is PII."""
        found = self._classifier.by_name("traits." + id_type) or self._classifier.by_value(value)
        kind = _masked_kind(found)
        return value if kind is None else mask(kind, value)

    def violation(self, path: str, actual: str) -> str:
        """A violation's quoted value (`string "ann@x.com"`, `number 4242…`) masked when its
        field or its value is PII; its JSON type stays."""
        json_type, _, quoted = actual.partition(" ")
        if json_type not in ("string", "number") or not quoted:
            return actual  # null, missing, "object with 2 keys": no value is quoted
        text = quoted
        if json_type == "string":
            try:
                text = json.loads(quoted)
            except ValueError:  # clipped at 60 characters: drop the quotes by hand
                text = quoted.strip('"').rstrip("…")
        kind = _masked_kind(self._classifier.classify(path.split(".")[0] + "." + _last(path), text))
        if kind is None:
            return actual
        shown = mask(kind, str(text))
        return f'string "{shown}"' if json_type == "string" else f"number {shown}"

    def reason(self, reason: str) -> str:
        """A held message's reason quoting a violation (`traits.email: type (expected number,
        got string "ann@x.com")`) with the quoted value masked as in `violation`."""
        found = _QUOTING_REASON.match(reason)
        if found is None:
            return reason
        masked = self.violation(found["path"], found["actual"])
        return reason[: found.start("actual")] + masked + reason[found.end("actual") :]


# protocols/enforce.py's summary of the violations that held a message.
_QUOTING_REASON = re.compile(
    r"^(?P<path>[^\s:]+): \S+ \(expected .*, got (?P<actual>(string|number) .*)\)"
    r"( and \d+ more)?$"
)


def _last(path: str) -> str:
    """The last key of a violation's path, skipping list indexes (`products.0.sku` → sku)."""
    keys = [key for key in path.split(".") if not key.isdigit()]
    return keys[-1] if keys else path


def _masked_kind(matches: list[Match]) -> str | None:
    """The kind to mask a value as, when a match is yellow or red."""
    for level in MASKED:
        for match in matches:
            if match.classification == level:
                return match.kind
    return None
