"""What every role builds from the settings: the state store's tables, the event store, the
workspace rules and the secrets that seal and salt."""

from __future__ import annotations

from collections.abc import Callable, Collection
from pathlib import Path
from typing import Any

from seamline.access.sealing import Sealer, key_from
from seamline.collect.sources import WriteKeys
from seamline.config import Settings
from seamline.data_dir import DataDir, make_private, open_state
from seamline.engage.people import StoredPeople
from seamline.engage.realtime import RealtimeEngine
from seamline.identity.rules import IdentityRules
from seamline.identity.rules_cache import IdentityRulesCache
from seamline.identity.rules_document import document_from_settings, rules_from_document
from seamline.metrics import Metrics, shared_dir
from seamline.ops.regulations import RegulationOps
from seamline.privacy.egress import Egress
from seamline.privacy.fields import FieldClassifier
from seamline.roles.names import ALL_ROLES, PIPELINE
from seamline.sources.parts import WebhookParts
from seamline.store.accounts_sql import SqlAccountStore
from seamline.store.audit_sql import SqlAuditTrail
from seamline.store.consent_sql import SqlConsentStore
from seamline.store.engage_sql import SqlEngageStore
from seamline.store.events_lake import LakeEventStore
from seamline.store.identity_rules_sql import SqlIdentityRules
from seamline.store.identity_sql import SqlIdentityGraph
from seamline.store.inventory_sql import SqlInventory
from seamline.store.lake_files import LakeFiles, lake_files
from seamline.store.outbox_sql import SqlOutbox
from seamline.store.protocols_sql import SqlProtocolsStore
from seamline.store.regulations_sql import SqlRegulationStore
from seamline.store.resources_sql import SqlResourceStore
from seamline.store.secrets_sql import PII_SALT, SqlWorkspaceSecrets
from seamline.store.sources_sql import SqlSourceStore
from seamline.store.suppressions_sql import SqlSuppressionList
from seamline.store.tokens_sql import SqlTokenStore
from seamline.store.traces_sql import TRACE_FILE, SqlTraces, trace_store
from seamline.store.traits_sql import SqlTraitStore
from seamline.workspace.compiled import RulesCache, WorkspaceRules


def identity_rules(settings: Settings) -> IdentityRules:
    """The identity resolution rules the deprecated `identity_*` settings describe, on top of
    the defaults: version 1 of a workspace's rules (the pipeline uses each workspace's active
    version, `Parts.identity_rules_of`)."""
    return rules_from_document(document_from_settings(settings))


def events_root(settings: Settings, *, writable: bool = True) -> Path | LakeFiles:
    """Where the event store's files live: `events_url` (a shared disk or S3), else the data
    dir."""
    if settings.events_url:
        return lake_files(
            settings.events_url, s3_endpoint=settings.events_s3_endpoint, writable=writable
        )
    return DataDir(settings.data_dir).events


