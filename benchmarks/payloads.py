"""Request bodies for the ingest benchmark, as templates the wrk script fills in.

Each body is written once with `MESSAGE_ID` where every event's messageId goes; the Lua script
splits on it and splices in a fresh id per event per request, so no two events share an id
(the pipeline deduplicates by messageId, so a fixed body would store one row per run).
"""

from __future__ import annotations

import json
from typing import Any

MESSAGE_ID = "@@MESSAGE_ID@@"
"""Placeholder for a messageId; must not occur anywhere else in a body."""

_USER_AGENT = (
    "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/537.36 "
    "(KHTML, like Gecko) Chrome/124.0.0.0 Safari/537.36"
)


def track_event(index: int) -> dict[str, Any]:
    """One `Order Completed` track event as analytics.js sends it (~700 bytes as JSON)."""
    return {
        "type": "track",
        "event": "Order Completed",
        "userId": f"user-{100000 + index}",
        "anonymousId": f"6f1c2a9e-4b7d-4e0a-9c55-{index:012d}",
        "messageId": MESSAGE_ID,
        "timestamp": "2024-05-14T09:21:33.512Z",
        "properties": {
            "orderId": f"ord-{500000 + index}",
            "checkoutId": "c7d1e90",
            "total": 129.97,
            "revenue": 112.5,
            "shipping": 7.99,
            "tax": 9.48,
            "discount": 0,
            "coupon": "SPRING24",
            "currency": "USD",
            "items": 3,
        },
        "context": {
            "library": {"name": "analytics.js", "version": "next-1.70.0"},
            "page": {
                "path": "/checkout/confirmation",
                "referrer": "https://shop.example.com/checkout",
                "search": "",
                "title": "Order confirmed",
                "url": "https://shop.example.com/checkout/confirmation",
            },
            "userAgent": _USER_AGENT,
        },
    }


def _encode(value: object) -> str:
    return json.dumps(value, separators=(",", ":"))


def single_body() -> str:
    """Body template of a `/v1/track` request: one event."""
    return _encode(track_event(0))


def batch_body(events: int) -> str:
    """Body template of a `/v1/batch` request holding `events` events, shaped like the server
    SDKs' (analytics-node, analytics-python): `batch` and `sentAt`, no batch-level context."""
    body = {
        "batch": [track_event(i) for i in range(events)],
        "sentAt": "2024-05-14T09:21:34.001Z",
    }
    return _encode(body)
