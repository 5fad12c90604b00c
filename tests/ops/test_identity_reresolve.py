"""Re-resolving history under new identity rules while messages keep arriving, on SQLite and
PostgreSQL: the preview's counts come true, the live graph ends equal to a from-scratch replay
under the new rules, no accepted message is lost, the unmerged pair stays apart, and the new
version is the active one. Stopped before the swap (Ctrl-C, an unmerge meanwhile), it changes
nothing live and marks the version failed; one runs at a time."""

from __future__ import annotations

import asyncio
import threading
import time
from pathlib import Path

import pytest
from sqlalchemy import Engine

from seamline.app import Seamline
from seamline.config import Settings
from seamline.data_dir import DataDir, open_state
from seamline.errors import Conflict
from seamline.identity.identifiers import Identifier
from seamline.identity.rules_document import document_from_settings, normalise_identity
from seamline.log.partitions import LocalPartitions
from seamline.ops.identity_preview import preview
from seamline.ops.identity_replay import copy_separations, replay_identifiers, scratch_graph
from seamline.ops.identity_reresolve import STALE, reresolve
from seamline.ops.inspect import count_events
from seamline.pipeline.runner import CONSUMER
from seamline.roles.locks import ServeLock
from seamline.roles.names import PIPELINE
from seamline.roles.pause import pause_requested
from seamline.store.events_lake import LakeEventStore
from seamline.store.identity_rules_sql import SqlIdentityRules
from seamline.store.identity_sql import SqlIdentityGraph
from tests.ops.identity_history import (
    NEW_DOCUMENT,
    NEW_RULES,
    WORKSPACE,
    more,
    people,
    separate,
    served,
)


@pytest.fixture(params=["sqlite", "postgresql"])
def settings(request: pytest.FixtureRequest, tmp_path: Path) -> Settings:
    if request.param == "sqlite":
        return Settings(data_dir=tmp_path / "data")
    url: str = request.getfixturevalue("postgres_url")
    return Settings(data_dir=tmp_path / "data", database_url=url)


