"""The official analytics-python client, pointed at a running server, stores every call type."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

import pytest
import segment.analytics as segment_analytics

from tests.e2e.server import Server
from tests.e2e.stored import stored_events

pytestmark = pytest.mark.slow

WHEN = datetime(2026, 3, 1, 12, 0, 0, tzinfo=UTC)


@pytest.mark.parametrize("gzip", [False, True])
def test_every_call_type_arrives_with_its_fields(tmp_path: Path, gzip: bool) -> None:
    errors: list[str] = []
    with Server(tmp_path / "data") as server:
        client = segment_analytics.Client(
            server.write_key,
            host=server.url,
            gzip=gzip,
            on_error=lambda error, _batch: errors.append(str(error)),
            max_retries=0,
        )
        client.identify(
            "py-user",
            {"email": "py@example.com", "plan": "pro"},
            timestamp=WHEN,
            message_id="py-identify",
        )
        client.track(
            "py-user",
            "Order Completed",
            {"total": 42.5, "items": [1, 2]},
            timestamp=WHEN,
            message_id="py-track",
        )
        client.page(
            "py-user", "Docs", "Install", {"path": "/install"}, timestamp=WHEN, message_id="py-page"
        )
        client.screen("py-user", "App", "Home", {"tab": 1}, timestamp=WHEN, message_id="py-screen")
        client.group("py-user", "acme", {"employees": 12}, timestamp=WHEN, message_id="py-group")
        client.alias("anon-7", "py-user", timestamp=WHEN, message_id="py-alias")
        client.flush()
        client.shutdown()
        assert server.stop() == 0
    assert errors == []
    rows = {row["message_id"]: row for row in stored_events(tmp_path / "data")}
    assert set(rows) == {"py-identify", "py-track", "py-page", "py-screen", "py-group", "py-alias"}

    identify = rows["py-identify"]
    assert (identify["type"], identify["user_id"]) == ("identify", "py-user")
    assert json.loads(identify["traits"]) == {"email": "py@example.com", "plan": "pro"}
    track = rows["py-track"]
    assert (track["type"], track["event"]) == ("track", "Order Completed")
    assert json.loads(track["properties"]) == {"total": 42.5, "items": [1, 2]}
    page = rows["py-page"]
    assert (page["type"], page["category"], page["name"]) == ("page", "Docs", "Install")
    assert json.loads(page["properties"])["path"] == "/install"
    screen = rows["py-screen"]
    assert (screen["type"], screen["name"]) == ("screen", "Home")
    group = rows["py-group"]
    assert (group["type"], group["group_id"]) == ("group", "acme")
    assert json.loads(group["traits"]) == {"employees": 12}
    alias = rows["py-alias"]
    assert (alias["type"], alias["previous_id"], alias["user_id"]) == ("alias", "anon-7", "py-user")

    for row in rows.values():
        context = json.loads(row["context"])
        assert context["library"]["name"] == "analytics-python"
        assert context["ip"] == "127.0.0.1"
        assert row["original_timestamp"] == WHEN
        assert (
            row["received_at"] >= row["sent_at"]
            or abs((row["received_at"] - row["sent_at"]).total_seconds()) < 5
        )
        # sentAt and receivedAt are taken on the same clock here, so the corrected
        # timestamp stays within a few seconds of the one sent.
        assert abs((row["timestamp"] - WHEN).total_seconds()) < 5
