"""`/metrics` behind the optional `metrics_token` setting: a Bearer token, else 401 JSON."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest
from pydantic import ValidationError

from seamline.app import Seamline, bootstrap
from seamline.config import Settings

pytestmark = pytest.mark.anyio
TOKEN = "m3trics-t0ken-for-the-scraper"


async def client_for(settings: Settings) -> AsyncIterator[httpx.AsyncClient]:
    bootstrap(settings)
    app = Seamline(settings)
    await app.start()
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as client:
        yield client
    await app.stop()


@pytest.fixture
async def guarded(tmp_path: Path) -> AsyncIterator[httpx.AsyncClient]:
    async for client in client_for(Settings(data_dir=tmp_path / "d", metrics_token=TOKEN)):
        yield client


@pytest.fixture
async def open_metrics(tmp_path: Path) -> AsyncIterator[httpx.AsyncClient]:
    async for client in client_for(Settings(data_dir=tmp_path / "d")):
        yield client


@pytest.mark.parametrize(
    ("headers", "reason"),
    [
        ({}, "missing_token"),
        ({"Authorization": "Bearer not-the-token"}, "wrong_token"),
        ({"Authorization": f"Bearer {TOKEN}x"}, "wrong_token"),
        ({"Authorization": f"Basic {TOKEN}"}, "missing_token"),
        ({"Authorization": "Bearer "}, "missing_token"),
    ],
)
async def test_metrics_without_the_token_answer_401_json(
    guarded: httpx.AsyncClient, headers: dict[str, str], reason: str
) -> None:
    answer = await guarded.get("/metrics", headers=headers)
    assert answer.status_code == 401
    body = answer.json()
    assert body["code"] == "unauthorized"
    assert body["details"] == {"reason": reason}
    assert "metrics_token" in body["message"] and TOKEN not in answer.text
    assert answer.headers["www-authenticate"] == "Bearer"
    assert "seamline_" not in answer.text


async def test_metrics_with_the_token_are_served(guarded: httpx.AsyncClient) -> None:
    answer = await guarded.get("/metrics", headers={"Authorization": f"bearer {TOKEN}"})
    assert answer.status_code == 200
    assert "seamline_log_end_offset" in answer.text
    assert (await guarded.get("/healthz")).status_code == 200  # health stays open


async def test_without_the_setting_metrics_stay_open(open_metrics: httpx.AsyncClient) -> None:
    answer = await open_metrics.get("/metrics")
    assert answer.status_code == 200 and "seamline_log_end_offset" in answer.text


def test_a_short_token_is_refused_and_never_shown(tmp_path: Path) -> None:
    with pytest.raises(ValidationError) as refused:
        Settings(data_dir=tmp_path, metrics_token="short")
    assert "at least 16 characters" in refused.value.errors()[0]["msg"]
    settings = Settings(data_dir=tmp_path, metrics_token=TOKEN)
    assert TOKEN not in repr(settings) and TOKEN not in str(settings.model_dump())
