"""The ads destinations' shared rules (`catalog/_ad_events.py`): the standard events' triggers
and presets, and a batch of audience changes grouped so that the later change of a person
wins."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import pytest

from seamline.destinations.catalog import (
    pinterest_conversions,
    reddit_conversions,
    snap_conversions,
    tiktok_events,
)
from seamline.destinations.catalog._ad_events import (
    Outcome,
    latest_changes,
    standard_presets,
    standard_trigger,
)
from seamline.destinations.errors import InvalidPayload
from seamline.spec.fql import compile_fql

STANDARD = {"page": "PageView", "Order Completed": "Purchase"}
PAGE = {"type": "page", "name": "Home"}
ORDER = {"type": "track", "event": "Order Completed"}
OTHER = {"type": "track", "event": "Coupon Applied"}


def test_the_standard_trigger_takes_a_page_and_the_standard_track_events() -> None:
    trigger = compile_fql(standard_trigger(STANDARD))
    assert (trigger(PAGE), trigger(ORDER), trigger(OTHER)) == (True, True, False)


def test_a_preset_per_standard_event_named_in_both_vocabularies() -> None:
    presets = standard_presets(STANDARD, "report")
    assert [(p.name, p.action) for p in presets] == [
        ("PageView (page)", "report"),
        ("Purchase (Order Completed)", "report"),
    ]
    page, order = (compile_fql(p.trigger) for p in presets)
    assert (page(PAGE), page(ORDER), order(ORDER), order(PAGE), order(OTHER)) == (
        True,
        False,
        True,
        False,
        False,
    )


@pytest.mark.parametrize(
    "module", [tiktok_events, snap_conversions, pinterest_conversions, reddit_conversions]
)
def test_each_conversions_destination_offers_its_standard_events(module: Any) -> None:
    assert len(module.DESTINATION.presets) == len(module.STANDARD)
    for preset, segment_event in zip(module.DESTINATION.presets, module.STANDARD, strict=True):
        message = PAGE if segment_event == "page" else {"type": "track", "event": segment_event}
        assert compile_fql(preset.trigger)(message), preset.name


def _change(payload: Mapping[str, Any]) -> tuple[str, bool, str]:
    if "email" not in payload:
        raise InvalidPayload("no email")
    return str(payload["list"]), bool(payload["add"]), str(payload["email"])


def test_the_later_change_of_a_person_wins_and_answers_for_the_earlier() -> None:
    payloads = [
        {"list": "a", "add": True, "email": "ada@example.com"},
        {"list": "a", "add": True, "email": "bob@example.com"},
        {"list": "a"},
        {"list": "a", "add": False, "email": "ada@example.com"},
        {"list": "b", "add": True, "email": "ada@example.com"},
    ]
    outcomes: list[Outcome] = [None] * len(payloads)

    groups = latest_changes(payloads, _change, outcomes)

    assert groups == {
        ("a", True): [("bob@example.com", [1])],
        ("a", False): [("ada@example.com", [0, 3])],
        ("b", True): [("ada@example.com", [4])],
    }
    assert isinstance(outcomes[2], InvalidPayload)
    assert [o for i, o in enumerate(outcomes) if i != 2] == [None] * 4
