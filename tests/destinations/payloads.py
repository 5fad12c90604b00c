"""The payload a subscription with an action's default mapping gives for a message, as the
destinations' tests build it."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from seamline.destinations.definition import Action
from seamline.destinations.mapping import compile_mapping, default_mapping, validate_payload


def default_payload(action: Action, message: Mapping[str, Any], **literals: Any) -> dict[str, Any]:
    """What `action`'s default mapping, with each of `literals` replacing one field's mapping,
    makes of `message`, validated against the action's fields."""
    mapping = {**default_mapping(action.fields), **literals}
    return validate_payload(compile_mapping(mapping)(dict(message)), action.fields)
