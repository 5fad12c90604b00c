"""The real-time engine: folds each batch into per-profile feature states, re-evaluates the
people it touched, and reports what changed.

Idempotent over log replays: every feature state remembers, per log partition, the last
position folded into it and skips anything at or before it. States are kept per raw profile and
merged per person when evaluated, so identity merges (and unmerges) need no state surgery. A
definition added later is hydrated from the event store once, before the batch that first sees
it.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Protocol

import msgspec

from seamline.engage import summaries
from seamline.engage.evaluate import Facts, evaluate
from seamline.engage.features import Feature, filters_of
from seamline.engage.rules import EngageRules
from seamline.log.base import partition_of
from seamline.profiles.accounts import account_id
from seamline.spec.envelope import Item
from seamline.spec.messages import decode_part

_object = msgspec.json.Decoder(dict[str, Any])

EVERYTHING = (1 << 63) - 1
ENGAGE_SOURCE = "engage"
"""The source id of what Engage emits (not a write key: nothing outside can send as it)."""


@dataclass(frozen=True)
class Change:
    """A person's value for a definition moved from `before` to `after` (None: no value)."""

    workspace_id: str
    profile_id: str
    key: str
    before: Any
    after: Any
    version: int


class EngageStore(Protocol):
    def people_of(self, profile_ids: Iterable[str]) -> dict[str, list[str]]: ...
    def states(
        self, workspace_id: str, profile_ids: Iterable[str]
    ) -> dict[str, dict[str, Any]]: ...
    def save_states(self, workspace_id: str, rows: Mapping[str, dict[str, Any]]) -> None: ...
    def values(
        self, workspace_id: str, profile_ids: Iterable[str]
    ) -> dict[str, dict[str, tuple[Any, int]]]: ...
    def save_values(
        self, workspace_id: str, changes: Sequence[tuple[str, str, Any, int]], at: datetime
    ) -> None: ...
    def set_rechecks(self, workspace_id: str, rechecks: Mapping[str, int | None]) -> None: ...
    def save(
        self,
        workspace_id: str,
        rows: Mapping[str, dict[str, Any]],
        rechecks: Mapping[str, int | None],
    ) -> None: ...
    def due(self, now: int, limit: int) -> list[tuple[str, str]]: ...
    def hydrated(self, workspace_id: str) -> dict[str, int]: ...
    def merges_after(self, workspace_id: str, after: int) -> tuple[int, list[str]]: ...
    def account_members(self, account_ids: Iterable[str]) -> set[str]: ...
    def mark_hydrated(self, workspace_id: str, keys: Iterable[str], through: int) -> None: ...


class PeopleFacts(Protocol):
    """Traits and accounts of people (canonical id → every profile id merged into it)."""

    def traits(
        self, people: Mapping[str, list[str]], names: Sequence[str]
    ) -> dict[str, dict[str, Any]]: ...
    def accounts(self, canonical_id: str) -> list[dict[str, Any]]: ...


History = Callable[[str, Sequence[str], int], Iterator[tuple[str, int, int, str, Any]]]
"""(workspace, event names, through offset) → stored track events as
(profile id, log offset, timestamp µs, event, properties), in log order."""


MAX_REMEMBERED = 2_000_000
"""Profiles remembered as evaluated under the current rules; past it the memory starts over
(costing evaluations, never correctness)."""


def now_micros() -> int:
    return int(datetime.now(UTC).timestamp() * 1_000_000)


