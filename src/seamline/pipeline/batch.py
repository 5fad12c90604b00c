"""The unit the pipeline works on."""

from __future__ import annotations

from collections.abc import Callable

from seamline.spec.envelope import Item

Batch = list[Item]
"""Log items in offset order."""

Stage = Callable[[Batch], Batch]
"""A stage takes a batch and returns what goes on (effects go through stores it was given)."""
