"""A workspace's resources compiled for the pipeline: plans, controls, transformations,
functions, PII matchers and controls, consent categories — built once per configuration
revision, never per message."""

from __future__ import annotations

import hashlib
import logging
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import msgspec

from seamline.access.sealing import Sealer
from seamline.destinations.instances import CompiledDestination, compile_destinations
from seamline.engage.rules import EngageRules
from seamline.engage.workspace import compile_engage
from seamline.privacy.fields import PiiControl
from seamline.privacy.pii import DEFAULT_MATCHERS, Matcher, custom_matcher
from seamline.protocols.enforce import SchemaControls, parse_controls
from seamline.protocols.functions import FunctionRunner
from seamline.protocols.naming import NamingRules
from seamline.protocols.plan import load_plan
from seamline.protocols.transforms import Transformation, parse_transformation
from seamline.protocols.validate import CompiledPlan
from seamline.reverse_etl.models import destination_subscriptions
from seamline.spec.plain import PARTS
from seamline.workspace.kinds import ConsentCategory, SourceConnection, entry_points
from seamline.workspace.resources import Resource, ResourceStore

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class SourceRules:
    """What the protocols stage does to one source's messages."""

    plan: CompiledPlan | None
    controls: SchemaControls
    naming: NamingRules | None


@dataclass
class WorkspaceRules:
    revision: int
    sources: dict[str, SourceRules] = field(default_factory=dict)
    transformations: list[Transformation] = field(default_factory=list)
    functions: dict[str, FunctionRunner] = field(default_factory=dict)
    function_keys: dict[str, tuple[str, str]] = field(default_factory=dict)
    matchers: tuple[Matcher, ...] = DEFAULT_MATCHERS
    pii_controls: list[PiiControl] = field(default_factory=list)
    consent: dict[str, frozenset[str]] = field(default_factory=dict)
    """Destination → the consent categories it needs."""
    _touched: dict[str, bool] = field(default_factory=dict)
    destinations: dict[str, CompiledDestination] = field(default_factory=dict)
    erasable: dict[str, CompiledDestination] = field(default_factory=dict)
    """Every instance, disabled ones too: where a deletion regulation must reach."""
    deliverable: dict[str, CompiledDestination] = field(default_factory=dict)
    """The enabled instances with the Reverse ETL models' subscriptions too: what the delivery
    workers deliver (`destinations` holds only what events are routed to)."""
    plain_parts: tuple[str, ...] = ("properties", "traits")
    """The free-form parts the protocols stage must decode: `context` and `integrations` only
    when a rule reads them (decoding `context` is a third of the stage's cost)."""

    engage: EngageRules = field(default_factory=EngageRules)
    """Computed traits and audiences."""

    ingest_controls: list[PiiControl] = field(default_factory=list)
    """The PII controls applied before anything is stored (those naming no destination)."""

    def touches(self, source_id: str) -> bool:
        """Whether the protocols stage has anything to do for this source."""
        found = self._touched.get(source_id)
        if found is None:
            found = self._touched[source_id] = source_id in self.sources or any(
                not t.source_ids or source_id in t.source_ids for t in self.transformations
            )
        return found


RunnerFactory = Callable[[str, str, float], FunctionRunner]
"""(name, code, time_limit) → a started runner."""


