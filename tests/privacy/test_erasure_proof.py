"""The proof that deletion reaches every byte: a person's events, carrying a marker in traits,
properties and context, are stored and delivered to a webhook, the PostgreSQL warehouse and
the Parquet lake; after SUPPRESS_WITH_DELETE has FINISHED, no file under the data directory
holds the marker or any identifier of theirs, the destinations hold nothing of them, everyone
else's data is intact (counts included), and the person's later messages are not stored."""

from __future__ import annotations

import asyncio
import secrets
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import duckdb
import httpx
import psycopg
import pytest

from seamline.access.tokens import create_token
from seamline.app import Seamline, bootstrap
from seamline.collect.sources import Source
from seamline.config import Settings
from seamline.destinations.catalog.postgres_warehouse.connections import libpq_url
from tests.destinations.sink import Sink, sink
from tests.test_cli import cli

pytestmark = pytest.mark.anyio


@dataclass
class Person:
    user: str
    anon: str
    email: str
    mark: str

    @property
    def needles(self) -> list[bytes]:
        return [v.encode() for v in (self.user, self.anon, self.email, self.mark)]

    def story(self) -> list[dict[str, Any]]:
        who = {"userId": self.user, "anonymousId": self.anon}
        context = {"traits": {"email": self.email}, "page": {"title": f"Home {self.mark}"}}
        return [
            {"type": "page", "anonymousId": self.anon, "name": "Home", "context": context},
            {"type": "identify", **who, "traits": {"email": self.email, "note": self.mark}},
            {
                "type": "track",
                **who,
                "event": "Order Completed",
                "properties": {"note": self.mark, "total": 20},
                "context": context,
            },
            {"type": "track", **who, "event": "Order Completed", "properties": {"total": 5}},
        ]


def someone(name: str) -> Person:
    tag = secrets.token_hex(4)
    return Person(f"{name}-{tag}", f"anon-{name}-{tag}", f"{name}.{tag}@example.org", f"mk{tag}x")


@dataclass
class World:
    app: Seamline
    source: Source
    client: httpx.AsyncClient
    hook: Sink
    settings: Settings
    lake: Path
    warehouse: str
    schema: str
    headers: dict[str, str]

    async def send(self, batch: list[dict[str, Any]]) -> None:
        if batch:
            answer = await self.client.post(
                "/v1/batch", json={"batch": batch, "writeKey": self.source.write_key}
            )
            assert answer.status_code == 200, answer.text
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            if self.app.caught_up() and not self.app.outbox.pending("default"):
                return
            await asyncio.sleep(0.05)
        raise AssertionError("not processed and delivered in 30 s")


WORKSPACE = """
destinations:
  hook: {{type: webhook}}
  warehouse: {{type: postgres-warehouse, settings: {{database_url: "{warehouse}", schema: {schema}}}}}
  lake: {{type: parquet-lake, settings: {{path: "{lake}"}}}}
subscriptions:
  hook-all:
    destination: hook
    action: send
    trigger: 'type = "track" or type = "identify" or type = "page"'
    mapping: {{url: "{url}/events", method: POST, data: {{"@path": "$."}}}}
  warehouse-all:
    destination: warehouse
    action: load_events
    trigger: 'type = "track" or type = "identify" or type = "page"'
    mapping: {{event: {{"@path": "$."}}}}
  lake-all:
    destination: lake
    action: write_events
    trigger: 'type = "track" or type = "identify" or type = "page"'
    mapping: {{event: {{"@path": "$."}}}}
audiences:
  buyers: {{condition: {{performed: {{event: Order Completed}}}}}}
"""


@pytest.fixture
async def world(tmp_path: Path, state_url: str, postgres_url: str) -> AsyncIterator[World]:
    settings = Settings(
        data_dir=tmp_path / "data",
        database_url=None if state_url.startswith("sqlite") else state_url,
        delivery_poll=0.05,
        destinations_allow_private=["127.0.0.0/8"],
    )
    source = bootstrap(settings)
    settings.data_dir.mkdir(parents=True, exist_ok=True)  # PostgreSQL state: made by serve
    schema = "proof_" + secrets.token_hex(3)
    lake = tmp_path / "lake-destination"
    with sink() as hook:
        file = tmp_path / "workspace.yaml"
        file.write_text(
            WORKSPACE.format(warehouse=postgres_url, schema=schema, lake=lake, url=hook.url)
        )
        env = {"SEAMLINE_DESTINATIONS_ALLOW_PRIVATE": '["127.0.0.0/8"]'}
        if settings.database_url:
            env["SEAMLINE_DATABASE_URL"] = settings.database_url
        made = cli("--data-dir", str(settings.data_dir), "apply", "-f", str(file), "--yes", env=env)
        assert made.returncode == 0, made.stderr
        app = Seamline(settings)
        await app.start()
        _, secret = create_token(app.tokens, "default", "proof")
        transport = httpx.ASGITransport(app=app)
        try:
            async with httpx.AsyncClient(transport=transport, base_url="http://t") as client:
                yield World(
                    app,
                    source,
                    client,
                    hook,
                    settings,
                    lake,
                    postgres_url,
                    schema,
                    {"Authorization": f"Bearer {secret}"},
                )
        finally:
            await app.stop()


