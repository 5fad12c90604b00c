"""Whether a version may be applied: a version left `applying` blocks only while someone
really applies it (holds the data directory's rebuild lock)."""

from __future__ import annotations

from pathlib import Path

import pytest

from seamline.config import Settings
from seamline.data_dir import DataDir, open_state
from seamline.errors import Conflict
from seamline.ops.identity_rules import IdentityRulesOps
from seamline.roles.locks import ServeLock
from seamline.store.identity_rules_sql import SqlIdentityRules

DOCUMENT = {"types": {"phone": {"limit": 2}}}
OTHER = {"types": {"phone": {"limit": 3}}}


def test_a_version_left_applying_by_a_dead_process_blocks_only_while_the_lock_is_held(
    tmp_path: Path,
) -> None:
    settings = Settings(data_dir=tmp_path / "data")
    DataDir(settings.data_dir).root.mkdir(parents=True)
    engine = open_state(settings)
    try:
        ops = IdentityRulesOps(settings, SqlIdentityRules(engine))
        stale = ops.save("default", DOCUMENT, "user:ann")
        fresh = ops.save("default", OTHER, "user:ann")
        ops.store.mark("default", stale.version, "applying")  # its process was killed

        assert ops.check_apply("default", fresh.version).version == fresh.version

        lock = ServeLock(DataDir(settings.data_dir).root / ".rebuild.lock", "rebuild")
        lock.acquire()  # now someone is applying
        try:
            with pytest.raises(Conflict, match=f"version {stale.version} is being applied"):
                ops.check_apply("default", fresh.version)
            with pytest.raises(Conflict, match="being applied already"):
                ops.check_apply("default", stale.version)
        finally:
            lock.release()
    finally:
        engine.dispose()
