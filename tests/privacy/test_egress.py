"""What leaves Seamline for a destination: consent first, then that destination's PII controls."""

from __future__ import annotations

import hashlib
import hmac
from typing import Any

import pytest

from seamline.privacy.consent import consents_to, preferences_of
from seamline.privacy.egress import Egress
from seamline.privacy.fields import FieldClassifier, PiiControl, control_fields
from seamline.privacy.pii import DEFAULT_MATCHERS, Classification

SALT = b"workspace-salt"


def message(consent: dict[str, bool] | None = None) -> dict[str, Any]:
    context: dict[str, Any] = {"ip": "203.0.113.9", "library": {"name": "analytics.js"}}
    if consent is not None:
        context["consent"] = {"categoryPreferences": consent}
    return {
        "type": "track",
        "event": "Order Completed",
        "properties": {
            "email": " Ada@Example.com ",
            "note": "card 4111 1111 1111 1111 on file",
            "payment": "4111111111111111",
            "total": 12,
            "address": {"street": "1 Main St", "city": "Paris"},
        },
        "context": context,
    }


def egress(*controls: PiiControl, consent: dict[str, frozenset[str]] | None = None) -> Egress:
    return Egress(consent or {}, list(controls), FieldClassifier(DEFAULT_MATCHERS), SALT)


@pytest.mark.parametrize(
    ("preferences", "needed", "allowed"),
    [
        (None, frozenset({"Advertising"}), True),
        ({"Advertising": True}, frozenset({"Advertising"}), True),
        ({"Advertising": False}, frozenset({"Advertising"}), False),
        ({"Advertising": True}, frozenset({"Advertising", "Analytics"}), False),
        ({"Advertising": True, "Analytics": True}, frozenset({"Advertising", "Analytics"}), True),
        ({}, frozenset(), True),
        ({"Advertising": "yes"}, frozenset({"Advertising"}), False),
    ],
)
def test_consent_needs_every_category_of_the_destination(
    preferences: dict[str, Any] | None, needed: frozenset[str], allowed: bool
) -> None:
    context = None if preferences is None else {"consent": {"categoryPreferences": preferences}}
    assert consents_to(preferences_of(context), needed) is allowed


def test_an_event_goes_only_where_it_consents_to_go() -> None:
    gate = egress(
        consent={"meta": frozenset({"Advertising"}), "mixpanel": frozenset({"Analytics"})}
    )
    event = message({"Advertising": False, "Analytics": True})
    assert gate.prepare("meta", event).reason == "consent"
    assert gate.prepare("mixpanel", event).message is not None
    assert gate.prepare("webhook", event).message is not None  # no categories: not enforced
    assert gate.prepare("meta", message(None)).message is not None  # no consent object


def test_controls_apply_per_destination_and_leave_the_original_alone() -> None:
    gate = egress(
        PiiControl(control="hash_plain", kind="email", destinations=["meta"]),
        PiiControl(control="hash", kind="email", destinations=["warehouse"]),
        PiiControl(control="mask", kind="email", destinations=["support"]),
        PiiControl(control="drop", classification=Classification.RED, destinations=["*"]),
    )
    event = message()
    meta = gate.prepare("meta", event).message
    warehouse = gate.prepare("warehouse", event).message
    support = gate.prepare("support", event).message
    assert meta and warehouse and support
    assert meta["properties"]["email"] == hashlib.sha256(b"ada@example.com").hexdigest()
    expected = hmac.new(SALT, b"ada@example.com", hashlib.sha256).hexdigest()
    assert warehouse["properties"]["email"] == expected
    assert support["properties"]["email"] == "A***@Example.com"
    for prepared in (meta, warehouse, support):
        assert "payment" not in prepared["properties"]  # red, dropped for every destination
        # Values are matched whole: free text that mentions a card number is not scanned.
        assert prepared["properties"]["note"].startswith("card")
        assert prepared["properties"]["total"] == 12
    assert event["properties"]["email"] == " Ada@Example.com "
    assert event["properties"]["payment"] == "4111111111111111"


def test_a_block_control_stops_the_event_for_that_destination() -> None:
    gate = egress(
        PiiControl(control="block", classification=Classification.RED, destinations=["crm"])
    )
    assert gate.prepare("crm", message()).reason == "pii:credit_card"
    assert gate.prepare("other", message()).message is not None


def test_a_field_named_as_personal_data_is_controlled_as_a_whole() -> None:
    event = message()
    changed, blocked = control_fields(
        event,
        FieldClassifier(DEFAULT_MATCHERS),
        [PiiControl(control="drop", kind="address")],
        SALT,
    )
    assert changed and blocked is None
    assert "address" not in event["properties"]


def test_every_field_is_observed_with_its_classification() -> None:
    paths: list[str] = []
    classified: list[tuple[str, Any]] = []
    control_fields(message(), FieldClassifier(DEFAULT_MATCHERS), [], SALT, paths, classified)
    kinds = {path: ",".join(m.kind for m in matches) for path, matches in classified}
    assert kinds["properties.email"] == "email"
    assert kinds["properties.payment"] == "credit_card"
    assert kinds["context.ip"] == "ip_address"
    assert "properties.total" in paths and "properties.total" not in kinds
    assert "context.library.name" in paths


def test_the_first_control_that_selects_a_field_decides() -> None:
    event = message()
    changed, _ = control_fields(
        event,
        FieldClassifier(DEFAULT_MATCHERS),
        [
            PiiControl(control="allow", kind="email"),
            PiiControl(control="drop", classification=Classification.YELLOW),
        ],
        SALT,
    )
    assert changed
    assert event["properties"]["email"] == " Ada@Example.com "  # allowed by the first
    assert "ip" not in event["context"]  # yellow, dropped by the second
