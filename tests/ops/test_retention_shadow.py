"""A rebuild's shadow pipeline replays the live log and never expires it: retention is the
live pipeline's job (the shadow reads the live log's directories)."""

from __future__ import annotations

import asyncio
from pathlib import Path

from seamline.data_dir import DataDir
from seamline.ops.rebuild import DERIVED_TABLES
from seamline.ops.rebuild_online import committed_offsets
from seamline.ops.rebuild_shadow import ShadowPipeline, copy_state, shadow_root
from tests.ops.test_rebuild_swap import _served


def test_the_shadow_pipeline_runs_no_expiry(tmp_path: Path) -> None:
    settings = _served(tmp_path, 2)
    live = DataDir(settings.data_dir)
    root = shadow_root(live)
    copy_state(live, root, tuple(t.name for t in DERIVED_TABLES))

    async def build() -> bool:
        shadow = ShadowPipeline(settings, root, committed_offsets(live))
        try:
            return shadow.role.retention is None
        finally:
            await shadow.close()

    assert asyncio.run(build())
