"""The official @segment/analytics-node SDK sends every call type to Seamline unchanged."""

from __future__ import annotations

import json
import subprocess
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from tests.e2e.server import Server
from tests.e2e.stored import stored_events

SEND_NODE = Path(__file__).parent / "js" / "send_node.mjs"

# What js/send_node.mjs sends; keep both in step.
SENT_TIMESTAMP = datetime(2024, 5, 6, 7, 8, 9, 123000, tzinfo=UTC)
USER_ID = "node-user-1"
EXPECTED: dict[str, dict[str, Any]] = {
    "identify": {
        "message_id": "node-identify-1",
        "traits": {"email": "ada@example.com", "plan": "pro", "logins": 7},
    },
    "track": {
        "message_id": "node-track-1",
        "anonymous_id": "node-anon-1",
        "event": "Order Completed",
        "properties": {
            "orderId": "o-123",
            "revenue": 42.5,
            "products": [{"sku": "sku-1", "quantity": 2}],
        },
    },
    "page": {
        "message_id": "node-page-1",
        "name": "Pricing",
        "category": "Docs",
        "properties": {"path": "/pricing", "referrer": "https://example.org/"},
    },
    "screen": {
        "message_id": "node-screen-1",
        "name": "Welcome",
        "category": "Onboarding",
        "properties": {"step": 1},
    },
    "group": {
        "message_id": "node-group-1",
        "group_id": "org-9",
        "traits": {"name": "Acme Inc", "employees": 250},
    },
    "alias": {"message_id": "node-alias-1", "previous_id": "node-anon-1"},
}
JSON_COLUMNS = ("properties", "traits", "context", "integrations")


def send_with_analytics_node(url: str, write_key: str) -> None:
    done = subprocess.run(
        ["node", str(SEND_NODE), url, write_key],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0, f"send_node.mjs failed:\n{done.stdout}\n{done.stderr}"


def parsed(row: dict[str, Any]) -> dict[str, Any]:
    return {k: json.loads(v) if k in JSON_COLUMNS and v else v for k, v in row.items()}


@pytest.mark.slow
def test_analytics_node_sends_every_call_type(tmp_path: Path) -> None:
    data_dir = tmp_path / "data"
    before = datetime.now(UTC)
    with Server(data_dir) as server:
        send_with_analytics_node(server.url, server.write_key)
        assert server.stop() == 0
    after = datetime.now(UTC)

    rows = [parsed(row) for row in stored_events(data_dir)]
    by_type = {row["type"]: row for row in rows}
    assert len(rows) == len(EXPECTED) == len(by_type), rows

    for kind, expected in EXPECTED.items():
        row = by_type[kind]
        assert row["message_id"] == expected["message_id"]
        assert row["user_id"] == USER_ID
        for column in ("anonymous_id", "event", "name", "category", "group_id", "previous_id"):
            assert row[column] == expected.get(column), (kind, column)
        for column in ("properties", "traits"):
            # Compare the keys we sent: analytics-node adds a page's category to its properties.
            want, got = expected.get(column, {}), row[column] or {}
            assert {key: got.get(key) for key in want} == want, (kind, column, got)
        assert row["context"]["library"]["name"] == "@segment/analytics-node"
        assert row["context"]["ip"] == "127.0.0.1"
        assert row["original_timestamp"] == SENT_TIMESTAMP
        assert before <= row["sent_at"] <= row["received_at"] <= after
        # Clock-skew correction: both clocks are this machine's, so timestamp stays close.
        assert abs((row["timestamp"] - SENT_TIMESTAMP).total_seconds()) < 5
    assert by_type["page"]["properties"]["category"] == "Docs"
