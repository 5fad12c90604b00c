"""Dotted paths (`properties.product.sku`) into a message held as a plain dict."""

from __future__ import annotations

from typing import Any

MISSING: Any = object()


def split(path: str) -> tuple[str, ...]:
    return tuple(path.split("."))


def get(message: dict[str, Any], parts: tuple[str, ...]) -> Any:
    """The value at `parts`, or `MISSING`."""
    node: Any = message
    for part in parts:
        if isinstance(node, dict):
            node = node.get(part, MISSING)
        elif isinstance(node, list) and part.isdigit() and int(part) < len(node):
            node = node[int(part)]
        else:
            return MISSING
        if node is MISSING:
            return MISSING
    return node


def put(message: dict[str, Any], parts: tuple[str, ...], value: Any) -> bool:
    """Set the value at `parts`, creating objects on the way; False when a non-object is in
    the way (the message is left as it was)."""
    node: Any = message
    for part in parts[:-1]:
        child = node.get(part, MISSING)
        if child is MISSING or child is None:
            child = node[part] = {}
        elif not isinstance(child, dict):
            return False
        node = child
    node[parts[-1]] = value
    return True


def pop(message: dict[str, Any], parts: tuple[str, ...]) -> Any:
    """Remove and return the value at `parts`, or `MISSING`."""
    parent = get(message, parts[:-1]) if len(parts) > 1 else message
    if not isinstance(parent, dict):
        return MISSING
    return parent.pop(parts[-1], MISSING)