def files_holding(root: Path, needles: list[bytes]) -> dict[str, list[str]]:
    """Every file under `root` holding one of `needles` (lowercase compare), and which."""
    found: dict[str, list[str]] = {}
    for path in sorted(root.rglob("*")):
        if not path.is_file():
            continue
        data = path.read_bytes().lower()
        hits = [n.decode() for n in needles if n.lower() in data]
        if hits:
            found[str(path.relative_to(root))] = hits
    return found


def warehouse_rows(world: World, text: str, schema: str | None = None) -> int:
    """Rows of every table of the warehouse's schema (or `schema`) whose text holds `text`."""
    total = 0
    schema = schema or world.schema
    with psycopg.connect(libpq_url(world.warehouse)) as conn:
        tables = conn.execute(
            "SELECT table_name FROM information_schema.tables WHERE table_schema = %s",
            (schema,),
        ).fetchall()
        for (table,) in tables:
            query = f'SELECT count(*) FROM "{schema}"."{table}" t WHERE t::text ILIKE %s'
            row = conn.execute(query, (f"%{text}%",)).fetchone()
            total += row[0] if row else 0
    return total


def lake_rows(lake: Path, text: str) -> int:
    files = [str(p) for p in lake.rglob("*.parquet")]
    if not files:
        return 0
    query = "SELECT count(*) FROM read_parquet(?, union_by_name=true) t WHERE t::VARCHAR ILIKE ?"
    row = duckdb.connect().execute(query, [files, f"%{text}%"]).fetchone()
    return int(row[0]) if row else 0


def stored_rows(world: World, text: str) -> int:
    root = world.settings.data_dir / "events"
    return lake_rows(root, text) if root.exists() else 0


async def test_suppress_with_delete_leaves_no_byte_of_the_person(world: World) -> None:
    ann, bob = someone("ann"), someone("bob")
    await world.send(ann.story() + bob.story())
    await world.send([])  # and the audience entries Engage announced meanwhile
    stored = world.app.event_store.count()
    ann_stored = stored_rows(world, ann.user)  # her anonymous id holds her user id too
    assert ann_stored >= 6  # her 4 messages and her entry into `buyers` (track + identify)
    assert stored_rows(world, ann.mark) == 3 and warehouse_rows(world, ann.mark) >= 3
    assert lake_rows(world.lake, ann.mark) >= 2
    bob_everywhere = (stored_rows(world, bob.user), warehouse_rows(world, bob.user))
    bob_lake = lake_rows(world.lake, bob.user)
    delivered = len(world.hook.received)
    assert files_holding(world.settings.data_dir, ann.needles)  # the scan can see her

    body = {
        "regulationType": "SUPPRESS_WITH_DELETE",
        "subjectType": "USER_ID",
        "subjectIds": [ann.user],
    }
    created = await world.client.post("/api/v1/regulations", json=body, headers=world.headers)
    assert created.status_code == 200, created.text
    regulation_id = created.json()["data"]["regulateId"]
    regulation: dict[str, Any] = {}
    for _ in range(1200):
        answer = await world.client.get(
            f"/api/v1/regulations/{regulation_id}", headers=world.headers
        )
        regulation = answer.json()["data"]["regulation"]
        if regulation["overallStatus"] not in ("INITIALIZED", "RUNNING"):
            break
        await asyncio.sleep(0.05)
    targets = {t["id"]: t for t in regulation["streamStatus"][0]["destinationStatus"]}
    assert regulation["overallStatus"] == "FINISHED", targets
    assert {i: t["status"] for i, t in targets.items()} == {
        "seamline:log": "FINISHED",
        "seamline:event-store": "FINISHED",
        "seamline:state-store": "FINISHED",
        "seamline:dedup": "FINISHED",
        "hook": "FINISHED",
        "warehouse": "FINISHED",
        "lake": "FINISHED",
    }
    deletes = [
        r.json() for r in world.hook.received[delivered:] if r.json().get("type") == "delete"
    ]
    assert deletes and deletes[0]["userId"] == ann.user

    # Later messages from her are not stored nor sent; Bob's are.
    await asyncio.sleep(1.1)
    await world.send(
        [
            {"type": "track", "userId": ann.user, "event": "Back", "properties": {"n": ann.mark}},
            {"type": "track", "userId": bob.user, "event": "Back"},
        ]
    )
    assert world.app.event_store.count() == stored - ann_stored + 1
    assert not any(ann.mark in r.body.decode() for r in world.hook.received[delivered:])

    # Not one byte of her under the data directory, in the warehouse or in the lake.
    assert files_holding(world.settings.data_dir, ann.needles) == {}
    for needle in (ann.mark, ann.user, ann.anon, ann.email):
        assert stored_rows(world, needle) == 0
        assert warehouse_rows(world, needle) == 0
        assert lake_rows(world.lake, needle) == 0
    assert files_holding(world.lake, ann.needles) == {}
    if world.settings.database_url:  # the state store's rows, every table of it
        for needle in (ann.mark, ann.user, ann.anon, ann.email):
            assert warehouse_rows(world, needle, schema="public") == 0, needle
    # Everyone else's data intact, counts included (Bob's later track is one more).
    assert stored_rows(world, bob.user) == bob_everywhere[0] + 1
    # A track is a row of `tracks` and of its event's own table, as in Segment's warehouses.
    assert warehouse_rows(world, bob.user) == bob_everywhere[1] + 2
    assert lake_rows(world.lake, bob.user) == bob_lake + 1
