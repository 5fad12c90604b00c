"""The state store's tables and engine. SQLite in the data directory by default.

These definitions are what the code queries; the schema itself is created and changed by the
Alembic migrations in `store/migrations/versions`, which must agree with them (a test checks).
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import msgspec
from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    Column,
    DateTime,
    Double,
    Engine,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    String,
    Table,
    Text,
    UniqueConstraint,
    create_engine,
    event,
    text,
)
from sqlalchemy.exc import DBAPIError

from seamline.store.sqlite_cursors import CONNECT_ARGS, close_cursors_at_checkin

metadata = MetaData()

workspaces = Table(
    "workspaces",
    metadata,
    Column("id", String(64), primary_key=True),
    Column("name", String(200), nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False),
)

sources = Table(
    "sources",
    metadata,
    Column("id", String(64), primary_key=True),
    Column("workspace_id", String(64), ForeignKey("workspaces.id"), nullable=False),
    Column("name", String(200), nullable=False),
    Column("write_key", String(200), nullable=False, unique=True),
    Column("enabled", Boolean, nullable=False, default=True),
    Column("created_at", DateTime(timezone=True), nullable=False),
)


profiles = Table(
    "profiles",
    metadata,
    Column("id", String(64), primary_key=True),
    Column("workspace_id", String(64), nullable=False),
    Column("canonical_id", String(64), nullable=False, index=True),
    Column("merged_into", String(64), nullable=True),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("first_message_id", String(200), nullable=True),
)

identities = Table(
    "identities",
    metadata,
    Column("workspace_id", String(64), primary_key=True),
    Column("type", String(100), primary_key=True),
    Column("value", String(1000), primary_key=True),
    Column("profile_id", String(64), nullable=False, index=True),
    Column("first_seen", DateTime(timezone=True), nullable=False),
    Column("last_seen", DateTime(timezone=True), nullable=False),
    Column("first_message_id", String(200), nullable=True),
    # The value as first sent when it differs from the normalised one (a phone's spelling).
    Column("sent_value", String(1000), nullable=True),
)

merges = Table(
    "merges",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("workspace_id", String(64), nullable=False),
    Column("from_profile", String(64), nullable=False, index=True),
    Column("into_profile", String(64), nullable=False, index=True),
    Column("message_id", String(200), nullable=False),
    Column("identifiers", JSON, nullable=False),
    Column("merged_at", DateTime(timezone=True), nullable=False),
    Column("undone_at", DateTime(timezone=True), nullable=True),
    # deterministic (the resolver), probabilistic (the matching job, with its score) or manual
    Column("kind", String(20), nullable=False, server_default="deterministic"),
    Column("score", Double, nullable=True),
)

separations = Table(
    "separations",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("workspace_id", String(64), nullable=False),
    Column("profile_a", String(64), nullable=False, index=True),
    Column("profile_b", String(64), nullable=False, index=True),
    Column("merge_id", Integer, nullable=True),
    Column("created_at", DateTime(timezone=True), nullable=False),
)

profile_traits = Table(
    "profile_traits",
    metadata,
    Column("profile_id", String(64), primary_key=True),
    Column("name", String(300), primary_key=True),
    Column("value", JSON, nullable=True),
    Column("removed", Boolean, nullable=False, default=False),
    Column("updated_at", DateTime(timezone=True), nullable=False),
    Column("source_id", String(64), nullable=True),
    Column("message_id", String(200), nullable=True),
)


accounts = Table(
    "accounts",
    metadata,
    Column("id", String(64), primary_key=True),
    Column("workspace_id", String(64), nullable=False),
    Column("group_id", String(1000), nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False),
    UniqueConstraint("workspace_id", "group_id"),
)

account_members = Table(
    "account_members",
    metadata,
    Column("account_id", String(64), primary_key=True),
    Column("profile_id", String(64), primary_key=True),
    Column("first_seen", DateTime(timezone=True), nullable=False),
    Column("source_id", String(64), nullable=True),
)

suppressions = Table(
    "suppressions",
    metadata,
    Column("workspace_id", String(64), primary_key=True),
    Column("type", String(100), primary_key=True),
    Column("value", String(1000), primary_key=True),
    Column("created_at", DateTime(timezone=True), nullable=False),
)

suppressed = Table(
    "suppressed",
    metadata,
    Column("workspace_id", String(64), primary_key=True),
    Column("source_id", String(64), primary_key=True),  # "" for the whole workspace
    Column("digest", String(64), primary_key=True),  # keyed hash of `type:value`
    Column("regulation_id", String(64), nullable=True),
    Column("created_at", DateTime(timezone=True), nullable=False),
)

regulations = Table(
    "regulations",
    metadata,
    Column("id", String(64), primary_key=True),
    Column("workspace_id", String(64), nullable=False),
    Column("source_id", String(64), nullable=True),
    Column("regulation_type", String(40), nullable=False),
    Column("subject_type", String(20), nullable=False),
    # Plain ids only while the regulation runs: cleared once it ends (digests stay in
    # `suppressed`), so a finished deletion leaves no identifier of the person behind.
    Column("subject_ids", JSON, nullable=True),
    Column("subject_count", Integer, nullable=False),
    Column("person", JSON, nullable=True),  # the resolved person, also only while it runs
    Column("overall_status", String(20), nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("finished_at", DateTime(timezone=True), nullable=True),
    Column("targets", JSON, nullable=False),
    Column("actor", String(200), nullable=False),
    Column("next_attempt_at", DateTime(timezone=True), nullable=True),
    Column("claimed_until", DateTime(timezone=True), nullable=True),
    Index("regulations_by_workspace", "workspace_id", "created_at"),
)

tokens = Table(
    "tokens",
    metadata,
    Column("id", String(64), primary_key=True),
    Column("workspace_id", String(64), ForeignKey("workspaces.id"), nullable=False),
    Column("name", String(200), nullable=False),
    Column("digest", String(64), nullable=False, unique=True),
    Column("created_at", DateTime(timezone=True), nullable=False),
    # Role grants, [{"role": slug, "resources": [names] | null}] (access/permissions.py).
    Column("roles", JSON, nullable=False),
    # Sees yellow and red PII unmasked.
    Column("pii_access", Boolean, nullable=False, server_default=text("true")),
    Column("last_used_at", DateTime(timezone=True), nullable=True),
    Column("revoked_at", DateTime(timezone=True), nullable=True),
)


# Users sign in to the console with an email (unique per workspace whatever its case:
# `email_key` is its lower-case form) and a password (scrypt hash, access/passwords.py).
users = Table(
    "users",
    metadata,
    Column("id", String(64), primary_key=True),
    Column("workspace_id", String(64), ForeignKey("workspaces.id"), nullable=False),
    Column("email", String(320), nullable=False),
    Column("email_key", String(320), nullable=False),
    Column("password_hash", String(200), nullable=False),
    Column("grants", JSON, nullable=False),  # [{"role": …, "resources": [...] | null}]
    Column("pii_access", Boolean, nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("disabled_at", DateTime(timezone=True), nullable=True),
    UniqueConstraint("workspace_id", "email_key"),
)

# A login session: `id` is the SHA-256 of the cookie's secret, `csrf_digest` of its CSRF token.
user_sessions = Table(
    "user_sessions",
    metadata,
    Column("id", String(64), primary_key=True),
    Column("user_id", String(64), ForeignKey("users.id"), nullable=False, index=True),
    Column("csrf_digest", String(64), nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("expires_at", DateTime(timezone=True), nullable=False),
    Column("last_seen_at", DateTime(timezone=True), nullable=False),
)

# Failed logins, counted per email and per client IP over the throttling window.
login_attempts = Table(
    "login_attempts",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("workspace_id", String(64), nullable=False),
    Column("email_key", String(320), nullable=False),
    Column("client_ip", String(64), nullable=False),
    Column("attempted_at", DateTime(timezone=True), nullable=False, index=True),
    Index("login_attempts_by_email", "workspace_id", "email_key", "attempted_at"),
    Index("login_attempts_by_ip", "client_ip", "attempted_at"),
)


# The audit trail: append-only, each row chained to the one before by `prev_hash` and `hash`
# (sha256 of prev_hash + payload). `payload` is the row's canonical JSON and the truth; the other
# columns repeat parts of it for filtering. `audit_head` is one row: the last seq and hash, the
# lock appends serialise on, and what shows rows deleted from the end (access/audit.py).
audit_trail = Table(
    "audit_trail",
    metadata,
    Column("seq", BigInteger, primary_key=True, autoincrement=False),
    Column("at", DateTime(timezone=True), nullable=False),
    Column("workspace_id", String(64), nullable=False),
    Column("actor_kind", String(20), nullable=False),
    Column("actor_id", String(200), nullable=False),
    Column("actor_name", String(300), nullable=False),
    Column("action", String(100), nullable=False),
    Column("resource_type", String(100), nullable=False),
    Column("resource_id", String(1000), nullable=False),
    Column("payload", Text, nullable=False),
    Column("prev_hash", String(64), nullable=False),
    Column("hash", String(64), nullable=False),
    Index("audit_trail_by_workspace", "workspace_id", "seq"),
)

audit_head = Table(
    "audit_head",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=False),
    Column("seq", BigInteger, nullable=False),
    Column("hash", String(64), nullable=False),
)

resources = Table(
    "resources",
    metadata,
    Column("workspace_id", String(64), primary_key=True),
    Column("kind", String(64), primary_key=True),
    Column("name", String(300), primary_key=True),
    Column("document", JSON, nullable=False),
    Column("version", Integer, nullable=False),
    Column("updated_at", DateTime(timezone=True), nullable=False),
)

resource_versions = Table(
    "resource_versions",
    metadata,
    Column("workspace_id", String(64), primary_key=True),
    Column("kind", String(64), primary_key=True),
    Column("name", String(300), primary_key=True),
    Column("version", Integer, primary_key=True),
    Column("document", JSON, nullable=True),  # None: the resource was deleted
    Column("created_at", DateTime(timezone=True), nullable=False),
)

config_revisions = Table(
    "config_revisions",
    metadata,
    Column("workspace_id", String(64), primary_key=True),
    Column("revision", Integer, nullable=False),
)

violations = Table(
    "violations",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("workspace_id", String(64), nullable=False),
    Column("source_id", String(64), nullable=False),
    Column("log_offset", BigInteger, nullable=False, index=True),
    Column("message_id", String(200), nullable=True),
    Column("message_type", String(20), nullable=True),
    Column("event_name", String(500), nullable=True),
    Column("path", String(500), nullable=False),
    Column("rule", String(100), nullable=False),
    Column("expected", String(500), nullable=False),
    Column("actual", String(500), nullable=False),
    Column("recorded_at", DateTime(timezone=True), nullable=False),
    Index("violations_by_source", "workspace_id", "source_id", "id"),
)

held_events = Table(
    "held_events",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("workspace_id", String(64), nullable=False),
    Column("source_id", String(64), nullable=False),
    Column("log_offset", BigInteger, nullable=False, index=True),
    Column("message_id", String(200), nullable=True),
    Column("disposition", String(20), nullable=False),
    Column("reason", Text, nullable=False),
    Column("message", Text, nullable=False),
    Column("held_at", DateTime(timezone=True), nullable=False),
    Column("rerun_at", DateTime(timezone=True), nullable=True),
    Index("held_by_source", "workspace_id", "source_id", "id"),
)

data_inventory = Table(
    "data_inventory",
    metadata,
    Column("workspace_id", String(64), primary_key=True),
    Column("source_id", String(64), primary_key=True),
    Column("path", String(500), primary_key=True),
    Column("classification", String(10), nullable=False),
    Column("kind", String(50), nullable=True),
    Column("first_seen", DateTime(timezone=True), nullable=False),
    Column("last_seen", DateTime(timezone=True), nullable=False),
    Column("count", BigInteger, nullable=False),
    Column("last_offset", BigInteger, nullable=False),
)

profile_consent = Table(
    "profile_consent",
    metadata,
    Column("workspace_id", String(64), primary_key=True),
    Column("profile_id", String(64), primary_key=True),
    Column("preferences", JSON, nullable=False),
    Column("updated_at", DateTime(timezone=True), nullable=False),
    Column("message_id", String(200), nullable=True),
    Column("log_offset", BigInteger, nullable=False),
)

workspace_secrets = Table(
    "workspace_secrets",
    metadata,
    Column("workspace_id", String(64), primary_key=True),
    Column("name", String(100), primary_key=True),
    Column("value", String(500), nullable=False),
)


outbox = Table(
    "outbox",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("workspace_id", String(64), nullable=False),
    Column("destination", String(300), nullable=False),
    Column("subscription", String(300), nullable=False),
    Column("delivery_key", String(300), nullable=False),
    Column("message_id", String(200), nullable=False),
    Column("profile_key", String(300), nullable=True),
    Column("payload", JSON, nullable=False),
    Column("enqueued_at", DateTime(timezone=True), nullable=False),
    Column("attempts", Integer, nullable=False),
    Column("next_attempt_at", DateTime(timezone=True), nullable=False),
    Column("claimed_until", DateTime(timezone=True), nullable=True),
    Column("last_error", Text, nullable=True),
    UniqueConstraint("workspace_id", "subscription", "delivery_key"),
    Index("outbox_ready", "destination", "next_attempt_at", "id"),
)

dead_letters = Table(
    "dead_letters",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("workspace_id", String(64), nullable=False),
    Column("destination", String(300), nullable=False, index=True),
    Column("subscription", String(300), nullable=False),
    Column("message_id", String(200), nullable=False),
    Column("payload", JSON, nullable=False),
    Column("error", Text, nullable=False),
    Column("status", Integer, nullable=True),
    Column("request", Text, nullable=True),
    Column("response", Text, nullable=True),
    Column("attempts", Integer, nullable=False),
    Column("failed_at", DateTime(timezone=True), nullable=False),
    Column("replayed_at", DateTime(timezone=True), nullable=True),
)

delivery_counts = Table(
    "delivery_counts",
    metadata,
    Column("workspace_id", String(64), primary_key=True),
    Column("destination", String(300), primary_key=True),
    Column("subscription", String(300), primary_key=True),
    Column("minute", DateTime(timezone=True), primary_key=True),
    Column("outcome", String(30), primary_key=True),
    Column("reason", String(300), primary_key=True),
    Column("count", BigInteger, nullable=False),
)


# Engage: `states` holds {feature key: [last log offset applied, state]} per raw profile; values
# and rechecks are per canonical profile (rechecks in µs since the epoch).
engage_states = Table(
    "engage_states",
    metadata,
    Column("workspace_id", String(64), primary_key=True),
    Column("profile_id", String(64), primary_key=True),
    Column("states", JSON, nullable=False),
)

engage_values = Table(
    "engage_values",
    metadata,
    Column("workspace_id", String(64), primary_key=True),
    Column("profile_id", String(64), primary_key=True),
    Column("key", String(100), primary_key=True),
    Column("value", JSON, nullable=True),
    Column("version", Integer, nullable=False),
    Column("updated_at", DateTime(timezone=True), nullable=False),
    Index("engage_values_by_key", "workspace_id", "key"),
)

engage_rechecks = Table(
    "engage_rechecks",
    metadata,
    Column("workspace_id", String(64), primary_key=True),
    Column("profile_id", String(64), primary_key=True),
    Column("recheck_at", BigInteger, nullable=False, index=True),
)

engage_features = Table(
    "engage_features",
    metadata,
    Column("workspace_id", String(64), primary_key=True),
    Column("feature_key", String(40), primary_key=True),
    Column("hydrated_through", BigInteger, nullable=False),
)

event_files = Table(
    "event_files",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("path", String(400), nullable=False, unique=True),
    Column("log_partition", Integer, nullable=False),
    Column("first_position", BigInteger, nullable=False),
    Column("last_position", BigInteger, nullable=False),
    Column("rows", BigInteger, nullable=False),
    Column("bytes", BigInteger, nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False),
    # Set when compaction or a rewrite replaced the file: readers stop listing it at once, and
    # it is unlinked after a grace period (a query that listed it just before may still read).
    Column("retired_at", DateTime(timezone=True), nullable=True, index=True),
    # The column the file's rows are sorted by; NULL: log order (pipeline batches, old files).
    Column("sorted_by", String(40), nullable=True),
    # A Bloom filter of the file's profile ids (store/profile_filter.py); NULL: read the file.
    Column("profile_filter", LargeBinary, nullable=True),
    Index("ix_event_files_partition", "log_partition", "first_position"),
)

# Retention (privacy/retention.py): each workspace's setting for the log and the event store
# (no row: unlimited), and what each run of the expiry job removed, for status and /metrics.
workspace_retention = Table(
    "workspace_retention",
    metadata,
    Column("workspace_id", String(64), primary_key=True),
    Column("retention", String(16), nullable=False),
    Column("updated_at", DateTime(timezone=True), nullable=False),
)

retention_runs = Table(
    "retention_runs",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("ran_at", DateTime(timezone=True), nullable=False, index=True),
    Column("cutoffs", JSON, nullable=False),  # {workspace id: ISO time} of this run
    Column("log_records", BigInteger, nullable=False),
    Column("log_segments", Integer, nullable=False),
    Column("events", BigInteger, nullable=False),
    Column("event_files", Integer, nullable=False),
)

# Dedup: the log position each (source, messageId) was first seen at, shared by every pipeline
# worker. `seen_at` is the message's receivedAt in epoch seconds, for pruning after the window.
seen_messages = Table(
    "seen_messages",
    metadata,
    Column("source_id", String(64), primary_key=True),
    Column("message_id", String(250), primary_key=True),  # 200 chars + a rerun's suffix
    Column("first_offset", BigInteger, nullable=False),
    Column("seen_at", Double, nullable=False, index=True),
)

partition_leases = Table(
    "partition_leases",
    metadata,
    Column("consumer", String(64), primary_key=True),
    Column("log_partition", Integer, primary_key=True),
    Column("owner", String(128), nullable=False),
    Column("expires_at", DateTime(timezone=True), nullable=False),
    # Grows on every takeover: the fencing token a commit of the partition's offset carries.
    Column("epoch", BigInteger, nullable=False, server_default=text("0")),
)

# Message traces (issue 14): per log position, what the pipeline's stages did to the message
# (`stages`, compact JSON) and the message as accepted (`body`, JSON text); per delivery
# attempt, its outcome. Rows are only inserted (a batch processed again adds its rows again;
# readers keep the newest per position), and pruned oldest id first once `traced_at` (epoch
# seconds) is past the retention: one index each, by messageId, keeps tracing cheap.
_TRACE_ID = BigInteger().with_variant(Integer(), "sqlite")

message_traces = Table(
    "message_traces",
    metadata,
    Column("id", _TRACE_ID, primary_key=True, autoincrement=True),
    Column("position", BigInteger, nullable=False),
    Column("workspace_id", String(64), nullable=False),
    Column("message_id", String(200), nullable=False),
    Column("profile_id", String(64), nullable=True),
    Column("traced_at", Double, nullable=False),
    Column("body", Text, nullable=False),
    Column("stages", JSON, nullable=False),
    Index("message_traces_message", "workspace_id", "message_id"),
)

message_trace_attempts = Table(
    "message_trace_attempts",
    metadata,
    Column("id", _TRACE_ID, primary_key=True, autoincrement=True),
    Column("workspace_id", String(64), nullable=False),
    Column("message_id", String(200), nullable=False),
    Column("profile_key", String(300), nullable=True),
    Column("destination", String(300), nullable=False),
    Column("subscription", String(300), nullable=False),
    Column("attempt", Integer, nullable=False),
    Column("outcome", String(20), nullable=False),
    Column("status", Integer, nullable=True),
    Column("error", Text, nullable=True),
    Column("traced_at", Double, nullable=False),
    Index("message_trace_attempts_message", "workspace_id", "message_id"),
)


# Webhook sources (issue 15): the secret URL token of a source (SHA-256 of it: the token is
# shown once), the source function that turns its requests into messages, and the function's
# settings (secret ones sealed).
webhook_sources = Table(
    "webhook_sources",
    metadata,
    Column("source_id", String(64), ForeignKey("sources.id"), primary_key=True),
    Column("workspace_id", String(64), nullable=False),
    Column("token_hash", String(64), nullable=False, unique=True),
    Column("function", String(300), nullable=True),
    Column("settings", JSON, nullable=False),
    Column("template", String(50), nullable=True),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("updated_at", DateTime(timezone=True), nullable=False),
)


# Reverse ETL (reverse_etl/): per model, the snapshot's generation (how many runs advanced it;
# a run's deliveries are keyed by it, so a run retried after a crash queues nothing twice), the
# primary key it is keyed by and the claim that keeps a model to one runner; per subscription
# of a model, each record's id and checksum as last sent; and every run with its counts.
reverse_etl_models = Table(
    "reverse_etl_models",
    metadata,
    Column("workspace_id", String(64), primary_key=True),
    Column("model", String(100), primary_key=True),
    Column("generation", BigInteger, nullable=False),
    Column("key_column", String(200), nullable=True),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("last_started_at", DateTime(timezone=True), nullable=True),
    Column("claimed_by", String(128), nullable=True),
    Column("claimed_until", DateTime(timezone=True), nullable=True),
)

reverse_etl_records = Table(
    "reverse_etl_records",
    metadata,
    Column("workspace_id", String(64), primary_key=True),
    Column("model", String(100), primary_key=True),
    Column("subscription", String(100), primary_key=True),
    Column("record_id", String(500), primary_key=True),
    Column("checksum", String(32), nullable=False),
)

reverse_etl_runs = Table(
    "reverse_etl_runs",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("workspace_id", String(64), nullable=False),
    Column("model", String(100), nullable=False),
    Column("trigger", String(20), nullable=False),
    Column("status", String(20), nullable=False),
    Column("started_at", DateTime(timezone=True), nullable=False),
    Column("finished_at", DateTime(timezone=True), nullable=True),
    Column("rows_read", BigInteger, nullable=False),
    Column("added", BigInteger, nullable=False),
    Column("updated", BigInteger, nullable=False),
    Column("deleted", BigInteger, nullable=False),
    Column("queued", BigInteger, nullable=False),
    Column("subscriptions", JSON, nullable=True),
    Column("error", Text, nullable=True),
    Index("reverse_etl_runs_by_model", "workspace_id", "model", "id"),
)


def chunks(values: Iterable[str], size: int) -> Iterator[list[str]]:
    """`values` in lists of at most `size`, for IN lists under the bound-parameter limits."""
    chunk: list[str] = []
    for value in values:
        chunk.append(value)
        if len(chunk) == size:
            yield chunk
            chunk = []
    if chunk:
        yield chunk


def as_utc(value: datetime) -> datetime:
    """A stored time as an aware UTC datetime (SQLite gives naive ones back)."""
    return value if value.tzinfo is not None else value.replace(tzinfo=UTC)


def open_state_store(url: str) -> Engine:
    """Create the engine for `url` and bring its schema to the latest migration."""
    # msgspec for JSON columns: several times faster than the stdlib on the outbox's payloads
    # and the identity graph's identifier lists, and it writes datetimes as ISO 8601.
    # psycopg 3 is the driver Seamline ships; a bare postgresql:// would ask for psycopg2.
    for bare in ("postgresql://", "postgres://"):
        if url.startswith(bare):
            url = "postgresql+psycopg://" + url[len(bare) :]
    sqlite = url.startswith("sqlite")
    engine = create_engine(
        url,
        json_serializer=_json_text,
        json_deserializer=msgspec.json.decode,
        connect_args=CONNECT_ARGS if sqlite else {},
    )
    if sqlite:
        event.listen(engine, "connect", _sqlite_pragmas)
        close_cursors_at_checkin(engine)
    migrate(engine)
    return engine


def _json_text(value: Any) -> str:
    return msgspec.json.encode(value).decode()


def head_revision() -> str:
    """The newest migration's revision: migration files are named `NNNN_what.py` after their
    revision (a test checks this agrees with Alembic's own idea of the head)."""
    versions = Path(__file__).parent / "migrations" / "versions"
    return max(p.name[:4] for p in versions.glob("[0-9][0-9][0-9][0-9]_*.py"))


def _current_revision(engine: Engine) -> str | None:
    try:
        with engine.connect() as conn:
            found = conn.execute(text("SELECT version_num FROM alembic_version")).scalar()
    except DBAPIError:
        return None  # a new database: no version table yet
    return None if found is None else str(found)


def migrate(engine: Engine) -> None:
    """Apply the Alembic migrations (`store/migrations/versions`) not applied yet."""
    # Checked by hand first: importing Alembic and loading its scripts costs every CLI command
    # 0.25-0.5 s when, nearly always, there is nothing to do.
    if _current_revision(engine) == head_revision():
        return
    from alembic import command
    from alembic.config import Config

    config = Config()
    config.set_main_option("script_location", "seamline.store:migrations")
    with engine.begin() as connection:
        config.attributes["connection"] = connection
        command.upgrade(config, "head")


def _sqlite_pragmas(connection: Any, _record: object) -> None:
    # WAL lets the CLI write (e.g. create a source) while the server reads; the busy timeout
    # makes a writer wait for the other instead of failing at once.
    cursor = connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA busy_timeout=5000")
    cursor.execute("PRAGMA foreign_keys=ON")
    # Deleted rows are zeroed, not just unlinked: a delivered outbox row or an erased person
    # leaves no bytes in free pages (privacy deletion depends on it; the cost is small).
    cursor.execute("PRAGMA secure_delete=ON")
    cursor.close()
