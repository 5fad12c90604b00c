"""Engage's operations over history: estimate a definition before saving, compute one over all
history (backfill) and announce what changed, list members."""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

import msgspec

from seamline.engage.definition import Audience, ComputedTrait, parse_audience, parse_trait
from seamline.engage.predictions import (
    NotEnoughData,
    PredictionSpec,
    format_report,
    train_and_score,
)
from seamline.engage.realtime import Change, RealtimeEngine, same_value
from seamline.engage.rules import EngageRules, build
from seamline.engage.text import describe
from seamline.errors import InvalidInput, NotFound
from seamline.pipeline.engage_stage import EvaluateEngage
from seamline.store.engage_sql import SqlEngageStore
from seamline.store.events_lake import LakeEventStore

if TYPE_CHECKING:
    from seamline.engage.backends import JsonBackend

SAMPLE = 10
KIND_NAMES = {"audience": "audience", "computed_trait": "computed trait"}


class EngageOps:
    def __init__(
        self,
        rules_of: Callable[[str], EngageRules],
        events: LakeEventStore,
        store: SqlEngageStore,
        engine: RealtimeEngine,
        stage: Callable[[], EvaluateEngage | None],
    ) -> None:
        self._rules_of = rules_of
        self._events = events
        self._store = store
        self._engine = engine
        self._stage = stage

    def with_definition(
        self, workspace_id: str, kind: str, key: str, document: Any
    ) -> tuple[EngageRules, ComputedTrait | Audience]:
        """The workspace's definitions with this one added or replaced, checked together."""
        current = self._rules_of(workspace_id)
        definition: ComputedTrait | Audience
        if kind == "audience":
            definition = parse_audience(key, document)
            traits = list(current.traits.values())
            audiences = [a for k, a in current.audiences.items() if k != key] + [definition]
        elif kind == "computed_trait":
            definition = parse_trait(key, document)
            traits = [t for k, t in current.traits.items() if k != key] + [definition]
            audiences = list(current.audiences.values())
        else:
            raise InvalidInput("kind must be audience or computed_trait")
        return build(traits, audiences), definition

    def estimate(self, workspace_id: str, kind: str, key: str, document: Any) -> dict[str, Any]:
        """Size and a sample of profiles, from the whole history, without saving anything."""
        began = time.perf_counter()
        rules, definition = self.with_definition(workspace_id, kind, key, document)
        rules = rules.only([key])
        backend, values = self._values(workspace_id, rules)
        column = values[key]
        chosen = values.filter(column if kind == "audience" else column.notnull())
        # Through Arrow, not pandas: Ibis's pandas path warns under pandas 3.
        size = int(backend.connection.to_pyarrow(chosen.count()).as_py())
        sample = backend.connection.to_pyarrow(chosen.select("pid").order_by("pid").limit(SAMPLE))
        return {
            "key": key,
            "kind": kind,
            "text": describe(definition),
            "size": size,
            "sample": sample.column("pid").to_pylist(),
            "took_ms": round((time.perf_counter() - began) * 1000, 1),
        }

    def compute(self, workspace_id: str, key: str) -> dict[str, Any]:
        """Compute a saved definition over all history, record and announce every change."""
        rules = self._rules_of(workspace_id)
        if key not in rules.traits and key not in rules.audiences:
            raise NotFound(f"no audience or computed trait {key!r}; create it first")
        began = time.perf_counter()
        scoped = rules.only([key])
        backend, values = self._values(workspace_id, scoped)
        table = backend.connection.to_pyarrow(values.select("pid", key))
        from seamline.engage.batch import rows_of

        computed = {pid: row[key] for pid, row in rows_of(table, [key], scoped).items()}
        changes = self._announce(workspace_id, key, computed)
        size = sum(1 for value in computed.values() if value not in (None, False))
        return {
            "key": key,
            "size": size,
            "changed": len(changes),
            "took_ms": round((time.perf_counter() - began) * 1000, 1),
        }

    def predict(self, workspace_id: str, document: Any) -> dict[str, Any]:
        """Train a prediction on history, score every profile and write each score as the
        profile trait `key` (announced as an identify, like a computed trait): audiences
        then use it as any trait (`likely_to_buy > 0.6`)."""
        began = time.perf_counter()
        spec = _prediction_spec(workspace_id, document)
        merges = dict(self._store.merged_profiles(workspace_id))
        try:
            result = train_and_score(self._events.cursor(), spec, canonical=merges)
        except NotEnoughData as error:
            raise InvalidInput(str(error)) from None
        changes = self._announce(workspace_id, spec.key, result.scores)
        return {
            "key": spec.key,
            "report": result.report,
            "text": format_report(result),
            "scored": len(result.scores),
            "changed": len(changes),
            "took_ms": round((time.perf_counter() - began) * 1000, 1),
        }

    def members(self, workspace_id: str, key: str, limit: int, after: str) -> dict[str, Any]:
        rules = self._rules_of(workspace_id)
        if key not in rules.audiences:
            raise NotFound(f"no audience {key!r}")
        found = self._store.members(workspace_id, key, limit + 1, after)
        return {
            "key": key,
            "members": found[:limit],
            "next": found[limit - 1] if len(found) > limit else None,
        }

    def summary(self, workspace_id: str, kind: str) -> list[dict[str, Any]]:
        rules = self._rules_of(workspace_id)
        definitions: dict[str, Any] = rules.audiences if kind == "audience" else rules.traits
        return [
            {"key": key, "text": describe(d), "size": self._store.count(workspace_id, key)}
            for key, d in definitions.items()
        ]

    def _values(self, workspace_id: str, rules: EngageRules) -> tuple[JsonBackend, Any]:
        """A backend on the event store and the expression of every profile's values there."""
        # Ibis loads here, at the first batch computation: every role process imports this
        # module, and starts ~0.4 s sooner without it.
        from seamline.engage.backends import duckdb_backend
        from seamline.engage.batch import compile_values

        backend = duckdb_backend(self._events.cursor())
        merges = self._store.merged_profiles(workspace_id)
        flat = backend.flat(workspace_id, rules, merges)
        return backend, compile_values(rules, flat, datetime.now(UTC))

    def _announce(self, workspace_id: str, key: str, values: Mapping[str, Any]) -> list[Change]:
        """Record and announce each profile's new value of `key` where it differs from the
        stored one (through the stage when the pipeline runs, so messages reach the log)."""
        with self._engine.lock:
            stored = self._store.values(workspace_id, values)
        changes = []
        for pid, value in values.items():
            old, version = stored.get(pid, {}).get(key, (None, 0))
            if not same_value(old, value):
                changes.append(Change(workspace_id, pid, key, old, value, version + 1))
        stage = self._stage()
        if stage is not None:
            stage.announce(self._rules_of(workspace_id), changes)
        else:
            self._engine.record(changes)
        return changes


def _prediction_spec(workspace_id: str, document: Any) -> PredictionSpec:
    if not isinstance(document, dict):
        raise InvalidInput("a prediction is an object: key, kind, event, horizon_days, …")
    try:
        spec = msgspec.convert({**document, "workspace_id": workspace_id}, PredictionSpec)
    except (msgspec.ValidationError, ValueError) as error:
        raise InvalidInput(f"prediction: {error}") from None
    parse_trait(spec.key, {"kind": "event_counter", "event": spec.event})  # checks the key
    return spec
