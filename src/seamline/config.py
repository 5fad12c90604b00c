"""Seamline's settings, declared once.

Every setting has a working default, and can be overridden by a `SEAMLINE_*` environment
variable or by `seamline.toml` (in the working directory, or the file named by
`SEAMLINE_CONFIG`). Environment variables win over the file. Settings are read once, in the
composition root, and passed down; library code never reads the environment.
"""

from __future__ import annotations

import importlib.util
import ipaddress
import os
import re
from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field, SecretStr, field_validator
from pydantic_settings import (
    BaseSettings,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
    TomlConfigSettingsSource,
)

DEFAULT_PORT = 8088


_PATH = r"^(userId|anonymousId|groupId|(properties|traits|context)(\.[^.]+)+)$"


class IdentifierSetting(BaseModel):
    """Priority and limit of one identifier type (see docs/identity.md)."""

    model_config = ConfigDict(extra="forbid")

    priority: int = Field(ge=1)
    limit: int | None = Field(None, ge=1)
    window_seconds: int | None = Field(None, ge=1)


class CustomIdentifier(BaseModel):
    """An identifier type read from a path in the message, e.g. `properties.customer_number`."""

    model_config = ConfigDict(extra="forbid")

    name: str = Field(min_length=1, pattern=r"^[a-z0-9_.]+$")
    path: str = Field(
        pattern=r"^(userId|anonymousId|groupId|(properties|traits|context)(\.[^.]+)+)$"
    )


