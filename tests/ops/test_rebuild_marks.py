"""The offline rebuild's marks: what the pipeline processed before the rebuild is not routed
again, what it had not processed is, and a rebuild that stopped and runs again keeps the
marks of the first attempt."""

from __future__ import annotations

import asyncio
import time
from collections import Counter
from datetime import UTC, datetime
from pathlib import Path

from seamline.app import Seamline, bootstrap
from seamline.config import Settings
from seamline.data_dir import DataDir
from seamline.log.base import position
from seamline.ops import rebuild
from seamline.roles.names import COLLECT
from seamline.spec import Envelope, Message
from seamline.spec.envelope import envelope_encoder
from tests.destinations.sink import Sink, sink, webhook_to
from tests.test_cli import cli

NOW = datetime(2026, 6, 1, tzinfo=UTC)


def settings_for(tmp_path: Path) -> Settings:
    return Settings(
        data_dir=tmp_path / "data",
        delivery_poll=0.05,
        destinations_allow_private=["127.0.0.0/8"],
    )


def subscribe(tmp_path: Path, settings: Settings, url: str) -> str:
    source = bootstrap(settings)
    file = tmp_path / "workspace.yaml"
    file.write_text(webhook_to(url))
    loopback = {"SEAMLINE_DESTINATIONS_ALLOW_PRIVATE": '["127.0.0.0/8"]'}
    made = cli(
        "--data-dir", str(settings.data_dir), "apply", "-f", str(file), "--yes", env=loopback
    )
    assert made.returncode == 0, made.stderr
    return source.id


def track(source_id: str, message_id: str) -> bytes:
    message = Message(
        type="track",
        message_id=message_id,
        user_id="ada",
        event="Bought",
        timestamp=NOW,
        received_at=NOW,
    )
    return envelope_encoder.encode(
        Envelope(workspace_id="default", source_id=source_id, message=message)
    )


def delivered(target: Sink) -> Counter[str]:
    return Counter(str(request.json()["messageId"]) for request in target.received)


async def run(settings: Settings, target: Sink, source_id: str, ids: list[str]) -> None:
    """A whole server appends `ids` and runs until they are delivered and the outbox is empty."""
    app = Seamline(settings)
    await app.start()
    try:
        if ids:
            await app.log.append([track(source_id, m) for m in ids])
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            if set(ids) <= set(delivered(target)) and not app.outbox.pending("default"):
                return
            await asyncio.sleep(0.05)
        raise AssertionError(f"not delivered: {delivered(target)}")
    finally:
        await app.stop()


async def accept_only(settings: Settings, source_id: str, ids: list[str]) -> None:
    """Collect alone: accepted into the log while no pipeline runs."""
    app = Seamline(settings, roles=frozenset({COLLECT}))
    await app.start()
    await app.log.append([track(source_id, m) for m in ids])
    await app.stop()


def test_what_no_pipeline_processed_is_delivered_by_the_rebuild_once(tmp_path: Path) -> None:
    settings = settings_for(tmp_path)
    with sink() as target:
        source_id = subscribe(tmp_path, settings, target.url)
        asyncio.run(run(settings, target, source_id, ["a1", "a2", "a3"]))
        asyncio.run(accept_only(settings, source_id, ["b1", "b2"]))

        assert rebuild.reset_derived(settings) == 5  # a record per message
        # a1-a3 were processed, so routed; b1 and b2 lie beyond the mark.
        assert rebuild.read_marks(DataDir(settings.data_dir)) == {0: position(0, 3)}
        rebuild.replay(settings, lambda _: None)
        asyncio.run(run(settings, target, source_id, []))  # delivers what the replay queued
    assert delivered(target) == Counter({m: 1 for m in ("a1", "a2", "a3", "b1", "b2")})
    assert not rebuild.routed_marks(DataDir(settings.data_dir)).exists()


def test_a_rebuild_run_again_after_it_stopped_keeps_the_first_marks(tmp_path: Path) -> None:
    settings = settings_for(tmp_path)
    paths = DataDir(settings.data_dir)
    with sink() as target:
        source_id = subscribe(tmp_path, settings, target.url)
        asyncio.run(run(settings, target, source_id, ["a1", "a2"]))
        rebuild.reset_derived(settings)
        first = rebuild.read_marks(paths)
        assert first == {0: position(0, 2)}  # both processed: the next record is unrouted
        # Stopped before the replay moved: the offsets are at 0 now, the marks stay.
        rebuild.reset_derived(settings)
        assert rebuild.read_marks(paths) == first
        rebuild.replay(settings, lambda _: None)
        asyncio.run(run(settings, target, source_id, []))
    assert delivered(target) == Counter({"a1": 1, "a2": 1})
