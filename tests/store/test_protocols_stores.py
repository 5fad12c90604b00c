"""Resources, violations, held messages, inventory and consent, on SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sqlalchemy import Engine

from seamline.privacy.consent import ProfileConsent
from seamline.privacy.inventory import InventoryEntry
from seamline.privacy.pii import Classification
from seamline.protocols.records import HeldMessage, ViolationRecord
from seamline.store.consent_sql import SqlConsentStore
from seamline.store.inventory_sql import SqlInventory
from seamline.store.protocols_sql import SqlProtocolsStore
from seamline.store.resources_sql import SqlResourceStore
from seamline.store.secrets_sql import SqlWorkspaceSecrets

NOW = datetime(2026, 11, 29, 12, tzinfo=UTC)


def test_resources_are_versioned_and_an_identical_put_changes_nothing(engine: Engine) -> None:
    store = SqlResourceStore(engine)
    assert store.revision("w") == 0
    first = store.put("w", "consent_category", "Ads", {"destinations": ["meta"]})
    again = store.put("w", "consent_category", "Ads", {"destinations": ["meta"]})
    assert first.version == again.version == 1
    assert store.revision("w") == 1
    second = store.put("w", "consent_category", "Ads", {"destinations": ["meta", "google"]})
    assert second.version == 2 and store.revision("w") == 2
    assert store.delete("w", "consent_category", "Ads") is True
    assert store.delete("w", "consent_category", "Ads") is False
    third = store.put("w", "consent_category", "Ads", {"destinations": []})
    assert third.version == 4  # numbers continue after a delete
    history = store.versions("w", "consent_category", "Ads")
    assert [v.version for v in history] == [1, 2, 3, 4]
    assert history[2].document is None
    assert [r.name for r in store.list("w", "consent_category")] == ["Ads"]
    assert store.list("other") == [] and store.revision("other") == 0


def violation(offset: int, rule: str = "type", event: str = "Order Completed") -> ViolationRecord:
    return ViolationRecord(
        workspace_id="w",
        source_id="s",
        log_offset=offset,
        message_id=f"m{offset}",
        message_type="track",
        event_name=event,
        path="properties.total",
        rule=rule,
        expected="number",
        actual='string "12"',
        recorded_at=NOW,
    )


def held(offset: int) -> HeldMessage:
    return HeldMessage(
        workspace_id="w",
        source_id="s",
        log_offset=offset,
        message_id=f"m{offset}",
        disposition="quarantine",
        reason="unplanned event",
        message='{"type":"track","event":"X"}',
        held_at=NOW,
    )


def test_violations_and_held_messages_are_counted_and_cut_back_on_resume(engine: Engine) -> None:
    store = SqlProtocolsStore(engine)
    store.record(
        [violation(1), violation(2), violation(2, "required"), violation(5)], [held(3), held(6)]
    )
    counts = {(c.event_name, c.rule): c.count for c in store.violation_counts("w")}
    assert counts == {("Order Completed", "type"): 3, ("Order Completed", "required"): 1}
    page = store.violations("w", limit=2)
    assert [v.log_offset for _, v in page] == [5, 2]
    older = store.violations("w", limit=10, before_id=page[-1][0])
    assert [v.log_offset for _, v in older] == [2, 1]
    store.truncate_from(5)
    assert [v.log_offset for _, v in store.violations("w")] == [2, 2, 1]
    pending = store.held("w")
    assert [h.log_offset for h in pending] == [3]
    store.mark_rerun([h.id for h in pending if h.id is not None])
    assert store.held("w") == []
    assert store.held("w", pending_only=False)[0].rerun_at is not None


def entry(path: str, offset: int, level: Classification, count: int = 1) -> InventoryEntry:
    return InventoryEntry(
        workspace_id="w",
        source_id="s",
        path=path,
        classification=level,
        kind=None if level is Classification.GREEN else "email",
        first_seen=NOW,
        last_seen=NOW,
        count=count,
        last_offset=offset,
    )


def test_inventory_counts_once_per_offset_and_keeps_the_strictest_class(engine: Engine) -> None:
    inventory = SqlInventory(engine)
    inventory.merge([entry("properties.email", 10, Classification.YELLOW, 3)])
    inventory.merge([entry("properties.email", 10, Classification.YELLOW, 3)])  # a replay
    inventory.merge([entry("properties.email", 12, Classification.GREEN, 2)])
    (found,) = inventory.entries("w", "s")
    assert (found.count, found.classification, found.kind) == (5, Classification.YELLOW, "email")


def test_consent_keeps_the_newest_preferences_of_a_person(engine: Engine) -> None:
    store = SqlConsentStore(engine)

    def consent(profile: str, ads: bool, minutes: int, offset: int) -> ProfileConsent:
        return ProfileConsent(
            workspace_id="w",
            profile_id=profile,
            preferences={"Advertising": ads},
            updated_at=NOW + timedelta(minutes=minutes),
            message_id=f"m{offset}",
            log_offset=offset,
        )

    store.record([consent("p1", True, 5, 1), consent("p1", False, 1, 2)])  # older arrives later
    assert store.latest("w", ["p1"]).preferences == {"Advertising": True}  # type: ignore[union-attr]
    store.record([consent("p2", False, 9, 3)])
    merged = store.latest("w", ["p1", "p2"])
    assert merged is not None and merged.profile_id == "p2"
    assert store.latest("w", []) is None


def test_the_pii_salt_is_made_once_per_workspace(engine: Engine) -> None:
    secrets = SqlWorkspaceSecrets(engine)
    first = secrets.get_or_create("w", "pii_salt")
    assert len(first) == 32
    assert secrets.get_or_create("w", "pii_salt") == first
    assert secrets.get_or_create("v", "pii_salt") != first
