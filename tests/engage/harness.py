"""Drives both engines over the same events with the real stores (SQLite state, DuckDB events)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import msgspec
from sqlalchemy import insert, update

from seamline.engage.backends import Backend, compute, duckdb_backend
from seamline.engage.batch import rows_of
from seamline.engage.definition import Audience, ComputedTrait
from seamline.engage.people import StoredPeople
from seamline.engage.realtime import Change, RealtimeEngine
from seamline.engage.rules import EngageRules, build
from seamline.profiles.accounts import group_changes
from seamline.profiles.traits import trait_updates
from seamline.spec.envelope import Envelope, Item
from seamline.spec.messages import Message
from seamline.store.accounts_sql import SqlAccountStore
from seamline.store.engage_sql import SqlEngageStore
from seamline.store.events_lake import LakeEventStore
from seamline.store.state import open_state_store, profiles
from seamline.store.traits_sql import SqlTraitStore
from tests.state_template import migrated_sqlite_state

WORKSPACE = "ws"
NOW = datetime(2026, 6, 1, 12, tzinfo=UTC)


def at(days_ago: float) -> datetime:
    return NOW - timedelta(days=days_ago)


class Harness:
    def __init__(self, root: Path, now: datetime = NOW) -> None:
        self.now = now
        # A copy of a migrated store: the Hypothesis test makes a harness for every example.
        (root / "state.db").write_bytes(migrated_sqlite_state())
        self.state = open_state_store(f"sqlite:///{root / 'state.db'}")
        self.events = LakeEventStore(root / "events")
        self.traits = SqlTraitStore(self.state)
        self.accounts = SqlAccountStore(self.state)
        self.store = SqlEngageStore(self.state)
        self.clock_us = int(now.timestamp() * 1_000_000)
        self.engine = RealtimeEngine(
            self.store,
            StoredPeople(self.traits, self.accounts),
            self.events.track_events,
            clock=lambda: self.clock_us,
        )
        self.offset = 0
        self.known: set[str] = set()
        self.changes: list[Change] = []

    def close(self) -> None:
        self.events.close()
        self.state.dispose()

    def merge(self, merged: str, into: str) -> None:
        with self.state.begin() as conn:
            conn.execute(
                update(profiles).where(profiles.c.canonical_id == merged).values(canonical_id=into)
            )

    def feed(
        self, rules: EngageRules, messages: Sequence[tuple[str, dict[str, Any]]]
    ) -> list[Change]:
        """One pipeline batch: (profile id, Segment message) in log order."""
        items = []
        for pid, message in messages:
            self._profile(pid)
            body = {"messageId": f"m{self.offset}", "receivedAt": self.now.isoformat(), **message}
            decoded = msgspec.json.decode(msgspec.json.encode(body), type=Message)
            items.append(
                Item(
                    self.offset,
                    Envelope(workspace_id=WORKSPACE, source_id="src", message=decoded),
                    pid,
                )
            )
            self.offset += 1
        self.events.write(items)
        updates = trait_updates(items)
        memberships, account_traits = group_changes(items)
        for found in (updates, account_traits):
            if found:
                self.traits.upsert(found)
        self.accounts.add_members(memberships)
        changes = self.engine.apply(WORKSPACE, rules, items)
        self.engine.record(changes)
        self.changes += changes
        return changes

    def realtime(self, rules: EngageRules) -> dict[str, dict[str, Any]]:
        """Stored values of every person with an event, None/False for none."""
        people = self._people()
        stored = self.store.values(WORKSPACE, people)
        return {
            pid: {
                key: stored.get(pid, {}).get(key, (None, 0))[0] for key in rules.definition_keys()
            }
            for pid in people
        }

    def batch(
        self, rules: EngageRules, backend: Backend | None = None
    ) -> dict[str, dict[str, Any]]:
        backend = backend or duckdb_backend(self.events.cursor())
        merges = self.store.merged_profiles(WORKSPACE)
        table = compute(backend, WORKSPACE, rules, merges, self.now)
        return rows_of(table, rules.definition_keys(), rules)

    def _people(self) -> list[str]:
        rows = self.events.query("SELECT DISTINCT profile_id FROM events")
        return sorted({c for (pid,) in rows for c in self.store.people_of([pid])})

    def _profile(self, pid: str) -> None:
        if pid in self.known:
            return
        self.known.add(pid)
        with self.state.begin() as conn:
            conn.execute(
                insert(profiles).values(
                    id=pid, workspace_id=WORKSPACE, canonical_id=pid, created_at=self.now
                )
            )


def rules_of(
    traits: Sequence[ComputedTrait] = (), audiences: Sequence[Audience] = ()
) -> EngageRules:
    return build(traits, audiences)


def track(event: str, days_ago: float, **properties: Any) -> dict[str, Any]:
    return {
        "type": "track",
        "event": event,
        "timestamp": at(days_ago).isoformat(),
        "properties": properties,
    }


def identify(days_ago: float, **traits: Any) -> dict[str, Any]:
    return {"type": "identify", "timestamp": at(days_ago).isoformat(), "traits": traits}


def group(group_id: str, days_ago: float, **traits: Any) -> dict[str, Any]:
    return {
        "type": "group",
        "groupId": group_id,
        "timestamp": at(days_ago).isoformat(),
        "traits": traits,
    }
