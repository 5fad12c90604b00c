"""A result left half read on an embedded (SQLite) store does not freeze what later reads on
its pooled connection see: a change made elsewhere (another process, another engine) is seen
by the next read, even while the half-read result is still alive.

Without `store/sqlite_cursors.py`, Python 3.11+ keeps the abandoned statement active across the
pool's rollback, and the connection stays on its old WAL snapshot."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import select

from seamline.collect.sources import new_source
from seamline.errors import Conflict
from seamline.store.resources_sql import SqlResourceStore
from seamline.store.sources_sql import SqlSourceStore
from seamline.store.state import open_state_store, resources
from seamline.store.traces_sql import open_trace_file


def test_a_half_read_result_kept_alive_does_not_hide_later_changes(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'state.db'}"
    server, elsewhere = open_state_store(url), open_state_store(url)
    ours, theirs = SqlResourceStore(server), SqlResourceStore(elsewhere)
    for name in ("a", "b"):
        ours.put("default", "destination", name, {"type": "webhook"})
    kept: list[BaseException] = []
    try:
        with server.connect() as conn:
            rows = conn.execute(select(resources.c.name))
            next(iter(rows))
            raise RuntimeError("failed half way through the rows")
    except RuntimeError as error:
        kept.append(error)  # its traceback holds `rows`, as a reference cycle would
    theirs.put("default", "destination", "c", {"type": "webhook"})
    assert ours.revision("default") == theirs.revision("default") == 3
    assert [r.name for r in ours.list("default")] == ["a", "b", "c"]
    assert kept  # still alive: the test proves the fix, not the garbage collector
    server.dispose()
    elsewhere.dispose()


def test_a_refused_rename_does_not_hide_the_next_source(tmp_path: Path) -> None:
    """The case met first: a rename to a taken name raises while reading the workspace's
    sources (409), and the API's next look-up missed a source made since."""
    url = f"sqlite:///{tmp_path / 'state.db'}"
    server, elsewhere = open_state_store(url), open_state_store(url)
    ours = SqlSourceStore(server)
    ours.ensure_workspace("default", "Default")
    ours.create(new_source("App", "default"))
    web = ours.create(new_source("Web", "default"))
    ours.create(new_source("Shop", "default"))
    with pytest.raises(Conflict) as refused:  # met at the first row, two more unread
        ours.update(web.id, name="app")
    made = SqlSourceStore(elsewhere).create(new_source("Server", "default"))
    assert ours.by_write_key(made.write_key) is not None
    assert refused.value is not None  # kept alive until here
    server.dispose()
    elsewhere.dispose()


def test_the_trace_file_closes_what_is_left_open_too(tmp_path: Path) -> None:
    engine = open_trace_file(tmp_path / "traces.db")
    with engine.connect() as conn:
        left = conn.exec_driver_sql("SELECT 1 UNION ALL SELECT 2")
        left.fetchone()
    with pytest.raises(Exception, match="closed"):
        left.fetchone()  # read after its connection went back: refused, not served stale
    engine.dispose()