class Parts:
    """The stores and rules of one process; `roles` says which of them it writes."""

    def __init__(self, settings: Settings, roles: frozenset[str]) -> None:
        self.settings = settings
        self.paths = DataDir(settings.data_dir)
        make_private(self.paths.root)  # before any store creates a file in it
        # Serving processes share their counts through the data directory (see metrics.py).
        self.metrics = Metrics(
            shared_dir(self.paths.root) if roles else None,
            "all" if roles == ALL_ROLES else "-".join(sorted(roles)),
        )
        self.state = open_state(settings)
        self.sources = SqlSourceStore(self.state)
        self.write_keys = WriteKeys(self.sources)
        self.identity_rules = identity_rules(settings)  # bad legacy settings stop here
        seed = document_from_settings(settings)
        self.identity_rules_store = SqlIdentityRules(self.state, seed=lambda: seed)
        self.identity_rules_of = IdentityRulesCache(self.identity_rules_store)
        self.identity = SqlIdentityGraph(self.state)
        self.traits = SqlTraitStore(self.state)
        self.accounts = SqlAccountStore(self.state)
        self.suppressions = SqlSuppressionList(self.state)
        self.resources = SqlResourceStore(self.state)
        self.protocols = SqlProtocolsStore(self.state)
        self.inventory = SqlInventory(self.state)
        self.consent = SqlConsentStore(self.state)
        self.secrets = SqlWorkspaceSecrets(self.state)
        self.tokens = SqlTokenStore(self.state)
        self.audit = SqlAuditTrail(self.state)
        self.outbox = SqlOutbox(self.state)
        self.engage_store = SqlEngageStore(self.state)
        self.sealer = Sealer(key_from(settings.secret_key, self.paths.root))
        self.rules = RulesCache(self.resources, self.paths.functions, sealer=self.sealer)
        self.webhooks = WebhookParts(self.state, self.resources, self.sealer)
        # The pipeline's process says which log partitions it writes (compaction rewrites
        # only those: workers on other machines compact theirs).
        self.owned_partitions: Callable[[], Collection[int]] = frozenset
        self.events = LakeEventStore(
            events_root(settings, writable=PIPELINE in roles),
            self.state,
            writable=PIPELINE in roles,
            compact=PIPELINE in roles,
            owned=lambda: self.owned_partitions(),
        )
        self.engage_engine = RealtimeEngine(
            self.engage_store,
            StoredPeople(self.traits, self.accounts),
            self.events.track_events,
        )
        self._salts: dict[str, bytes] = {}
        self._egress: dict[str, tuple[int, Egress]] = {}
        self.regulations = SqlRegulationStore(self.state)
        self._traces: SqlTraces | None = None  # opened when first read (`traces`)
        self.regulation_ops = RegulationOps(
            self.regulations,
            self.suppressions,
            self.identity,
            self.salt,
            self.destination_names,
            self.source_id_of,
        )
        if PIPELINE in roles:  # plain suppressions kept before migration 0013 become digests
            self.suppressions.rehash(self.regulation_ops.suppression_digest)

    def salt(self, workspace_id: str) -> bytes:
        salt = self._salts.get(workspace_id)
        if salt is None:
            salt = self._salts[workspace_id] = self.secrets.get_or_create(workspace_id, PII_SALT)
        return salt

    def destination_names(self, workspace_id: str) -> list[tuple[str, str]]:
        found = self.rules.get(workspace_id).erasable
        return [(name, f"{d.definition.name}: {name}") for name, d in sorted(found.items())]

    def source_id_of(self, workspace_id: str, id_or_name: str) -> str | None:
        for source in self.sources.list(workspace_id):
            if id_or_name in (source.id, source.name):
                return source.id
        return None

    def egress_for(self, workspace_id: str) -> Egress:
        rules: WorkspaceRules = self.rules.get(workspace_id)
        cached = self._egress.get(workspace_id)
        if cached is None or cached[0] != rules.revision:
            egress = Egress(
                rules.consent,
                [c for c in rules.pii_controls if c.destinations],
                FieldClassifier(rules.matchers),
                self.salt(workspace_id),
            )
            cached = self._egress[workspace_id] = (rules.revision, egress)
        return cached[1]

    def engage_traits(self, workspace_id: str, profile_id: str) -> dict[str, tuple[str, Any]]:
        """A person's computed traits and audience memberships, by key, with their class."""
        rules = self.rules.get(workspace_id).engage
        stored = self.engage_store.values(workspace_id, [profile_id]).get(profile_id, {})
        return {
            key: ("audience" if key in rules.audiences else "computed_trait", value)
            for key, (value, _) in stored.items()
            if (key in rules.audiences or key in rules.traits) and value is not None
        }

    @property
    def traces(self) -> SqlTraces:
        """The message traces, for reading (opened once, closed with the rest)."""
        if self._traces is None:
            self._traces = trace_store(self.state, self.paths.root / TRACE_FILE)
        return self._traces

    def close(self) -> None:
        if self._traces is not None:
            self._traces.close()
        self.rules.close()
        self.events.close()
        self.state.dispose()
