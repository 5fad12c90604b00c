"""Model runs on PostgreSQL: rows change between runs and exactly the changes are queued, per
subscription's sync mode; a crash between queueing and the snapshot loses nothing; bad queries
and bad rows fail the run and change nothing."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import psycopg
import pytest
from sqlalchemy import text

from seamline.errors import Conflict
from seamline.reverse_etl.scheduler import ModelScheduler
from seamline.store.models_sql import SqlModelState
from tests.reverse_etl.harness import WS, Harness, customers_model


def by_id(payloads: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    return {p["data"]["id"]: p["data"] for p in payloads}


def test_each_run_queues_exactly_the_rows_changed_since_the_last(models: Harness) -> None:
    models.save("model", "customers", customers_model(models.source_url))

    first = models.runner.run(WS, "customers")
    assert (first.status, first.rows_read, first.added, first.queued) == ("succeeded", 3, 6, 6)
    queued = models.queued()
    assert by_id(queued["model:customers/mirror"]) == {
        "1": {"id": "1", "change": "added", "email": "a@x.io"},
        "2": {"id": "2", "change": "added", "email": "b@x.io"},
        "3": {"id": "3", "change": "added", "email": "c@x.io"},
    }
    assert sorted(p["text"] for p in queued["model:customers/upsert"]) == [
        "a@x.io is on free",
        "b@x.io is on free",
        "c@x.io is on pro",
    ]
    models.deliver_all()

    models.source(
        "INSERT INTO customers VALUES (4, 'd@x.io', 'free')",
        "UPDATE customers SET plan = 'pro' WHERE id = 2",
        "DELETE FROM customers WHERE id = 3",
    )
    second = models.runner.run(WS, "customers")
    queued = models.queued()
    # Mirror sends the deleted record too: its id, its columns null (as Segment does).
    assert by_id(queued["model:customers/mirror"]) == {
        "4": {"id": "4", "change": "added", "email": "d@x.io"},
        "2": {"id": "2", "change": "updated", "email": "b@x.io"},
        "3": {"id": "3", "change": "deleted", "email": None},
    }
    assert sorted(p["text"] for p in queued["model:customers/upsert"]) == [
        "b@x.io is on pro",
        "d@x.io is on free",
    ]
    assert (second.rows_read, second.added, second.updated, second.deleted) == (3, 2, 2, 2)
    assert second.queued == 5
    assert second.subscriptions == {
        "mirror": {"added": 1, "updated": 1, "deleted": 1, "queued": 3, "invalid": 0},
        "upsert": {"added": 1, "updated": 1, "deleted": 1, "queued": 2, "invalid": 0},
    }
    models.deliver_all()

    third = models.runner.run(WS, "customers")
    assert (third.status, third.queued, models.queued()) == ("succeeded", 0, {})
    assert [r.id for r in models.runner.state.runs(WS, "customers")] == [
        third.id,
        second.id,
        first.id,
    ]


def test_only_the_records_a_subscription_names_are_sent(models: Harness) -> None:
    model = customers_model(models.source_url)
    del model["subscriptions"]["upsert"]
    model["subscriptions"]["mirror"].pop("sync_mode")
    model["subscriptions"]["mirror"]["records"] = ["deleted"]
    models.save("model", "customers", model)
    assert models.runner.run(WS, "customers").queued == 0
    models.source("UPDATE customers SET plan = 'pro'", "DELETE FROM customers WHERE id = 1")
    assert models.runner.run(WS, "customers").queued == 1
    assert [p["data"]["change"] for p in models.queued()["model:customers/mirror"]] == ["deleted"]


class CrashBeforeSnapshot(SqlModelState):
    """The process dies after the outbox holds the changes, before the snapshot moves."""

    def advance(self, *args: Any, **kwargs: Any) -> bool:
        raise RuntimeError("killed")


def test_a_crash_between_queueing_and_the_snapshot_resends_and_loses_nothing(
    models: Harness,
) -> None:
    models.save("model", "customers", customers_model(models.source_url))
    healthy = models.runner.state
    models.runner.state = CrashBeforeSnapshot(models.engine)
    crashed = models.runner.run(WS, "customers")
    assert (crashed.status, crashed.error) == ("failed", "RuntimeError: killed")
    before = models.queued()
    assert len(before["model:customers/mirror"]) == 3
    # One of the three was delivered before the restart: the outbox row is gone.
    with models.engine.begin() as conn:
        conn.execute(text("DELETE FROM outbox WHERE id = (SELECT MIN(id) FROM outbox)"))

    models.runner.state = healthy
    again = models.runner.run(WS, "customers")
    assert again.status == "succeeded"
    after = models.queued()
    # Every change is queued, each once: the two still queued were not doubled.
    assert sorted(by_id(after["model:customers/mirror"])) == ["1", "2", "3"]
    assert len(after["model:customers/mirror"]) == 3
    assert len(after["model:customers/upsert"]) == 3
    models.deliver_all()
    assert models.runner.run(WS, "customers").queued == 0


@pytest.mark.parametrize(
    ("query", "key", "error"),
    [
        ("SELECT id, email FROM nowhere", "id", 'relation "nowhere" does not exist'),
        ("DELETE FROM customers", "id", 'syntax error at or near "DELETE"'),
        ("SELECT 1; DELETE FROM customers", "id", "cannot insert multiple commands"),
        ("SELECT email, plan FROM customers", "id", "primary key column 'id' is not in"),
        ("SELECT plan AS id, email FROM customers", "id", "'free' is in two rows"),
        ("SELECT NULL::int AS id, email FROM customers", "id", "has no value in the primary"),
    ],
    ids=["bad-sql", "delete", "two-statements", "no-key-column", "duplicate-keys", "null-key"],
)
def test_a_bad_query_or_bad_rows_fail_the_run_and_change_nothing(
    models: Harness, query: str, key: str, error: str
) -> None:
    models.save("model", "customers", customers_model(models.source_url))
    assert models.runner.run(WS, "customers").queued == 6
    models.deliver_all()
    models.save(
        "model", "customers", customers_model(models.source_url, query=query, primary_key=key)
    )

    failed = models.runner.run(WS, "customers")

    assert failed.status == "failed"
    assert failed.error is not None and error in failed.error
    assert models.queued() == {}
    assert models.runner.state.snapshot(WS, "customers", "mirror").keys() == {"1", "2", "3"}
    with psycopg.connect(models.source_url) as conn:  # the DELETE did not run
        assert conn.execute("SELECT count(*) FROM customers").fetchone() == (3,)


def test_more_rows_than_max_rows_fail_with_the_limit_named(models: Harness) -> None:
    models.save("model", "customers", customers_model(models.source_url, max_rows=2))
    failed = models.runner.run(WS, "customers")
    assert failed.status == "failed"
    assert failed.error is not None and "more than max_rows (2)" in failed.error
    assert models.queued() == {}


def test_a_model_held_by_one_runner_is_refused_to_another(models: Harness) -> None:
    models.save("model", "customers", customers_model(models.source_url))
    state = models.runner.state
    now = datetime.now(UTC)
    other = state.claim(WS, "customers", "elsewhere", now, timedelta(minutes=5))
    assert other is not None
    with pytest.raises(Conflict):
        models.runner.run(WS, "customers")
    state.release(other)
    assert models.runner.run(WS, "customers").status == "succeeded"
    # An expired claim (its runner died mid-run) is taken over; the dead run is marked failed.
    stale = state.claim(WS, "customers", "dead", now - timedelta(hours=1), timedelta(minutes=1))
    assert stale is not None
    dead = state.start_run(WS, "customers", "schedule", now - timedelta(hours=1))
    assert models.runner.run(WS, "customers").status == "succeeded"
    [cut] = [r for r in state.runs(WS, "customers") if r.id == dead]
    assert (cut.status, cut.error) == (
        "failed",
        "interrupted: its process stopped before the run ended",
    )


@pytest.mark.parametrize("kind", ["postgres-warehouse", "redshift"])
def test_a_warehouse_destination_is_read_in_its_schema(models: Harness, kind: str) -> None:
    models.source(
        "CREATE SCHEMA wh",
        "CREATE TABLE wh.users (id text PRIMARY KEY, email text)",
        "INSERT INTO wh.users VALUES ('u1', 'a@x.io'), ('u2', 'b@x.io')",
    )
    models.save(
        "destination",
        "wh",
        {
            "type": kind,
            "settings": {"database_url": models.source_url, "schema": "wh"},
        },
    )
    model = customers_model(models.source_url, query="SELECT id, email FROM users")
    model["source"] = {"type": "warehouse", "destination": "wh"}
    del model["subscriptions"]["upsert"]
    models.save("model", "users", model)
    done = models.runner.run(WS, "users")
    assert (done.status, done.rows_read, done.queued) == ("succeeded", 2, 2)
    assert sorted(by_id(models.queued()["model:users/mirror"])) == ["u1", "u2"]


def test_the_scheduler_runs_due_models_once_whichever_process_asks(models: Harness) -> None:
    clock = [datetime(2026, 12, 3, 17, 0, tzinfo=UTC)]
    models.runner._now = lambda: clock[0]
    models.save("model", "every", customers_model(models.source_url, schedule="15m"))
    models.save("model", "by-hand", customers_model(models.source_url))
    models.save("model", "hourly", customers_model(models.source_url, schedule="0 * * * *"))
    scheduler = ModelScheduler(models.runner, models.resources, lambda: {WS}, now=lambda: clock[0])

    assert [r.model for r in scheduler.run_due()] == ["every"]  # an interval runs at once
    assert scheduler.run_due() == []
    clock[0] += timedelta(minutes=16)  # 17:16: `every` is due again; `hourly` waits for 18:00
    assert [(r.model, r.trigger) for r in scheduler.run_due()] == [("every", "schedule")]
    clock[0] += timedelta(minutes=45)  # 18:01
    # A model another process holds is left to it.
    held = models.runner.state.claim(WS, "hourly", "other", clock[0], timedelta(minutes=5))
    assert held is not None
    assert [r.model for r in scheduler.run_due()] == ["every"]
    models.runner.state.release(held)
    assert scheduler.run_due() == []  # the other process's run was this hour's
    clock[0] += timedelta(hours=1)  # 19:01
    assert [r.model for r in scheduler.run_due()] == ["every", "hourly"]
    assert models.runner.state.runs(WS, "by-hand") == []
