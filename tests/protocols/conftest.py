"""An in-process server with a destination stub, for protocols tests through the HTTP API."""

from __future__ import annotations

import asyncio
import base64
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
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


@dataclass
class StubDestination:
    """Records what the route stage would send to a destination with this slug."""

    slug: str
    received: list[dict[str, Any]] = field(default_factory=list)

    def send(self, messages: list[dict[str, Any]]) -> None:
        self.received.extend(messages)


@dataclass
class Workspace:
    app: Seamline
    source: Source
    client: httpx.AsyncClient
    token: str
    destinations: dict[str, StubDestination]

    @property
    def headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token}"}

    async def put(self, kind: str, name: str, document: dict[str, Any]) -> dict[str, Any]:
        answer = await self.client.put(
            f"/api/v1/{kind}/{name}", json=document, headers=self.headers
        )
        assert answer.status_code == 200, answer.text
        body: dict[str, Any] = answer.json()
        return body

    async def get(self, path: str, **params: Any) -> Any:
        answer = await self.client.get(f"/api/v1/{path}", params=params, headers=self.headers)
        assert answer.status_code == 200, answer.text
        return answer.json()

    async def send(self, batch: list[dict[str, Any]]) -> None:
        basic = base64.b64encode(f"{self.source.write_key}:".encode()).decode()
        answer = await self.client.post(
            "/v1/batch", json={"batch": batch}, headers={"Authorization": f"Basic {basic}"}
        )
        assert answer.status_code == 200, answer.text
        await self.settle()

    async def settle(self) -> None:
        """Wait until the pipeline (tail stages included) has committed everything appended."""
        for _ in range(1000):
            if self.app.caught_up():
                return
            await asyncio.sleep(0.01)
        raise AssertionError("the pipeline did not catch up")

    def stored(self) -> dict[str, dict[str, Any]]:
        """Stored events by message id: properties and context as dicts."""
        import json

        rows = self.app.event_store.query(
            "SELECT message_id, event, properties, context FROM events ORDER BY log_offset"
        )
        return {
            row[0]: {
                "event": row[1],
                "properties": json.loads(row[2]) if row[2] else {},
                "context": json.loads(row[3]) if row[3] else {},
            }
            for row in rows
        }


@pytest.fixture
async def workspace(tmp_path: Path) -> AsyncIterator[Workspace]:
    settings = Settings(data_dir=tmp_path / "data")
    seed_data_dir(settings.data_dir)
    source = bootstrap(settings)
    stubs = {slug: StubDestination(slug) for slug in ("meta", "mixpanel", "webhook")}
    app = Seamline(settings, destinations=tuple(stubs.values()))
    await app.start()
    _, token = create_token(app.tokens, "default", "tests")
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as client:
        yield Workspace(app, source, client, token, stubs)
    if app.accepting:
        await app.stop()
