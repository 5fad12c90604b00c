"""An in-process Seamline app and an HTTP client bound to it."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from seamline.app import Seamline, bootstrap
from seamline.collect.sources import Source
from seamline.config import Settings
from tests.state_template import seed_data_dir

CLIENT_IP = "203.0.113.9"


@dataclass
class Running:
    app: Seamline
    source: Source
    client: httpx.AsyncClient
    data_dir: Path

    @property
    def key(self) -> str:
        return self.source.write_key


@pytest.fixture
async def running(tmp_path: Path, request: pytest.FixtureRequest) -> AsyncIterator[Running]:
    # Profile API tests run on both state stores (they ask for `state_url`); the Tracking API
    # tests do not touch the state store beyond write keys and stay on SQLite.
    url = request.getfixturevalue("state_url") if "state_url" in request.fixturenames else None
    settings = Settings(data_dir=tmp_path / "data", database_url=url)
    if url is None:
        seed_data_dir(settings.data_dir)
    source = bootstrap(settings)
    app = Seamline(settings)
    await app.start()
    transport = httpx.ASGITransport(app=app, client=(CLIENT_IP, 50000))
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as client:
        yield Running(app, source, client, settings.data_dir)
    if app.log is not None and app.accepting:
        await app.stop()
