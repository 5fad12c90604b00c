"""Replaying the whole log from zero into empty stores gives the same profiles."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import create_engine, select

from seamline.identity.rules import IdentityRules
from seamline.log import LocalLog
from seamline.pipeline import PipelineRunner
from seamline.pipeline.dedup import DropDuplicates
from seamline.pipeline.identity_stage import ResolveIdentities
from seamline.pipeline.profiles_stage import UpdateTraits
from seamline.pipeline.store_events import StoreEvents
from seamline.spec.envelope import envelope_encoder
from seamline.store.dedup_sqlite import SqliteSeenMessages
from seamline.store.events_lake import LakeEventStore
from seamline.store.identity_sql import SqlIdentityGraph
from seamline.store.state import identities, merges, metadata, profile_traits, profiles
from seamline.store.traits_sql import SqlTraitStore
from tests.identity.scenarios import SCENARIOS
from tests.identity.test_resolution import items_of

pytestmark = pytest.mark.anyio


async def process(log: LocalLog, where: Path, batch_size: int) -> dict[str, Any]:
    where.mkdir()
    engine = create_engine(f"sqlite:///{where}/state.db")
    metadata.create_all(engine)
    events = LakeEventStore(where / "events")
    seen = SqliteSeenMessages(where / "dedup.sqlite")
    runner = PipelineRunner(
        log,
        (
            DropDuplicates(seen, 86400),
            ResolveIdentities(SqlIdentityGraph(engine), IdentityRules()),
            UpdateTraits(SqlTraitStore(engine)),
            StoreEvents(events),
        ),
        batch_size=batch_size,
        consumer=f"replay-{where.name}",  # each replay reads the same log from zero
    )
    stop = asyncio.Event()
    stop.set()
    await runner.run(stop)
    with engine.connect() as conn:
        state = {
            "profiles": sorted(tuple(r) for r in conn.execute(select(profiles))),
            "identities": sorted(tuple(r) for r in conn.execute(select(identities))),
            "merges": sorted(tuple(r)[1:] for r in conn.execute(select(merges))),
            "traits": sorted(tuple(r) for r in conn.execute(select(profile_traits))),
        }
    state["events"] = events.query("SELECT message_id, profile_id FROM events ORDER BY log_offset")
    events.close()
    seen.close()
    engine.dispose()
    return state


async def test_replay_from_zero_gives_identical_stores(tmp_path: Path) -> None:
    log = LocalLog(tmp_path / "log")
    messages = [
        dict(m, id=f"{n}-{m['id']}") for n, (_, story, _) in enumerate(SCENARIOS) for m in story
    ]
    await log.append([envelope_encoder.encode(item.envelope) for item in items_of(messages)])
    first = await process(log, tmp_path / "first", batch_size=7)
    again = await process(log, tmp_path / "again", batch_size=50)
    assert first["profiles"] and first["merges"] and first["traits"]
    for table in ("profiles", "identities", "merges", "traits", "events"):
        assert first[table] == again[table], table
    await log.close()
