"""Retention on the event store: rows whose `received_at` is before their workspace's cutoff
are removed from the lake, bytes included.

A file whose every row expired is dropped from the catalog and deleted; a file that straddles
a cutoff is rewritten without its old rows (`LakeEventStore._rewrite`, which writes it sorted
with a profile filter as compaction does); a file with no expired row is not touched. Which
files hold expired rows is one DuckDB query over the `workspace_id` and `received_at` columns
of the live files (row groups whose statistics put them after every cutoff are skipped).

All of it runs under the lake's rewrite lock, listing included, so this process's compactor
cannot retire a file between the listing and its rewrite (the copy would then sit beside the
compaction's and hold the rows twice). A lake written by pipeline workers on several machines
expires per worker, each over the partitions it writes (`owned`), as compaction does.
Replaced files are unlinked at once: a query that listed one just before fails with an IO
error and lists again (`LakeEventStore._rows` retries).
"""

from __future__ import annotations

from collections.abc import Collection, Mapping
from datetime import datetime
from typing import NamedTuple

from seamline.store.events_lake import LakeEventStore


class ExpiredRows(NamedTuple):
    rows: int
    files_removed: int
    files_rewritten: int


def expire_events(
    store: LakeEventStore,
    cutoffs: Mapping[str, datetime],
    owned: Collection[int] | None = None,
) -> ExpiredRows:
    """Remove the rows of each workspace in `cutoffs` received before its cutoff, from the
    files of the `owned` partitions (None: every partition)."""
    if not cutoffs:
        return ExpiredRows(0, 0, 0)
    drop = expired_condition(cutoffs)
    with store._rewriting:
        live = [f for f in store.catalog.live() if owned is None or f.partition in owned]
        if not live:
            return ExpiredRows(0, 0, 0)
        by_location = {store.files.location(f.path): f for f in live}
        listed = ", ".join(store._quoted(f.path) for f in live)
        found = store._rewriter.execute(
            f"SELECT filename, count(*) FROM read_parquet([{listed}], filename = true)"
            f" WHERE {drop} GROUP BY filename"
        ).fetchall()
        expired = {str(name): int(n) for name, n in found}
        files = [f for location, f in by_location.items() if expired.get(location)]
        if not files:
            return ExpiredRows(0, 0, 0)
        removed = sum(1 for f in files if expired[store.files.location(f.path)] >= f.rows)
        rows = store._rewrite(files, f"NOT coalesce(({drop}), false)")
        gone = [f.path for f in files]
        store.files.delete(gone)
        store.catalog.forget(gone)
    return ExpiredRows(rows, removed, len(files) - removed)


def expired_condition(cutoffs: Mapping[str, datetime]) -> str:
    """A DuckDB condition true for the rows past retention (ids and times are quoted here:
    they come from the state store and the clock, never from a request)."""
    return " OR ".join(
        f"(workspace_id = {_literal(workspace_id)}"
        f" AND received_at < CAST({_literal(cutoff.isoformat())} AS TIMESTAMPTZ))"
        for workspace_id, cutoff in sorted(cutoffs.items())
    )


def _literal(value: str) -> str:
    return "'" + value.replace("'", "''") + "'"
