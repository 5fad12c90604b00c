"""An in-process Seamline for webhook sources, a management token, and helpers to sign and
post tools' documented example bodies."""

from __future__ import annotations

import asyncio
import base64
import hashlib
import hmac
import json
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest

from seamline.access.tokens import create_token
from seamline.app import Seamline, bootstrap
from seamline.collect.sources import Source
from seamline.config import Settings
from tests.state_template import seed_data_dir

FIXTURES = Path(__file__).parent / "fixtures"


def fixture(name: str) -> str:
    """A documented example body, as the tool sends it (the exact text is what is signed)."""
    return (FIXTURES / name).read_text()


def stripe_signature(body: str, secret: str, at: int | None = None) -> str:
    """A `Stripe-Signature` header as Stripe documents it: t=<time>,v1=<hex HMAC>."""
    stamp = int(time.time()) if at is None else at
    digest = hmac.new(secret.encode(), f"{stamp}.{body}".encode(), hashlib.sha256).hexdigest()
    return f"t={stamp},v1={digest}"


def shopify_hmac(body: str, secret: str) -> str:
    """`X-Shopify-Hmac-Sha256`: base64 of the HMAC-SHA256 of the raw body."""
    digest = hmac.new(secret.encode(), body.encode(), hashlib.sha256).digest()
    return base64.b64encode(digest).decode()


@dataclass
class Hooks:
    app: Seamline
    source: Source
    client: httpx.AsyncClient
    token: str

    @property
    def headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token}"}

    async def webhook_source(self, name: str, **config: Any) -> dict[str, Any]:
        """Create a source and make it a webhook source; the answer's `data`."""
        made = await self.client.post("/api/v1/sources", json={"name": name}, headers=self.headers)
        assert made.status_code == 201, made.text
        answer = await self.client.put(
            f"/api/v1/sources/{name}/webhook", json=config, headers=self.headers
        )
        assert answer.status_code == 201, answer.text
        data: dict[str, Any] = answer.json()["data"]
        data["write_key"] = made.json()["data"]["write_key"]
        return data

    async def function(self, name: str, code: str, time_limit: float = 1.0) -> None:
        answer = await self.client.put(
            f"/api/v1/functions/{name}",
            json={"code": code, "time_limit": time_limit},
            headers=self.headers,
        )
        assert answer.status_code == 200, answer.text

    async def settle(self) -> None:
        """Wait until the pipeline has committed everything appended."""
        for _ in range(1500):
            if self.app.caught_up():
                return
            await asyncio.sleep(0.01)
        raise AssertionError("the pipeline did not catch up")

    def stored(self) -> dict[str, dict[str, Any]]:
        """Stored messages by messageId."""
        rows = self.app.event_store.query(
            "SELECT message_id, type, event, user_id, anonymous_id, properties, traits, "
            "source_id FROM events ORDER BY log_offset"
        )
        return {
            row[0]: {
                "type": row[1],
                "event": row[2],
                "userId": row[3],
                "anonymousId": row[4],
                "properties": json.loads(row[5]) if row[5] else {},
                "traits": json.loads(row[6]) if row[6] else {},
                "source_id": row[7],
            }
            for row in rows
        }

    def held(self) -> list[Any]:
        return self.app.protocols.held("default", pending_only=True, limit=100)


@pytest.fixture
async def hooks(tmp_path: Path) -> AsyncIterator[Hooks]:
    settings = Settings(data_dir=tmp_path / "data")
    seed_data_dir(settings.data_dir)
    source = bootstrap(settings)
    app = Seamline(settings)
    await app.start()
    _, token = create_token(app.tokens, "default", "tests")
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as client:
        yield Hooks(app, source, client, token)
    if app.accepting:
        await app.stop()