def compile_rules(
    revision: int,
    found: list[Resource],
    runners: dict[tuple[str, str], FunctionRunner],
    start_runner: RunnerFactory,
    unseal: Callable[[Any], Any] = lambda value: value,
) -> WorkspaceRules:
    """Compile `found`. Runners whose code did not change are taken from `runners` (and
    removed from it, so what is left there is stale and can be closed)."""
    by_kind: dict[str, dict[str, dict[str, Any]]] = {}
    for resource in found:
        by_kind.setdefault(resource.kind, {})[resource.name] = resource.document
    rules = WorkspaceRules(revision)
    plans = {
        name: CompiledPlan(load_plan({**doc, "name": name}))
        for name, doc in by_kind.get("tracking_plan", {}).items()
    }
    for source_id, doc in by_kind.get("source_connection", {}).items():
        connection = msgspec.convert(doc, SourceConnection)
        naming = connection.naming
        rules.sources[source_id] = SourceRules(
            plan=plans.get(connection.tracking_plan) if connection.tracking_plan else None,
            controls=parse_controls(connection.schema_controls),
            naming=None
            if naming is None
            else NamingRules(
                events=naming.events,
                properties=naming.properties,
                traits=naming.traits,
                mode=naming.mode,
            ),
        )
    for name, doc in by_kind.get("function", {}).items():
        code, limit = str(doc["code"]), float(doc.get("time_limit", 1.0))
        if "transform" not in entry_points(code):
            continue  # a source's or a destination's function: run where it is used
        key = (name, hashlib.sha256(f"{limit}\n{code}".encode()).hexdigest())
        runner = runners.pop(key, None)
        rules.functions[name] = runner if runner is not None else start_runner(name, code, limit)
        rules.function_keys[name] = key
    transformations = [
        Transformation(name, parse_transformation(name, doc), frozenset(doc.get("sources") or ()))
        for name, doc in by_kind.get("transformation", {}).items()
        if doc.get("enabled", True)
    ]
    rules.transformations = sorted(transformations, key=lambda t: (t.order, t.name))
    rules.plain_parts = _parts_read(rules, plans.values())
    rules.matchers = DEFAULT_MATCHERS + tuple(
        custom_matcher(
            doc["kind"],
            doc["classification"],
            names=doc.get("names") or (),
            name_regex=doc.get("name_regex"),
            value_regex=doc.get("value_regex"),
        )
        for doc in by_kind.get("pii_matcher", {}).values()
    )
    rules.pii_controls = [
        msgspec.convert(doc, PiiControl) for doc in by_kind.get("pii_control", {}).values()
    ]
    rules.ingest_controls = [c for c in rules.pii_controls if not c.destinations]
    needs: dict[str, set[str]] = {}
    for category, doc in by_kind.get("consent_category", {}).items():
        for destination in msgspec.convert(doc, ConsentCategory).destinations:
            needs.setdefault(destination, set()).add(category)
    rules.consent = {dest: frozenset(categories) for dest, categories in needs.items()}
    # Models' subscriptions are delivered (and deleted from) like their destinations' own,
    # but events are never routed to them: the route stage sees `destinations` only.
    subscriptions = {
        **by_kind.get("subscription", {}),
        **destination_subscriptions(by_kind.get("model", {})),
    }
    rules.destinations = compile_destinations(
        by_kind.get("destination", {}), by_kind.get("subscription", {}), unseal
    )
    rules.deliverable = compile_destinations(by_kind.get("destination", {}), subscriptions, unseal)
    rules.erasable = compile_destinations(
        by_kind.get("destination", {}), subscriptions, unseal, disabled=True
    )
    _attach_function_code(rules, by_kind.get("function", {}))
    rules.engage = compile_engage(by_kind.get("computed_trait", {}), by_kind.get("audience", {}))
    return rules


def _attach_function_code(rules: WorkspaceRules, functions: dict[str, dict[str, Any]]) -> None:
    """Give each destination function instance the code and time limit of the function it
    names (its settings hold only the name), so delivery runs what the workspace holds now."""
    for instance in (
        *rules.destinations.values(),
        *rules.deliverable.values(),
        *rules.erasable.values(),
    ):
        named = functions.get(str(instance.settings.get("function")))
        if instance.definition.slug == "function" and named is not None:
            instance.settings = {
                **instance.settings,
                "code": named["code"],
                "time_limit": named.get("time_limit"),
            }


def _parts_read(rules: WorkspaceRules, plans: Iterable[CompiledPlan]) -> tuple[str, ...]:
    if rules.functions and any(t.function for t in rules.transformations):
        return PARTS
    mentioned = " ".join(
        " ".join(
            str(part)
            for part in (
                t.spec.where,
                t.spec.property,
                t.spec.to,
                t.spec.template,
                *t.spec.properties,
            )
            if part
        )
        for t in rules.transformations
    )
    parts = ["properties", "traits"]
    if "context" in mentioned or any(_reads_context(plan) for plan in plans):
        parts.append("context")
    if "integrations" in mentioned:
        parts.append("integrations")
    return tuple(parts)


