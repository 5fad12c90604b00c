"""Webhook configurations in the state store, on SQLite and PostgreSQL: a token's digest finds
its source (and only the current one after a rotation), settings keep their JSON, a source is
a webhook source once, and the source's enabled flag comes along."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from sqlalchemy import Engine

from seamline.collect.sources import new_source
from seamline.collect.webhook import token_hash
from seamline.errors import Conflict, NotFound
from seamline.store.sources_sql import SqlSourceStore
from seamline.store.webhooks_sql import SqlWebhookSources, WebhookSource

NOW = datetime(2026, 12, 3, tzinfo=UTC)


def test_webhook_sources_are_found_by_token_and_source(engine: Engine) -> None:
    sources = SqlSourceStore(engine)
    sources.ensure_workspace("default", "Default")
    source = sources.create(new_source("Stripe", "default"))
    store = SqlWebhookSources(engine)
    made = store.create(
        WebhookSource(
            source_id=source.id,
            workspace_id="default",
            token_hash=token_hash("first"),
            function="stripe-webhook",
            settings={"tolerance_seconds": 300, "signing_secret": {"$sealed": "x"}},
            template="stripe",
            created_at=NOW,
            updated_at=NOW,
        )
    )
    assert store.by_token_hash(token_hash("first")) == made
    assert store.get(source.id) == made
    with pytest.raises(Conflict):
        store.create(made)
    store.update(source.id, token_hash=token_hash("second"), settings={"a": "b"})
    assert store.by_token_hash(token_hash("first")) is None
    changed = store.by_token_hash(token_hash("second"))
    assert changed is not None and changed.settings == {"a": "b"}
    assert changed.function == "stripe-webhook"  # untouched
    sources.update(source.id, enabled=False)
    assert store.get(source.id).enabled is False  # type: ignore[union-attr]
    assert [w.source_id for w in store.list("default")] == [source.id]
    with pytest.raises(NotFound):
        store.update("src_missing", function="f")
