"""What the ads destinations' tests check alike: a preset maps a Segment call into a payload
its action accepts, and a conversions destination is declared the same way (a secret token,
a checked API host, no deletion, the tool's batch size)."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from seamline.destinations.definition import Action, Destination, Preset
from seamline.spec.fql import compile_fql
from tests.destinations.payloads import default_payload


def preset_payload(
    destination: Destination,
    message: Mapping[str, Any],
    chosen: Callable[[Preset], bool],
    **mapped: Any,
) -> tuple[Action, dict[str, Any]]:
    """The first preset `chosen` picks, asserted to trigger on `message`, with the payload its
    action's default mapping (each of `mapped` replacing one field's) makes of `message`,
    validated against the action's fields."""
    preset = next(p for p in destination.presets if chosen(p))
    assert compile_fql(preset.trigger)(dict(message))
    action = destination.actions[preset.action]
    return action, default_payload(action, message, **mapped)


def naming(event: str) -> Callable[[Preset], bool]:
    """Picks the preset whose trigger names the Segment event `event`."""
    return lambda preset: f'"{event}"' in preset.trigger


def assert_conversions_definition(
    destination: Destination, *, secret: str, action: str, max_batch: int
) -> None:
    """A conversions destination: `secret` its only secret setting, an `endpoint` checked as
    a target, no deletion (ads tools offer none for conversions), `action` sending
    `max_batch` events per batch."""
    assert destination.secret_settings() == {secret}
    assert destination.settings["endpoint"].target
    assert destination.delete is None
    assert destination.actions[action].max_batch == max_batch