def _reads_context(plan: CompiledPlan) -> bool:
    keys: dict[tuple[str, str | None], int] = {}
    for rule in plan.plan.rules:
        schema = rule.schema
        if "context" in (schema.get("properties") or {}) or "context" in (
            schema.get("required") or ()
        ):
            return True
        keys[rule.kind, rule.key] = keys.get((rule.kind, rule.key), 0) + 1
    # Several versions of an event: `context.protocols.event_version` picks one.
    return any(count > 1 for count in keys.values())


class RulesCache:
    """Each workspace's compiled rules, rebuilt when its configuration revision moves.

    The revision is read at most every `check_every` seconds, so asking for the rules per
    message costs a dict lookup; a change made in this process (the management API) calls
    `invalidate` and is seen at once, one made by another process (`seamline apply`) within
    `check_every`.
    """

    def __init__(
        self,
        resources: ResourceStore,
        functions_dir: Path,
        check_every: float = 0.5,
        sealer: Sealer | None = None,
    ) -> None:
        self._sealer = sealer
        self._resources = resources
        self._functions_dir = functions_dir
        self._check_every = check_every
        self._rules: dict[str, WorkspaceRules] = {}
        self._checked: dict[str, float] = {}
        self._invalidations: dict[str, int] = {}
        self._lock = threading.Lock()  # held while compiling
        self._marks = threading.Lock()  # check times and invalidations, never held long

    def invalidate(self, workspace_id: str) -> None:
        with self._marks:
            self._invalidations[workspace_id] = self._invalidations.get(workspace_id, 0) + 1
            self._checked.pop(workspace_id, None)

    def get(self, workspace_id: str) -> WorkspaceRules:
        # The check time first, then the rules: a check time is set only once `_rules` holds
        # rules at least as new as the revision that check read.
        checked = self._checked.get(workspace_id, -1e9)
        current = self._rules.get(workspace_id)
        now = time.monotonic()
        if current is not None and now - checked < self._check_every:
            return current
        invalidations = self._invalidations.get(workspace_id, 0)
        revision = self._resources.revision(workspace_id)
        with self._lock:
            current = self._rules.get(workspace_id)
            # A thread that read the revision before a change may arrive after a thread that
            # compiled the change; revisions only grow, so the newer rules stay.
            if current is None or current.revision < revision:
                current = self._rules[workspace_id] = self._compile(workspace_id, revision)
            with self._marks:
                # Not after a change made while this thread read the revision: the next
                # reader checks again rather than trust rules older than the change.
                if self._invalidations.get(workspace_id, 0) == invalidations:
                    self._checked[workspace_id] = now
            return current

    def _compile(self, workspace_id: str, revision: int) -> WorkspaceRules:
        current = self._rules.get(workspace_id)
        runners = (
            {current.function_keys[n]: r for n, r in current.functions.items()}
            if current is not None
            else {}
        )
        rules = compile_rules(
            revision,
            self._resources.list(workspace_id),
            runners,
            self._start_runner,
            self._sealer.unseal if self._sealer is not None else lambda value: value,
        )
        for stale in runners.values():
            stale.close()
        logger.info("workspace %s: configuration revision %d loaded", workspace_id, revision)
        return rules

    def close(self) -> None:
        with self._lock:
            for rules in self._rules.values():
                for runner in rules.functions.values():
                    runner.close()
            self._rules.clear()

    def _start_runner(self, name: str, code: str, time_limit: float) -> FunctionRunner:
        digest = hashlib.sha256(code.encode()).hexdigest()[:16]
        self._functions_dir.mkdir(parents=True, exist_ok=True)
        path = self._functions_dir / f"{_safe(name)}-{digest}.py"
        if not path.exists():
            path.write_text(code)
        return FunctionRunner(path, name=name, time_limit=time_limit)


def _safe(name: str) -> str:
    return "".join(c if c.isalnum() or c in "-_" else "_" for c in name)[:60]
