"""A model runner over a state store of its own, without a server: workspace resources saved
the way the API saves them, destinations compiled the way the deliver role compiles them."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import psycopg
from cryptography.fernet import Fernet
from sqlalchemy import Engine, delete, select

from seamline.access.sealing import Sealer
from seamline.reverse_etl.runner import ModelRunner
from seamline.store.models_sql import SqlModelState
from seamline.store.outbox_sql import SqlOutbox
from seamline.store.resources_sql import SqlResourceStore
from seamline.store.state import outbox
from seamline.workspace.compiled import RulesCache
from seamline.workspace.saving import prepare

WS = "default"
HOOK_URL = "http://127.0.0.1:9/hook"
CHAT_URL = "http://127.0.0.1:9/chat"
LOOPBACK = ["127.0.0.0/8"]


@dataclass
class Harness:
    engine: Engine
    resources: SqlResourceStore
    sealer: Sealer
    runner: ModelRunner
    source_url: str

    def save(self, kind: str, name: str, document: dict[str, Any]) -> dict[str, Any]:
        canonical = prepare(
            WS, kind, name, document, self.resources, self.sealer, allow_private=LOOPBACK
        )
        self.resources.put(WS, kind, name, canonical)
        return canonical

    def source(self, *statements: str) -> None:
        """Run SQL on the model's source database."""
        with psycopg.connect(self.source_url, autocommit=True) as conn:
            for statement in statements:
                conn.execute(statement)

    def queued(self) -> dict[str, list[dict[str, Any]]]:
        """Queued payloads by subscription, in queue order."""
        found: dict[str, list[dict[str, Any]]] = {}
        with self.engine.connect() as conn:
            for row in conn.execute(select(outbox).order_by(outbox.c.id)):
                found.setdefault(row.subscription, []).append(row.payload)
        return found

    def deliver_all(self) -> None:
        """What a deliver worker does once every row is sent: the outbox empties."""
        with self.engine.begin() as conn:
            conn.execute(delete(outbox))


def plain_url(url: str) -> str:
    return url.replace("postgresql+psycopg://", "postgresql://")


def harness(engine: Engine, postgres_url: str, tmp_path: Path) -> Iterator[Harness]:
    sealer = Sealer(Fernet.generate_key())
    resources = SqlResourceStore(engine)
    rules = RulesCache(resources, tmp_path / "functions", sealer=sealer)
    runner = ModelRunner(
        SqlModelState(engine),
        resources,
        SqlOutbox(engine),
        sealer,
        destinations=lambda workspace_id: rules.get(workspace_id).deliverable,
        readable=lambda workspace_id: rules.get(workspace_id).erasable,
    )
    found = Harness(engine, resources, sealer, runner, plain_url(postgres_url))
    found.source(
        "CREATE TABLE customers (id integer PRIMARY KEY, email text, plan text)",
        "INSERT INTO customers VALUES (1, 'a@x.io', 'free'), (2, 'b@x.io', 'free'), "
        "(3, 'c@x.io', 'pro')",
    )
    found.save("destination", "hook", {"type": "webhook"})
    found.save("destination", "chat", {"type": "slack", "settings": {"webhook_url": CHAT_URL}})
    yield found
    rules.close()


def customers_model(url: str, **overrides: Any) -> dict[str, Any]:
    """A model of `customers` sending every change to the webhook (mirror) and added or
    updated customers to Slack (upsert)."""
    return {
        "source": {"type": "postgres", "url": url},
        "query": "SELECT id, email, plan FROM customers",
        "primary_key": "id",
        "subscriptions": {
            "mirror": {
                "destination": "hook",
                "action": "send",
                "sync_mode": "mirror",
                "mapping": {
                    "url": HOOK_URL,
                    "data": {
                        "id": {"@path": "$.__segment_id"},
                        "change": {"@path": "$.__change"},
                        "email": {"@path": "$.email"},
                    },
                },
            },
            "upsert": {
                "destination": "chat",
                "action": "post_message",
                "sync_mode": "upsert",
                "mapping": {"text": {"@template": "{{email}} is on {{plan}}"}},
            },
        },
        **overrides,
    }