class LivePipeline:
    """The pipeline role as `serve --role pipeline` runs it, in a thread: it pauses (stops and
    lets go of its stores) whenever a re-resolution asks, and starts again afterwards."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.stopping = threading.Event()
        self.paused = 0
        self.running = threading.Event()
        self.thread = threading.Thread(target=lambda: asyncio.run(self._run()))

    async def _run(self) -> None:
        root = self.settings.data_dir
        while not self.stopping.is_set():
            if pause_requested(root):
                await asyncio.sleep(0.05)
                continue
            try:
                app = Seamline(self.settings, roles=frozenset({PIPELINE}))
            except Conflict:  # the re-resolution holds the pipeline's lock
                await asyncio.sleep(0.05)
                continue
            await app.start()
            self.running.set()
            while not self.stopping.is_set() and not pause_requested(root):
                assert app.failure is None
                await asyncio.sleep(0.05)
            self.paused += not self.stopping.is_set()
            await app.stop()


class Traffic:
    """New visitors appended to the log every few milliseconds, as collect would."""

    def __init__(self, settings: Settings, source_id: str) -> None:
        self.log = LocalPartitions(DataDir(settings.data_dir).log, fsync=False)
        self.writer = self.log.claim(0)
        self.source_id = source_id
        self.sent = 0
        self.stopping = threading.Event()
        self.thread = threading.Thread(target=self._run)

    def _run(self) -> None:
        while not self.stopping.is_set():
            self.send(5)
            time.sleep(0.2)

    def send(self, count: int) -> None:
        asyncio.run(self.writer.append(more(self.source_id, self.sent, count)))
        self.sent += count


def _caught_up(settings: Settings) -> None:
    log = LocalPartitions(DataDir(settings.data_dir).log, fsync=False)
    deadline = time.monotonic() + 30
    try:
        while any(log.committed_sync(CONSUMER, p) < end for p, end in log.end_offsets().items()):
            assert time.monotonic() < deadline, "the live pipeline did not catch up"
            time.sleep(0.05)
    finally:
        log.close_sync()


def _stored(settings: Settings, engine: Engine) -> dict[str, str]:
    """The profile id each stored event keeps, by message id."""
    store = LakeEventStore(DataDir(settings.data_dir).events, engine, writable=False)
    try:
        rows = store.query("SELECT message_id, profile_id FROM events")
    finally:
        store.close()
    return {str(message_id): str(profile_id) for message_id, profile_id in rows}


def test_re_resolution_swaps_in_the_graph_the_new_rules_make_while_ingest_goes_on(
    settings: Settings,
) -> None:
    source_id = served(settings)
    engine = open_state(settings)
    pipeline = LivePipeline(settings)
    traffic = Traffic(settings, source_id)
    try:
        kept_apart = separate(engine, "m8")
        store = SqlIdentityRules(engine, seed=lambda: document_from_settings(settings))
        draft = store.save_draft(WORKSPACE, normalise_identity(NEW_DOCUMENT), "test")
        found = preview(settings, NEW_DOCUMENT)
        assert (found.merges, found.splits) == (1, 1)

        pipeline.thread.start()
        assert pipeline.running.wait(60)  # so there is a pipeline to pause
        traffic.thread.start()
        phases: list[str] = []
        done = reresolve(settings, draft.version, lambda phase, _d, _t: phases.append(phase))
        traffic.stopping.set()
        traffic.thread.join()
        traffic.send(5)  # after the swap, under the new rules
        _caught_up(settings)
        pipeline.stopping.set()
        pipeline.thread.join()

        assert pipeline.paused == 1
        assert {"shadow", "pause", "catch-up", "swap"} <= set(phases)
        assert done.version == draft.version
        states = {v.version: v.state for v in store.versions(WORKSPACE)}
        assert states == {1: "superseded", draft.version: "active"}
        # The graph is the one a replay of the whole log under the new rules makes.
        live = people(engine)
        with scratch_graph() as scratch:
            copy_separations(engine, scratch, WORKSPACE)
            log = LocalPartitions(DataDir(settings.data_dir).log, fsync=False)
            ends = log.end_offsets()
            log.close_sync()
            replay_identifiers(settings, scratch, NEW_RULES, WORKSPACE, ends, lambda *_: None)
            assert live == people(scratch)
        assert frozenset({"anonymous_id:b1", "anonymous_id:b2", "customer_number:C1"}) in live
        assert frozenset({"anonymous_id:a1", "email:e1@x.io"}) in live
        # The unmerged pair stays apart, and every accepted message is stored once.
        [first] = [p for p in live if "anonymous_id:c1" in p]
        assert "anonymous_id:c2" not in first
        assert kept_apart[0] != kept_apart[1]
        counts = count_events(settings)
        assert counts["accepted"] == counts["stored"] == 8 + traffic.sent
        # m5 made a profile of its own then; it now belongs to b1's person: its stored event is
        # re-attributed (SQLite) or its old profile kept as a member (PostgreSQL).
        graph = SqlIdentityGraph(engine)
        b_person = graph.canonical(WORKSPACE, Identifier("anonymous_id", "b1"))
        assert graph.canonical_of_profile(_stored(settings, engine)["m5"]) == b_person
    finally:
        traffic.stopping.set()
        pipeline.stopping.set()
        for thread in (traffic.thread, pipeline.thread):
            if thread.is_alive():
                thread.join()
        traffic.log.close_sync()
        engine.dispose()


def test_a_re_resolution_stopped_before_the_swap_changes_nothing_live_and_fails_its_version(
    settings: Settings,
) -> None:
    served(settings)
    engine = open_state(settings)
    try:
        store = SqlIdentityRules(engine, seed=lambda: document_from_settings(settings))
        draft = store.save_draft(WORKSPACE, normalise_identity(NEW_DOCUMENT), "test")
        other = store.save_draft(WORKSPACE, normalise_identity({"blocked_patterns": ["^x"]}), "t")
        before = people(engine)

        def interrupt(phase: str, _done: int, _total: int) -> None:
            if phase == "shadow":
                raise KeyboardInterrupt

        with pytest.raises(KeyboardInterrupt):
            reresolve(settings, draft.version, interrupt)
        assert people(engine) == before
        assert store.get(WORKSPACE, draft.version).state == "failed"  # type: ignore[union-attr]
        assert store.status(WORKSPACE, draft.version)[1] == "interrupted"
        assert store.active(WORKSPACE).version == 1  # type: ignore[union-attr]
        assert not (DataDir(settings.data_dir).root / "rebuild").exists()
        # One at a time: while a version is applying, another is refused …
        store.mark(WORKSPACE, draft.version, "applying")
        running = ServeLock(DataDir(settings.data_dir).root / ".rebuild.lock", "rebuild")
        running.acquire()
        try:
            with pytest.raises(Conflict, match=f"version {draft.version} is being applied"):
                reresolve(settings, other.version, interrupt)
        finally:
            running.release()
        assert store.get(WORKSPACE, other.version).state == "draft"  # type: ignore[union-attr]
        # … unless the process applying it is gone: then that one failed.
        with pytest.raises(KeyboardInterrupt):
            reresolve(settings, other.version, interrupt)
        assert store.status(WORKSPACE, draft.version)[1] == STALE
        # An unmerge made while the shadow replays is not lost: the swap refuses.
        unmerged: list[frozenset[str]] = []

        def unmerge_meanwhile(phase: str, _done: int, _total: int) -> None:
            if phase == "pause" and not unmerged:
                separate(engine, "m3")
                unmerged.extend(people(engine))

        with pytest.raises(Conflict, match="unmerged while"):
            reresolve(settings, other.version, unmerge_meanwhile)
        assert people(engine) == set(unmerged) != before
        assert store.get(WORKSPACE, other.version).state == "failed"  # type: ignore[union-attr]
    finally:
        engine.dispose()
