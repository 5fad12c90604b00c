"""Engage definitions as code: the `computed_traits` and `audiences` sections of an apply file,
checked together (an audience may refer to one defined further down the same file)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

from seamline.errors import InvalidInput
from seamline.workspace.apply import desired
from seamline.workspace.kinds import normalise

FILE = """
computed_traits:
  orders_30d: {kind: event_counter, event: Order Completed, window: 30d}
audiences:
  not_repeat: {condition: {not: {audience: repeat}}}
  repeat: {condition: {trait: {name: orders_30d, op: ">=", value: 2}}}
"""


def wanted(text: str) -> dict[tuple[str, str], dict[str, Any]]:
    return desired(
        yaml.safe_load(text),
        Path("."),
        lambda name: name,
        lambda kind, name, doc, lookup: normalise(kind, name, doc, lookup),
    )


def test_the_sections_become_resources_that_refer_to_each_other() -> None:
    found = wanted(FILE)
    assert set(found) == {
        ("computed_trait", "orders_30d"),
        ("audience", "not_repeat"),
        ("audience", "repeat"),
    }
    assert found[("audience", "repeat")]["condition"]["trait"]["name"] == "orders_30d"


def test_a_cycle_in_the_file_is_refused() -> None:
    with pytest.raises(InvalidInput, match="depend on themselves"):
        wanted(
            "audiences:\n  a: {condition: {audience: b}}\n  b: {condition: {not: {audience: a}}}\n"
        )
