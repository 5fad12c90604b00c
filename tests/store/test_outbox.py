"""The delivery outbox on SQLite and PostgreSQL: idempotent enqueue, leased claims, order per
profile, retries, dead letters and counts."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import Engine

from seamline.store.outbox_sql import SqlOutbox

NOW = datetime(2026, 11, 29, 12, tzinfo=UTC)
LEASE = timedelta(seconds=30)


def row(message: str, subscription: str = "s1", profile: str | None = None) -> dict[str, Any]:
    return {
        "workspace_id": "w",
        "destination": "hook",
        "subscription": subscription,
        "delivery_key": message,
        "message_id": message,
        "profile_key": profile,
        "payload": {"m": message},
        "enqueued_at": NOW,
        "attempts": 0,
        "next_attempt_at": NOW,
    }


def test_enqueue_is_idempotent_and_claims_are_leased(engine: Engine) -> None:
    box = SqlOutbox(engine)
    box.enqueue([row("a"), row("b"), row("c")])
    box.enqueue([row("a"), row("b")])  # the log replayed: nothing new
    assert box.pending("w") == {"hook": 3}
    first = box.claim("w", "hook", 2, NOW, LEASE)
    assert [r.message_id for r in first] == ["a", "b"]
    second = box.claim("w", "hook", 5, NOW, LEASE)
    assert [r.message_id for r in second] == ["c"]  # a and b are leased
    assert box.claim("w", "hook", 5, NOW, LEASE) == []
    expired = box.claim("w", "hook", 5, NOW + LEASE + timedelta(seconds=1), LEASE)
    assert [r.message_id for r in expired] == ["a", "b", "c"]  # a dead worker's lease ran out


def test_retry_later_and_give_up(engine: Engine) -> None:
    box = SqlOutbox(engine)
    box.enqueue([row("a"), row("b")])
    a, b = box.claim("w", "hook", 2, NOW, LEASE)
    box.retry_later([a.id], NOW + timedelta(seconds=10), "500")
    box.give_up([b], NOW, "400 bad request", 400, "POST /x", '{"error": "bad"}')
    assert box.claim("w", "hook", 5, NOW + timedelta(seconds=5), LEASE) == []
    (again,) = box.claim("w", "hook", 5, NOW + timedelta(seconds=11), LEASE)
    assert (again.message_id, again.attempts) == ("a", 1)
    (letter,) = box.dead("w")
    assert (letter.message_id, letter.status, letter.response) == ("b", 400, '{"error": "bad"}')
    box.delivered([again.id])
    assert box.pending("w") == {}
    assert box.requeue_dead([letter], NOW) == 1
    assert box.dead("w") == []
    (requeued,) = box.claim("w", "hook", 5, NOW, LEASE)
    assert requeued.message_id == "b" and requeued.delivery_key == f"b#dead-{letter.id}"


def test_ordered_subscriptions_release_one_row_per_profile_at_a_time(engine: Engine) -> None:
    box = SqlOutbox(engine)
    box.enqueue(
        [
            row("p1-1", "crm", "p1"),
            row("p1-2", "crm", "p1"),
            row("p2-1", "crm", "p2"),
            row("x", "other", "p1"),
        ]
    )
    claimed = box.claim("w", "hook", 10, NOW, LEASE, ordered={"crm"})
    assert [r.message_id for r in claimed] == ["p1-1", "p2-1", "x"]
    box.delivered([r.id for r in claimed if r.message_id == "p1-1"])
    later = box.claim("w", "hook", 10, NOW, LEASE, ordered={"crm"})
    assert [r.message_id for r in later] == ["p1-2"]


def test_counts_add_up_per_minute(engine: Engine) -> None:
    box = SqlOutbox(engine)
    key = ("w", "hook", "s1", NOW, "delivered", "")
    box.count({key: 3})
    box.count({key: 2, ("w", "hook", "s1", NOW, "filtered", "consent"): 1})
    assert sorted(box.counts("w", NOW - timedelta(hours=1))) == [
        ("hook", "s1", "delivered", "", 5),
        ("hook", "s1", "filtered", "consent", 1),
    ]
    assert box.counts("w", NOW + timedelta(minutes=1)) == []


def test_a_worker_still_busy_renews_its_lease(engine: Engine) -> None:
    box = SqlOutbox(engine)
    box.enqueue([row("a")])
    (a,) = box.claim("w", "hook", 1, NOW, LEASE)
    box.renew([a.id], NOW + LEASE * 3)
    assert box.claim("w", "hook", 1, NOW + LEASE * 2, LEASE) == []
    assert [r.id for r in box.claim("w", "hook", 1, NOW + LEASE * 3 + LEASE, LEASE)] == [a.id]


def test_the_one_worker_of_an_embedded_outbox_frees_a_dead_workers_leases(engine: Engine) -> None:
    """At the start of an embedded deliver role (seamline.app): what a killed predecessor had
    claimed is ready at once, not after its lease; a retry's wait is kept."""
    box = SqlOutbox(engine)
    box.enqueue([row("a"), row("b"), row("c"), row("d")])
    *_, c = box.claim("w", "hook", 3, NOW, LEASE)
    box.retry_later([c.id], NOW + timedelta(seconds=10), "500")  # released, waiting its turn
    assert box.release_claims() == 2
    assert box.release_claims() == 0
    again = box.claim("w", "hook", 5, NOW, LEASE)
    assert [r.message_id for r in again] == ["a", "b", "d"]
