"""Webhook sources in the state store: a source's secret URL token (kept as its SHA-256
digest), the source function that reads its requests, and that function's settings."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import msgspec
from sqlalchemy import Engine, insert, select, update
from sqlalchemy.exc import IntegrityError

from seamline.errors import Conflict, NotFound
from seamline.store.state import as_utc, sources, webhook_sources


class WebhookSource(msgspec.Struct, frozen=True, kw_only=True):
    """A source's webhook configuration. `settings` hold secret values sealed (see
    `access.sealing`); `enabled` is the source's own flag."""

    source_id: str
    workspace_id: str
    token_hash: str
    function: str | None = None
    settings: dict[str, Any] = {}
    template: str | None = None
    enabled: bool = True
    created_at: datetime
    updated_at: datetime


_COLUMNS = (*webhook_sources.c, sources.c.enabled)


class SqlWebhookSources:
    """Webhook configurations over SQLAlchemy Core (SQLite or PostgreSQL)."""

    def __init__(self, engine: Engine) -> None:
        self._engine = engine

    def create(self, webhook: WebhookSource) -> WebhookSource:
        """Store the webhook configuration of an existing source; Conflict when it has one."""
        try:
            with self._engine.begin() as conn:
                conn.execute(
                    insert(webhook_sources).values(
                        source_id=webhook.source_id,
                        workspace_id=webhook.workspace_id,
                        token_hash=webhook.token_hash,
                        function=webhook.function,
                        settings=webhook.settings,
                        template=webhook.template,
                        created_at=webhook.created_at,
                        updated_at=webhook.updated_at,
                    )
                )
        except IntegrityError:
            raise Conflict(f"source {webhook.source_id!r} is a webhook source already") from None
        return webhook

    def get(self, source_id: str) -> WebhookSource | None:
        """The webhook configuration of a source, or None when it is not a webhook source."""
        return self._one(webhook_sources.c.source_id == source_id)

    def by_token_hash(self, token_hash: str) -> WebhookSource | None:
        """The webhook source whose URL token has this SHA-256 hex digest."""
        return self._one(webhook_sources.c.token_hash == token_hash)

    def list(self, workspace_id: str) -> list[WebhookSource]:
        query = (
            select(*_COLUMNS)
            .join(sources, sources.c.id == webhook_sources.c.source_id)
            .where(webhook_sources.c.workspace_id == workspace_id)
            .order_by(webhook_sources.c.created_at)
        )
        with self._engine.connect() as conn:
            return [_webhook(row._mapping) for row in conn.execute(query)]

    def update(
        self,
        source_id: str,
        *,
        function: str | None = None,
        clear_function: bool = False,
        settings: dict[str, Any] | None = None,
        token_hash: str | None = None,
    ) -> WebhookSource:
        """Change the function, its settings or the token; NotFound when not a webhook source."""
        changes: dict[str, Any] = {"updated_at": datetime.now(UTC)}
        if function is not None or clear_function:
            changes["function"] = function
        if settings is not None:
            changes["settings"] = settings
        if token_hash is not None:
            changes["token_hash"] = token_hash
        with self._engine.begin() as conn:
            done = conn.execute(
                update(webhook_sources)
                .where(webhook_sources.c.source_id == source_id)
                .values(changes)
            )
            if done.rowcount == 0:
                raise NotFound(f"source {source_id!r} is not a webhook source")
        found = self.get(source_id)
        assert found is not None
        return found

    def _one(self, where: Any) -> WebhookSource | None:
        query = (
            select(*_COLUMNS)
            .join(sources, sources.c.id == webhook_sources.c.source_id)
            .where(where)
        )
        with self._engine.connect() as conn:
            row = conn.execute(query).first()
        return None if row is None else _webhook(row._mapping)


def _webhook(row: Any) -> WebhookSource:
    return WebhookSource(
        source_id=row["source_id"],
        workspace_id=row["workspace_id"],
        token_hash=row["token_hash"],
        function=row["function"],
        settings=dict(row["settings"] or {}),
        template=row["template"],
        enabled=bool(row["enabled"]),
        created_at=as_utc(row["created_at"]),
        updated_at=as_utc(row["updated_at"]),
    )
