"""A change made through the management API is in force for the next request of the process
that made it, however the pipeline's threads interleave with the change.

A reader (the pipeline, the delivery loop) that read the revision just before the change must
neither hide it behind a fresh check time nor put its older rules back over newer ones; one
that is compiling the change must not let others take the rules it is replacing."""

from __future__ import annotations

import threading
from pathlib import Path

from sqlalchemy import Engine

from seamline.store.resources_sql import SqlResourceStore
from seamline.workspace.compiled import RulesCache, WorkspaceRules
from seamline.workspace.resources import Resource

WORKSPACE = "default"


class PausedAfterReading(SqlResourceStore):
    """The real store; the chosen thread stops just after it has read the revision."""

    def __init__(self, engine: Engine) -> None:
        super().__init__(engine)
        self.paused: threading.Thread | None = None
        self.has_read = threading.Event()
        self.go_on = threading.Event()

    def revision(self, workspace_id: str) -> int:
        found = super().revision(workspace_id)
        if threading.current_thread() is self.paused:
            self.has_read.set()
            assert self.go_on.wait(10)
        return found


def reader_paused_before_a_change(
    store: PausedAfterReading, cache: RulesCache
) -> tuple[threading.Thread, list[WorkspaceRules]]:
    cache.get(WORKSPACE)
    cache.invalidate(WORKSPACE)  # the reader's next get reads the revision
    seen: list[WorkspaceRules] = []
    reader = threading.Thread(target=lambda: seen.append(cache.get(WORKSPACE)))
    store.paused = reader
    reader.start()
    assert store.has_read.wait(10)
    store.put(WORKSPACE, "destination", "hook", {"type": "webhook"})
    cache.invalidate(WORKSPACE)
    return reader, seen


def test_a_reader_that_read_the_revision_before_a_change_does_not_hide_it(
    engine: Engine, tmp_path: Path
) -> None:
    store = PausedAfterReading(engine)
    cache = RulesCache(store, tmp_path, check_every=60)
    reader, seen = reader_paused_before_a_change(store, cache)
    store.go_on.set()
    reader.join(10)
    assert "hook" not in seen[0].destinations  # the reader began before the change
    rules = cache.get(WORKSPACE)
    assert rules.revision == store.revision(WORKSPACE)
    assert "hook" in rules.destinations
    cache.close()


def test_a_late_reader_does_not_put_older_rules_back(engine: Engine, tmp_path: Path) -> None:
    store = PausedAfterReading(engine)
    cache = RulesCache(store, tmp_path, check_every=60)
    reader, _ = reader_paused_before_a_change(store, cache)
    changed = cache.get(WORKSPACE)
    assert "hook" in changed.destinations
    store.go_on.set()
    reader.join(10)
    assert cache.get(WORKSPACE).revision == changed.revision == store.revision(WORKSPACE)
    cache.close()


class PausedWhileCompiling(SqlResourceStore):
    """The real store; the chosen thread stops as it lists the resources to compile."""

    def __init__(self, engine: Engine) -> None:
        super().__init__(engine)
        self.paused: threading.Thread | None = None
        self.compiling = threading.Event()
        self.go_on = threading.Event()

    def list(self, workspace_id: str, kind: str | None = None) -> list[Resource]:
        if threading.current_thread() is self.paused:
            self.compiling.set()
            assert self.go_on.wait(10)
        return super().list(workspace_id, kind)


def test_rules_being_compiled_are_waited_for_not_their_predecessor(
    engine: Engine, tmp_path: Path
) -> None:
    store = PausedWhileCompiling(engine)
    cache = RulesCache(store, tmp_path, check_every=60)
    cache.get(WORKSPACE)
    store.put(WORKSPACE, "destination", "hook", {"type": "webhook"})
    cache.invalidate(WORKSPACE)
    compiler = threading.Thread(target=lambda: cache.get(WORKSPACE))
    store.paused = compiler
    compiler.start()
    assert store.compiling.wait(10)
    seen: list[WorkspaceRules] = []
    asker = threading.Thread(target=lambda: seen.append(cache.get(WORKSPACE)))
    asker.start()
    asker.join(0.5)  # without the fix it answers at once, with the old rules
    store.go_on.set()
    compiler.join(10)
    asker.join(10)
    assert "hook" in seen[0].destinations
    cache.close()