class RealtimeEngine:
    def __init__(
        self,
        store: EngageStore,
        facts: PeopleFacts,
        history: History,
        *,
        clock: Callable[[], int] = now_micros,
    ) -> None:
        self._store = store
        self._facts = facts
        self._history = history
        self._clock = clock
        self._merges_seen: dict[str, int] = {}
        self._evaluated: dict[str, tuple[EngageRules, set[str]]] = {}
        self._rechecks_written: dict[tuple[str, str], int | None] = {}
        self.lock = threading.Lock()

    def apply(self, workspace_id: str, rules: EngageRules, items: Sequence[Item]) -> list[Change]:
        """Fold a batch of one workspace and return the changes it makes (to record once
        announced).

        Only people whose inputs may have moved are evaluated: a matching track event, an
        identify, group or alias, `context.traits`, or a merge since the last batch. Anything
        else (most page views) cannot change a value; time passing is the sweep's business.
        Everyone else is evaluated once under each rules version (a profile that never does
        anything still enters "did not perform" audiences).
        """
        if rules.empty or not items:
            return []
        now = self._clock()
        by_event = _features_by_event(rules)
        known = self._evaluated.get(workspace_id)
        if known is None or known[0] is not rules or len(known[1]) > MAX_REMEMBERED:
            known = self._evaluated[workspace_id] = (rules, set())
        evaluated = known[1]
        touched = {
            item.profile_id
            for item in items
            if item.profile_id is not None
            and (item.profile_id not in evaluated or _may_change(item, by_event))
        }
        with self.lock:
            seen = self._merges_seen.get(workspace_id)
            if seen is None:
                seen, _ = self._store.merges_after(workspace_id, -1)
            seen, merged = self._store.merges_after(workspace_id, seen)
            self._merges_seen[workspace_id] = seen
            touched.update(merged)
            if rules.needs.account_traits:
                # An account's traits are every member's input: re-evaluate them all.
                groups = {
                    account_id(workspace_id, str(item.envelope.message.group_id))
                    for item in items
                    if item.envelope.message.type == "group" and item.envelope.message.group_id
                }
                touched.update(self._store.account_members(groups))
            if not touched:
                return []
            self._hydrate(workspace_id, rules, max(item.offset for item in items))
            people = self._store.people_of(touched)
            evaluated.update(touched)
            every = [pid for members in people.values() for pid in members]
            states = self._store.states(workspace_id, every)
            changed = self._fold(by_event, items, states, now)
            changes, rechecks = self._settle(workspace_id, rules, people, states, now)
            self._store.save(workspace_id, {pid: states[pid] for pid in changed}, rechecks)
            return changes

    def recheck(self, rules_of: Callable[[str], EngageRules], limit: int = 1000) -> list[Change]:
        """Re-evaluate people whose windows moved on (events aged out); returns the changes."""
        now = self._clock()
        changes: list[Change] = []
        with self.lock:
            by_workspace: dict[str, list[str]] = {}
            for workspace_id, pid in self._store.due(now, limit):
                by_workspace.setdefault(workspace_id, []).append(pid)
            for workspace_id, pids in by_workspace.items():
                rules = rules_of(workspace_id)
                people = self._store.people_of(pids)
                every = [pid for members in people.values() for pid in members]
                states = self._store.states(workspace_id, every)
                found, rechecks = self._settle(
                    workspace_id, rules, people, states, now, sweeping=True
                )
                changes += found
                rechecks.update({pid: None for pid in pids if pid not in people})
                self._store.set_rechecks(workspace_id, rechecks)
        return changes

    def record(self, changes: Sequence[Change]) -> None:
        """Store changed values, once their effects are durable."""
        at = datetime.now(UTC)
        by_workspace: dict[str, list[tuple[str, str, Any, int]]] = {}
        for c in changes:
            by_workspace.setdefault(c.workspace_id, []).append(
                (c.profile_id, c.key, c.after, c.version)
            )
        with self.lock:
            for workspace_id, rows in by_workspace.items():
                self._store.save_values(workspace_id, rows, at)

    def _fold(
        self,
        names: Mapping[str, list[tuple[str, Feature]]],
        items: Sequence[Item],
        states: dict[str, dict[str, Any]],
        now: int,
    ) -> set[str]:
        changed: set[str] = set()
        for item in items:
            message = item.envelope.message
            features = names.get(message.event or "") if message.type == "track" else None
            if item.profile_id is None or not features:
                continue
            assert message.timestamp is not None, "the collector sets a timestamp"
            at = int(message.timestamp.timestamp() * 1_000_000)
            properties = decode_part(_object, message.properties) or {}
            row = states.setdefault(item.profile_id, {})
            partition = str(partition_of(item.offset))
            for key, feature in features:
                entry = row.get(key)
                if entry is None:
                    entry = [{}, summaries.initial(feature)]
                marks = _marks(entry[0])
                if item.offset <= marks.get(partition, -1):
                    continue
                marks[partition] = item.offset
                state = summaries.add(feature, entry[1], at, item.offset, message.event, properties)
                row[key] = [marks, summaries.prune(feature, state, now)]
                changed.add(item.profile_id)
        return changed

    def _settle(
        self,
        workspace_id: str,
        rules: EngageRules,
        people: Mapping[str, list[str]],
        states: Mapping[str, dict[str, Any]],
        now: int,
        *,
        sweeping: bool = False,
    ) -> tuple[list[Change], dict[str, int | None]]:
        names = rules.needs.traits
        traits = self._facts.traits(people, names) if names else {}
        features = rules.features
        stored = self._store.values(workspace_id, people)
        changes: list[Change] = []
        rechecks: dict[str, int | None] = {}
        for canonical, members in people.items():
            found: dict[str, list[Any]] = {}
            for member in members:  # only the features this person has a state for
                for key, entry in states.get(member, {}).items():
                    if key in features:
                        found.setdefault(key, []).append(entry[1])
            merged: dict[str, Any] = {}
            recheck: int | None = None
            for key, parts in found.items():
                feature = features[key]
                state = summaries.prune(feature, summaries.merge(feature, parts), now)
                merged[key] = state
                at = summaries.recheck_at(feature, state)
                if at is not None and (recheck is None or at < recheck):
                    recheck = at
            accounts = self._facts.accounts(canonical) if rules.needs.account_traits else []
            facts = Facts(merged, traits.get(canonical, {}), accounts)
            before = stored.get(canonical, {})
            for key, value in evaluate(rules, facts, now).items():
                old, version = before.get(key, (None, 0))
                if same_value(old, value):
                    continue
                changes.append(Change(workspace_id, canonical, key, old, value, version + 1))
            # Between sweeps only new times are written: a stale one costs the sweep one
            # evaluation, which then clears it (deleting per batch cost 7 % of the stage).
            if (recheck is not None or sweeping) and self._rechecks_written.get(
                (workspace_id, canonical), -1
            ) != recheck:
                rechecks[canonical] = recheck
        if len(self._rechecks_written) > MAX_REMEMBERED:
            self._rechecks_written.clear()
        self._rechecks_written.update(((workspace_id, c), at) for c, at in rechecks.items())
        return changes, rechecks

    def _hydrate(self, workspace_id: str, rules: EngageRules, through: int) -> None:
        """Build states of features new to this workspace from its stored events."""
        done = self._store.hydrated(workspace_id)
        fresh = {key: f for key, f in rules.features.items() if key not in done}
        if not fresh:
            return
        names = sorted({events.event for f in fresh.values() for events in filters_of(f)})
        now = self._clock()
        built: dict[str, dict[str, Any]] = {}
        # Per log partition, the last position of the history read: the folds that follow skip
        # what it holds, and count what is stored after it (positions only grow in a partition).
        marks: dict[str, int] = {}
        # All that is stored, of every partition: positions of other partitions do not compare
        # with `through` (the batch being folded, stored just before).
        history = self._history(workspace_id, names, EVERYTHING)
        for pid, offset, at, event, properties in history:
            row = built.setdefault(pid, {})
            partition = str(partition_of(offset))
            marks[partition] = max(marks.get(partition, -1), offset)
            for key, feature in fresh.items():
                entry = row.get(key) or [None, summaries.initial(feature)]
                row[key] = [None, summaries.add(feature, entry[1], at, offset, event, properties)]
        current = str(partition_of(through))
        marks[current] = max(marks.get(current, -1), through)
        existing = self._store.states(workspace_id, built)
        for pid, row in built.items():
            target = existing.setdefault(pid, {})
            for key, (_, state) in row.items():
                target[key] = [dict(marks), summaries.prune(fresh[key], state, now)]
        self._store.save_states(workspace_id, existing)
        self._store.mark_hydrated(workspace_id, fresh, through)


