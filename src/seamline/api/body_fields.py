"""Small JSON bodies of the management routes read field by field: a JSON object with known
keys, each of one type. A wrong body is 400 `invalid_input` naming the field (and changes
nothing), so a typo such as `{"enabeld": false}` is not silently ignored."""

from __future__ import annotations

from collections.abc import Collection, Mapping
from typing import Any

from seamline.errors import InvalidInput

STRINGS = "list of strings"
"""The type name of a field that holds a list of strings (roles)."""

_TYPES: dict[object, tuple[type, str]] = {
    str: (str, "a string"),
    bool: (bool, "true or false"),
    STRINGS: (list, "a list of strings"),
}


def read_body(
    body: Any, fields: Mapping[str, object], required: Collection[str] = ()
) -> dict[str, Any]:
    """The fields of `body` that it sends, checked: `fields` maps each known key to `str`,
    `bool` or `STRINGS`; `required` keys must be there."""
    if not isinstance(body, dict):
        known = ", ".join(fields)
        raise InvalidInput(f"send a JSON object with the fields {known}")
    unknown = sorted(set(body) - set(fields))
    if unknown:
        raise InvalidInput(
            f"unknown field(s) {', '.join(unknown)}; the fields are {', '.join(fields)}",
            details={"fields": unknown},
        )
    for key in required:
        if key not in body:
            raise InvalidInput(f"{key} is required", details={"field": key})
    for key, value in body.items():
        kind, described = _TYPES[fields[key]]
        fine = isinstance(value, kind)
        if fine and kind is list:
            fine = all(isinstance(item, str) for item in value)
        if not fine:
            raise InvalidInput(f"{key} must be {described}", details={"field": key})
    return dict(body)
