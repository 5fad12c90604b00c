"""Schema controls: what a source does with unplanned events, unplanned fields and violations.

Segment's Schema Configuration per source, with its choices: unplanned track events are allowed,
blocked or quarantined; unplanned properties and traits are allowed or omitted; messages with
schema violations are allowed (and flagged), have the bad fields omitted, or are blocked or
quarantined. Blocked and quarantined messages are held, never dropped: they can be re-run
once the plan is fixed. Omitted fields are listed in `context.protocols`, as Segment does.
"""

from __future__ import annotations

from typing import Any, Literal, NamedTuple

import msgspec

from seamline.errors import InvalidInput
from seamline.protocols.validate import Verdict, Violation

Disposition = Literal["keep", "block", "quarantine"]
_TRAIT_TYPES = frozenset({"identify", "group"})


class SchemaControls(msgspec.Struct, forbid_unknown_fields=True, kw_only=True, frozen=True):
    unplanned_events: Literal["allow", "block", "quarantine"] = "allow"
    unplanned_properties: Literal["allow", "omit"] = "allow"
    violations: Literal["allow", "omit", "block", "quarantine"] = "allow"
    unplanned_traits: Literal["allow", "omit"] = "allow"
    trait_violations: Literal["allow", "omit", "block", "quarantine"] = "allow"


def parse_controls(document: Any) -> SchemaControls:
    try:
        return msgspec.convert(document or {}, SchemaControls)
    except msgspec.ValidationError as error:
        raise InvalidInput(f"schema_controls: {error}") from None


class Decision(NamedTuple):
    disposition: Disposition
    violations: list[Violation]
    omitted: list[str]
    reason: str


def enforce(message: dict[str, Any], verdict: Verdict, controls: SchemaControls) -> Decision:
    """Apply `controls` to a checked message: omits fields in place, says whether to hold it."""
    violations = list(verdict.violations)
    # Only a track call can be an unplanned event (Segment's control is "Track Calls: Unplanned
    # Events"); an identify, group, page or screen without a rule is merely unchecked, and holding
    # it would also stop identity resolution (a login on a second device would never merge).
    if not verdict.planned and message.get("type") == "track":
        violations.append(Violation("event", "unplanned_event", "an event in the plan", "absent"))
        if controls.unplanned_events != "allow":
            return Decision(controls.unplanned_events, violations, [], "unplanned event")
    traits = message.get("type") in _TRAIT_TYPES
    on_violation = controls.trait_violations if traits else controls.violations
    on_unplanned = controls.unplanned_traits if traits else controls.unplanned_properties
    if verdict.violations and on_violation in ("block", "quarantine"):
        return Decision(on_violation, violations, [], _summary(verdict.violations))
    omitted: list[str] = []
    if verdict.violations and on_violation == "omit":
        omitted.extend(_omit(message, [v.path for v in verdict.violations]))
    if verdict.unplanned and on_unplanned == "omit":
        for path in verdict.unplanned:
            violations.append(
                Violation(path, "unplanned_property", "a field in the plan", "present")
            )
        omitted.extend(_omit(message, verdict.unplanned))
    if omitted:
        context = message.get("context")
        if not isinstance(context, dict):
            context = message["context"] = {}
        context["protocols"] = {"omitted": omitted, "violations": len(violations)}
    return Decision("keep", violations, omitted, "")


def _omit(message: dict[str, Any], field_paths: list[str] | tuple[str, ...]) -> list[str]:
    """Remove the top-level field of each path (`properties.products.0.sku` → `products`)."""
    removed: list[str] = []
    for path in field_paths:
        part, _, rest = path.partition(".")
        key = rest.split(".", 1)[0]
        holder = message.get(part)
        if key and isinstance(holder, dict) and key in holder:
            del holder[key]
            removed.append(f"{part}.{key}")
    return removed


def _summary(violations: tuple[Violation, ...]) -> str:
    first = violations[0]
    more = f" and {len(violations) - 1} more" if len(violations) > 1 else ""
    return f"{first.path}: {first.rule} (expected {first.expected}, got {first.actual}){more}"