def _marks(stored: Any) -> dict[str, int]:
    """A state's last folded position per log partition (a bare number: before partitions)."""
    if isinstance(stored, dict):
        return dict(stored)
    return {} if stored is None or stored < 0 else {str(partition_of(int(stored))): int(stored)}


def same_value(old: Any, new: Any) -> bool:
    """Unset, null and false all mean "no value / not a member"."""
    old_empty = old is None or old is False
    new_empty = new is None or new is False
    if old_empty or new_empty:
        return old_empty and new_empty
    if isinstance(old, bool) or isinstance(new, bool):
        return old is new
    return bool(old == new)


def _features_by_event(rules: EngageRules) -> dict[str, list[tuple[str, Feature]]]:
    """Event name → the (key, feature) pairs a track event of that name may change."""
    found: dict[str, list[tuple[str, Feature]]] = {}
    for key, feature in rules.features.items():
        for events in filters_of(feature):
            if (key, feature) not in found.setdefault(events.event, []):
                found[events.event].append((key, feature))
    return found


def _may_change(item: Item, names: Mapping[str, object]) -> bool:
    if item.envelope.source_id == ENGAGE_SOURCE:
        return False  # Engage's own announcements carry values it computed
    message = item.envelope.message
    kind = message.type
    if kind in ("identify", "group", "alias"):
        return True
    if kind == "track" and message.event in names:
        return True
    return b'"traits"' in bytes(message.context)