class Settings(BaseSettings):
    """All of Seamline's settings; see docs/operations.md for each one."""

    model_config = SettingsConfigDict(env_prefix="SEAMLINE_", extra="forbid")

    data_dir: Path = Field(Path("seamline-data"), description="Where the embedded stores live.")
    database_url: str | None = Field(
        None,
        description="State store URL (postgresql+psycopg://…); default: SQLite in the data dir.",
    )
    host: str = Field("127.0.0.1", description="Interface the HTTP server binds.")
    port: int = Field(DEFAULT_PORT, ge=0, le=65535, description="TCP port of the HTTP server.")
    public_url: str | None = Field(
        None,
        description="URL SDKs use to reach this server (settings endpoint's apiHost); "
        "defaults to the Host the request came to.",
    )
    trusted_proxies: list[str] = Field(
        default_factory=list,
        description="CIDRs of reverse proxies whose X-Forwarded-For is believed for context.ip.",
    )
    log_url: str | None = Field(
        None,
        description="NATS JetStream servers for the log (nats://h1:4222,nats://h2:4222); "
        "default: the local log in the data dir.",
    )
    log_partitions: int = Field(
        8, ge=1, le=255, description="Partitions (subjects) of the JetStream log."
    )
    log_replicas: int = Field(
        1, ge=1, le=5, description="Replicas of the JetStream stream (3 in production)."
    )
    events_url: str | None = Field(
        None,
        description="Where the event store's Parquet files live (file:///shared/lake or "
        "s3://bucket/prefix, which needs `pip install seamline[s3]` and takes credentials from "
        "the standard AWS variables); default: events/ in the data dir. Its catalog is in the "
        "state store.",
    )
    events_s3_endpoint: str | None = Field(
        None,
        description="URL of an S3-compatible server (MinIO, Ceph, ...) for an s3:// events_url; "
        "default: AWS S3.",
    )
    log_fsync: bool = Field(True, description="fsync the log before answering 200 (durability).")
    log_segment_bytes: int = Field(256 * 1024 * 1024, ge=1024, description="Log segment size.")
    dedup_window_seconds: int = Field(
        24 * 3600, ge=0, description="How long a (source, messageId) is remembered for dedup."
    )
    trace_retention_hours: float = Field(
        72.0,
        ge=0,
        description="How long each message's trace (what every stage did to it, its delivery "
        "attempts) is kept for GET /api/v1/messages/{messageId}; 0 turns tracing off.",
    )
    profiles_sync_interval: float = Field(
        60.0,
        gt=0,
        description="Seconds between two Profiles Sync runs to each warehouse or lake that takes "
        "it (see docs/profiles-sync.md).",
    )
    identity_matching_interval: float = Field(
        300.0,
        gt=0,
        description="Seconds between two probabilistic matching runs of a workspace whose "
        "identity rules enable `matching:` (see docs/identity.md).",
    )
    pipeline_batch_size: int = Field(5000, ge=1, description="Max messages per pipeline batch.")
    pipeline_yield: float = Field(
        1.0,
        ge=0,
        description="While events arrive, the pipeline pauses this many times as long as a "
        "batch took, leaving the interpreter to the Tracking API (0: never pause).",
    )
    max_message_bytes: int = Field(32 * 1024, ge=1, description="Largest accepted message.")
    max_request_bytes: int = Field(500 * 1024, ge=1, description="Largest accepted request body.")
    http_header_timeout: float = Field(
        10.0, gt=0, description="Seconds a client has to send a request's headers (then 408)."
    )
    http_body_timeout: float = Field(
        30.0, gt=0, description="Seconds a client has to send a request's body (then 408)."
    )
    http_max_connections: int = Field(
        1000, ge=1, description="Open connections a server process serves; past it, 503."
    )
    live_max_streams: int = Field(
        20, ge=1, description="Live debugger streams a server process serves at once; past it, 429."
    )
    secret_key: str | None = Field(
        None,
        description="Key sealing destination secrets at rest (Fernet, url-safe base64); "
        "default: secret.key in the data dir. Scaled-out processes must share one.",
    )
    metrics_token: SecretStr | None = Field(
        None,
        description="When set, GET /metrics needs `Authorization: Bearer TOKEN`; "
        "by default /metrics is open (bind it to a private interface).",
    )
    delivery_retry_hours: float = Field(
        4.0, gt=0, description="How long a retryable delivery failure is retried."
    )
    delivery_timeout: float = Field(10.0, gt=0, description="Seconds per destination request.")
    destinations_allow_private: list[str] = Field(
        default_factory=list,
        description="CIDRs of loopback/private/link-local ranges destinations may reach "
        "(e.g. 10.0.0.0/8 for an on-premise tool); by default only public addresses.",
    )
    engage_sweep_seconds: float = Field(
        30.0,
        gt=0,
        description="How often Engage re-evaluates people whose time windows moved on.",
    )
    retention_check_seconds: float = Field(
        3600.0,
        gt=0,
        description="How often the pipeline applies each workspace's retention (expiry job).",
    )
    delivery_drain_seconds: float = Field(
        30.0,
        ge=0,
        description="On stop, how long the deliver role keeps delivering what is due.",
    )
    collect_workers: int = Field(
        0,
        ge=0,
        le=64,
        description="Collect processes `seamline serve` starts (0: one per core).",
    )
    delivery_poll: float = Field(
        0.2, gt=0, description="Seconds an idle delivery worker waits before looking again."
    )
    identity_types: dict[str, IdentifierSetting] = Field(
        default_factory=dict,
        description="Priority/limit per identifier type; added to (or replacing) the defaults.",
    )
    identity_blocked_values: list[str] | None = Field(
        None, description="Values that are never identifiers (default: see docs/identity.md)."
    )
    identity_blocked_patterns: list[str] = Field(
        default_factory=list,
        description="Regular expressions of values that are never identifiers.",
    )
    identity_custom_identifiers: list[CustomIdentifier] = Field(
        default_factory=list, description="Extra identifier types read from message paths."
    )

    @field_validator("log_url")
    @classmethod
    def _nats_urls(cls, value: str | None) -> str | None:
        for url in (value or "").split(","):
            if value and not url.strip().startswith(("nats://", "tls://")):
                raise ValueError(f"{url.strip()!r} is not a nats:// or tls:// URL")
        return value

    @field_validator("events_url")
    @classmethod
    def _file_url(cls, value: str | None) -> str | None:
        if value is None or value.startswith("file:///"):
            return value
        if not value.startswith("s3://") or not value.removeprefix("s3://").split("/")[0]:
            raise ValueError(
                "an event store is file:///absolute/path (a shared disk) or s3://bucket/prefix"
            )
        if importlib.util.find_spec("s3fs") is None:
            raise ValueError("an s3:// event store needs s3fs: pip install seamline[s3]")
        return value

    @field_validator("identity_blocked_patterns")
    @classmethod
    def _valid_patterns(cls, value: list[str]) -> list[str]:
        for pattern in value:
            re.compile(pattern)
        return value

    @field_validator("trusted_proxies", "destinations_allow_private")
    @classmethod
    def _valid_networks(cls, value: list[str]) -> list[str]:
        for network in value:
            ipaddress.ip_network(network, strict=False)
        return value

    @field_validator("metrics_token")
    @classmethod
    def _long_enough(cls, value: SecretStr | None) -> SecretStr | None:
        if value is not None and len(value.get_secret_value()) < 16:
            raise ValueError("must be at least 16 characters (e.g. `openssl rand -hex 24`)")
        return value

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        toml_path = Path(os.environ.get("SEAMLINE_CONFIG", "seamline.toml"))
        toml = TomlConfigSettingsSource(settings_cls, toml_file=toml_path)
        return (init_settings, env_settings, toml)


def load_settings(**overrides: object) -> Settings:
    """Read settings from defaults, `seamline.toml` and the environment, then apply overrides."""
    given = {key: value for key, value in overrides.items() if value is not None}
    return Settings(**given)  # type: ignore[arg-type]
