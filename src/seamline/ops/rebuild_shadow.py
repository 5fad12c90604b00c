"""The shadow store of an online rebuild: a copy of the state store with the derived tables
emptied, an event store of its own, and the pipeline's stages running over the live log up to
offsets the rebuild moves forward.

Everything lives under `rebuild/` in the data directory, so the live stores are never written
to until the swap (`rebuild_swap`). The shadow runs the same stages as the live pipeline, but
it only replays records the live pipeline has committed, so it announces no Engage change and
routes nothing (`bound`): the live pipeline did both already.
"""

from __future__ import annotations

import shutil
import sqlite3
import time
from collections.abc import Callable, Mapping
from pathlib import Path

from seamline.config import Settings
from seamline.data_dir import DataDir, make_private
from seamline.errors import Unavailable
from seamline.log.base import LogRecord, position
from seamline.log.partitions import LazyWriter, LocalPartitions
from seamline.pipeline.engage_stage import EvaluateEngage
from seamline.roles.log_access import LogAccess
from seamline.roles.names import PIPELINE
from seamline.roles.parts import Parts
from seamline.roles.pipeline import PipelineRole
from seamline.spec.envelope import Envelope, envelope_encoder

SHADOW_DIR = "rebuild"
SHADOW_POLL = 0.05

Prepare = Callable[[Settings], Settings]
"""Turns the shadow's settings (data_dir already the shadow's root) into the ones its pipeline
runs with, e.g. another state store."""


def shadow_root(live: DataDir) -> Path:
    return live.root / SHADOW_DIR


def copy_state(live: DataDir, root: Path, derived: tuple[str, ...]) -> None:
    """A fresh `root` holding a consistent copy of the live state store (SQLite's backup API,
    beside the running server) with the `derived` tables emptied, and the sealing key."""
    shutil.rmtree(root, ignore_errors=True)
    make_private(root)
    source = sqlite3.connect(live.state_db, timeout=60)
    target = sqlite3.connect(root / "state.db")
    try:
        source.backup(target)  # every page in one step: one snapshot of the live store
        with target:
            for table in derived:
                target.execute(f'DELETE FROM "{table}"')
            # The live outbox is the live deliver role's; the shadow's route stage only
            # re-queues what was routed already.
            target.execute("DELETE FROM outbox")
    finally:
        target.close()
        source.close()
    key = live.root / "secret.key"
    if key.exists():
        shutil.copy2(key, root / "secret.key")


class BoundedPartitions(LocalPartitions):
    """The live log, read-only, up to `bounds` per partition; the shadow's committed offsets
    stay in memory (a rebuild that stops starts again from scratch)."""

    def __init__(self, root: Path, bounds: Mapping[int, int]) -> None:
        super().__init__(root, fsync=False)
        self.bounds = dict(bounds)
        self._offsets: dict[int, int] = {}

    def partitions_sync(self) -> list[int]:
        return sorted(self.bounds)

    def read_sync(self, partition: int, offset: int, max_records: int) -> list[LogRecord]:
        left = self.bounds.get(partition, 0) - offset
        if left <= 0:
            return []
        return super().read_sync(partition, offset, min(max_records, left))

    def wait_sync(self, positions: dict[int, int], timeout: float) -> None:
        if any(offset < self.bounds.get(p, 0) for p, offset in positions.items()):
            return
        time.sleep(min(timeout, SHADOW_POLL))  # the bounds move only when the rebuild says

    def end_offset_sync(self, partition: int) -> int:
        return min(super().end_offset_sync(partition), self.bounds.get(partition, 0))

    async def commit(self, consumer: str, partition: int, offset: int) -> None:
        self._offsets[partition] = offset

    def committed_sync(self, consumer: str, partition: int) -> int:
        return self._offsets.get(partition, 0)


class ShadowPipeline:
    """The pipeline's stages over the shadow stores, reading the live log up to `bounds`."""

    def __init__(
        self,
        settings: Settings,
        root: Path,
        bounds: Mapping[int, int],
        *,
        prepare: Prepare | None = None,
    ) -> None:
        live = DataDir(settings.data_dir)
        shadow = settings.model_copy(update={"data_dir": root})
        if prepare is not None:
            shadow = prepare(shadow)
        self._parts = parts = Parts(shadow, frozenset({PIPELINE}))
        try:
            self._logs = LogAccess(shadow, frozenset({PIPELINE}), parts.state)
            self.log = BoundedPartitions(live.log, bounds)
            self._logs.local = self.log
            # Engage announces changes in the live log, as the offline rebuild does.
            self._emitter = LocalPartitions(
                live.log, fsync=settings.log_fsync, segment_bytes=settings.log_segment_bytes
            )
            emit_to = LazyWriter(self._emitter)

            def emit(envelopes: list[Envelope]) -> None:
                emit_to.submit([envelope_encoder.encode(e) for e in envelopes])

            engage = EvaluateEngage(
                lambda workspace_id: parts.rules.get(workspace_id).engage,
                parts.engage_engine,
                parts.engage_store.identifiers_of_people,
                emit,
            )
            self._engage = engage
            # Retention is the live pipeline's: the shadow only replays (its log is the live one).
            self.role = PipelineRole(parts, self._logs, engage, queued=lambda: None, expires=False)
            self.bound(bounds)
        except BaseException:
            parts.close()
            raise

    def bound(self, offsets: Mapping[int, int]) -> None:
        """Replay the live log up to `offsets`, offsets the live pipeline has committed: what
        lies below them was announced and routed already, so the shadow does neither again."""
        self.log.bounds = dict(offsets)
        marks = {partition: position(partition, offset, 0) for partition, offset in offsets.items()}
        self._engage.announced_below = marks
        self.role.route.routed_below = marks

    def start(self, max_retries: int) -> None:
        self.role.guard.backoff.max_retries = max_retries
        self.role.start()

    def done(self) -> int:
        """Records replayed, counted up to the bounds."""
        runner = self.role.runner
        committed = runner.committed if runner is not None else {}
        return sum(min(committed.get(p, 0), end) for p, end in self.log.bounds.items())

    def total(self) -> int:
        return sum(self.log.bounds.values())

    def check(self) -> None:
        """Raise `Unavailable` if the shadow's pipeline stopped."""
        failure = self.role.failure
        if failure is not None:
            raise Unavailable(
                f"the rebuild's pipeline stopped at log record {self.done()} of {self.total()}: "
                f"{type(failure).__name__}: {failure}; the live stores are unchanged, fix the "
                "cause and run `seamline rebuild` again"
            )

    def errors_held(self) -> int:
        return self.role.guard.errors_held

    async def close(self) -> None:
        """Stop the stages and close every store; what is read but not committed yet is all
        that is still processed (a rebuild given up must not replay the rest first)."""
        runner = self.role.runner
        if runner is not None:
            self.log.bounds = {p: runner.committed.get(p, 0) for p in self.log.bounds}
        try:
            await self.role.stop()
            self.role.close()
            await self._logs.close()
        finally:
            self._emitter.close_sync()
            self._parts.close()
