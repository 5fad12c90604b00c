"""Reverse ETL through the server: a model saved and run with the REST API delivers exactly its
changed rows to a local sink through the webhook and Slack destinations; saving checks the
model; the URL stays secret; permissions are the destinations'; the event store is a source."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from typing import Any

import pytest

from seamline.access.permissions import parse_grant
from seamline.access.tokens import create_token
from tests.destinations.sink import Received, Sink, sink
from tests.protocols.conftest import Workspace
from tests.reverse_etl.harness import customers_model, plain_url

WS = "default"
pytestmark = pytest.mark.anyio


@pytest.fixture
def tool() -> Iterator[Sink]:
    with sink() as running:
        yield running


@pytest.fixture
def source_url(postgres_url: str) -> str:
    import psycopg

    url = plain_url(postgres_url)
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute("CREATE TABLE customers (id integer PRIMARY KEY, email text, plan text)")
        conn.execute(
            "INSERT INTO customers VALUES (1, 'a@x.io', 'free'), (2, 'b@x.io', 'free'), "
            "(3, 'c@x.io', 'pro')"
        )
    return url


def change_rows(url: str) -> None:
    import psycopg

    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute("INSERT INTO customers VALUES (4, 'd@x.io', 'free')")
        conn.execute("UPDATE customers SET plan = 'pro' WHERE id = 2")
        conn.execute("DELETE FROM customers WHERE id = 3")


async def received(tool: Sink, workspace: Workspace, count: int) -> list[Received]:
    """The sink's requests once `count` arrived and the outbox is empty."""
    for _ in range(1000):
        pending = workspace.app.outbox.pending(WS)
        if len(tool.received) >= count and not any(pending.values()):
            return list(tool.received)
        await asyncio.sleep(0.02)
    raise AssertionError(f"{len(tool.received)} of {count} deliveries arrived")


def bodies(found: list[Received], path: str) -> list[Any]:
    return [r.json() for r in found if r.path == path]


async def run(workspace: Workspace, name: str) -> dict[str, Any]:
    answer = await workspace.client.post(f"/api/v1/models/{name}/run", headers=workspace.headers)
    assert answer.status_code == 200, answer.text
    found: dict[str, Any] = answer.json()
    return found


async def test_a_model_delivers_exactly_its_changes_through_two_destinations(
    workspace: Workspace, tool: Sink, source_url: str
) -> None:
    await workspace.put("destinations", "hook", {"type": "webhook"})
    await workspace.put(
        "destinations", "chat", {"type": "slack", "settings": {"webhook_url": f"{tool.url}/chat"}}
    )
    model = customers_model(source_url)
    model["subscriptions"]["mirror"]["mapping"]["url"] = f"{tool.url}/hook"
    saved = await workspace.put("models", "customers", model)
    assert saved["document"]["source"]["url"] == "[secret]"
    assert saved["document"]["subscriptions"]["mirror"]["records"] == [
        "added",
        "updated",
        "deleted",
    ]

    first = await run(workspace, "customers")
    assert (first["status"], first["rows_read"], first["queued"]) == ("succeeded", 3, 6)
    found = await received(tool, workspace, 6)
    assert sorted((b["id"], b["change"]) for b in bodies(found, "/hook")) == [
        ("1", "added"),
        ("2", "added"),
        ("3", "added"),
    ]
    assert sorted(b["text"] for b in bodies(found, "/chat")) == [
        "a@x.io is on free",
        "b@x.io is on free",
        "c@x.io is on pro",
    ]
    tool.received.clear()

    change_rows(source_url)
    second = await run(workspace, "customers")
    assert (second["added"], second["updated"], second["deleted"]) == (2, 2, 2)
    found = await received(tool, workspace, 5)
    assert sorted((b["id"], b["change"], b["email"]) for b in bodies(found, "/hook")) == [
        ("2", "updated", "b@x.io"),
        ("3", "deleted", None),
        ("4", "added", "d@x.io"),
    ]
    assert sorted(b["text"] for b in bodies(found, "/chat")) == [
        "b@x.io is on pro",
        "d@x.io is on free",
    ]
    history = await workspace.get("models/customers/runs")
    assert [r["id"] for r in history["data"]] == [second["id"], first["id"]]
    assert history["data"][0]["subscriptions"]["upsert"]["queued"] == 2


async def test_runs_need_destination_permissions_and_bad_input_is_refused(
    workspace: Workspace,
) -> None:
    await workspace.put("destinations", "hook", {"type": "webhook"})
    model = customers_model("postgresql://u:p@db.example.com/crm", subscriptions={})
    await workspace.put("models", "m", model)
    _, reader = create_token(workspace.app.tokens, WS, "reader", (parse_grant("source-read-only"),))
    headers = {"Authorization": f"Bearer {reader}"}
    refused = await workspace.client.post("/api/v1/models/m/run", headers=headers)
    assert refused.status_code == 403
    listed = await workspace.client.get("/api/v1/models/m/runs", headers=headers)
    assert (listed.status_code, listed.json()) == (200, {"data": []})
    missing = await workspace.client.post("/api/v1/models/none/run", headers=workspace.headers)
    assert (missing.status_code, missing.json()["code"]) == (404, "not_found")
    bad = {**model, "schedule": "61 * * * *"}
    refused = await workspace.client.put("/api/v1/models/m", json=bad, headers=workspace.headers)
    assert (refused.status_code, refused.json()["code"]) == (400, "invalid_input")
    assert "'61' is not a minute (0-59)" in refused.json()["message"]


async def test_a_model_over_the_event_store_reads_only_its_events(
    workspace: Workspace, tool: Sink
) -> None:
    await workspace.send(
        [
            {"type": "track", "event": "Order Completed", "userId": user, "messageId": f"m{n}"}
            for n, user in enumerate(["u1", "u1", "u2"])
        ]
    )
    await workspace.put("destinations", "hook", {"type": "webhook"})
    model = {
        "source": {"type": "events"},
        "query": "SELECT user_id, count(*) AS orders FROM events "
        "WHERE event = 'Order Completed' GROUP BY user_id",
        "primary_key": "user_id",
        "subscriptions": {
            "orders": {
                "destination": "hook",
                "action": "send",
                "mapping": {"url": f"{tool.url}/orders", "data": {"@path": "$."}},
            }
        },
    }
    await workspace.put("models", "orders", model)
    done = await run(workspace, "orders")
    assert (done["status"], done["rows_read"]) == ("succeeded", 2)
    found = await received(tool, workspace, 2)
    assert sorted((b["user_id"], b["orders"]) for b in bodies(found, "/orders")) == [
        ("u1", 2),
        ("u2", 1),
    ]
    for query, error in [
        ("SELECT * FROM read_csv('/etc/passwd')", "Permission Error"),
        ("DELETE FROM events", "one SELECT, this one is DELETE"),
        ("SELECT 1 AS user_id; SELECT 2", "one SELECT, this one is SELECT, SELECT"),
    ]:
        await workspace.put("models", "orders", {**model, "query": query})
        failed = await run(workspace, "orders")
        assert failed["status"] == "failed"
        assert error in failed["error"], failed["error"]
    assert not any(workspace.app.outbox.pending(WS).values())  # the failed runs queued nothing
