"""The Pixel API: `GET /v1/pixel/{type}?data=…` stores the message like the Tracking API and
always answers the 1x1 GIF, saying why in a header when it refused the message."""

from __future__ import annotations

import base64
import json
from typing import Any

import pytest

from seamline.collect.pixel import GIF
from tests.collect.conftest import Running

pytestmark = pytest.mark.anyio


def encoded(message: dict[str, Any], *, urlsafe: bool = True) -> str:
    raw = json.dumps(message).encode()
    text = (base64.urlsafe_b64encode if urlsafe else base64.b64encode)(raw).decode()
    return text.rstrip("=")


async def settle(running: Running) -> None:
    for _ in range(1000):
        if running.app.caught_up():
            return
        import asyncio

        await asyncio.sleep(0.01)
    raise AssertionError("the pipeline did not catch up")


def stored(running: Running) -> dict[str, tuple[Any, ...]]:
    rows = running.app.event_store.query(
        "SELECT message_id, type, event, user_id, properties FROM events ORDER BY log_offset"
    )
    return {row[0]: row[1:] for row in rows}


def pixel_count(running: Running, status: str) -> float:
    value = running.app.metrics.registry.get_sample_value(
        "seamline_ingest_requests_total", {"endpoint": "pixel", "status": status}
    )
    return value or 0.0


async def test_an_email_open_is_stored_and_answered_with_the_gif(running: Running) -> None:
    message = {
        "writeKey": running.key,
        "userId": "user_123",
        "messageId": "open-1",
        "event": "Email Opened",
        "properties": {"subject": "The Electric Daily", "email": "jane.kim@example.com"},
    }
    answer = await running.client.get("/v1/pixel/track", params={"data": encoded(message)})
    assert answer.status_code == 200
    assert answer.content == GIF
    assert answer.headers["content-type"] == "image/gif"
    assert "no-store" in answer.headers["cache-control"]
    assert "x-seamline-error" not in answer.headers
    await settle(running)
    kind, event, user_id, properties = stored(running)["open-1"]
    assert (kind, event, user_id) == ("track", "Email Opened", "user_123")
    assert json.loads(properties)["subject"] == "The Electric Daily"


async def test_standard_base64_plain_json_and_query_parameters_are_read(
    running: Running,
) -> None:
    page = {"writeKey": running.key, "anonymousId": "a1", "messageId": "p-1", "name": "Home"}
    await running.client.get("/v1/pixel/page", params={"data": encoded(page, urlsafe=False)})
    plain = {"writeKey": running.key, "userId": "u2", "messageId": "i-1", "traits": {"x": 1}}
    await running.client.get("/v1/pixel/identify", params={"data": json.dumps(plain)})
    await running.client.get(
        "/v1/pixel/track",
        params={
            "writeKey": running.key,
            "userId": "u3",
            "messageId": "t-1",
            "event": "Email Opened",
            "properties.subject": "Hello",
        },
    )
    await settle(running)
    found = stored(running)
    assert found["p-1"][0] == "page"
    assert found["i-1"][:3] == ("identify", None, "u2")
    assert json.loads(found["t-1"][3]) == {"subject": "Hello"}


async def test_refused_pixels_still_get_the_gif_store_nothing_and_are_counted(
    running: Running,
) -> None:
    refused = {
        "not base64 nor JSON": ("/v1/pixel/track", {"data": "%%%"}),
        "not JSON inside": ("/v1/pixel/track", {"data": encoded({"a": 1})[:-3] + "!!!"}),
        "no write key": ("/v1/pixel/track", {"data": encoded({"userId": "u", "event": "E"})}),
        "unknown type": ("/v1/pixel/purchase", {"data": encoded({"writeKey": running.key})}),
        "bad message": (
            "/v1/pixel/track",
            {"data": encoded({"writeKey": running.key, "userId": "u"})},  # no event
        ),
    }
    before = pixel_count(running, "400") + pixel_count(running, "401")
    for why, (path, params) in refused.items():
        answer = await running.client.get(path, params=params)
        assert answer.status_code == 200, why
        assert answer.content == GIF, why
        assert answer.headers.get("x-seamline-error"), why
    await settle(running)
    assert stored(running) == {}
    after = pixel_count(running, "400") + pixel_count(running, "401")
    assert after - before == len(refused)
