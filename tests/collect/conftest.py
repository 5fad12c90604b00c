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
async def running(tmp_path: Path) -> AsyncIterator[Running]:
    settings = Settings(data_dir=tmp_path / "data")
    source = bootstrap(settings)
    app = Seamline(settings)
    await app.start()
    transport = httpx.ASGITransport(app=app, client=(CLIENT_IP, 50000))
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as client:
        yield Running(app, source, client, settings.data_dir)
    if app.log is not None and app.accepting:
        await app.stop()
