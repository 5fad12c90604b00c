"""What each Profiles Sync target was last given, kept in the state store so that every run
sends exactly what changed since (see `profiles_sync.changes`).

A target is one destination instance of one workspace (`<workspace>/<instance id>`). Its
snapshot holds each profile's canonical id, each identifier and each trait's `updated_at` as
last written there; a run diffs the identity graph and the traits against it. The snapshot
moves only after the target has taken the run's rows, so a crash in between sends the same
rows again, which the writers ignore (each row's id is derived from what it says).
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import JSON, Column, DateTime, Engine, String, Table, Text, select, update
from sqlalchemy.dialects import postgresql, sqlite

from seamline.store.state import as_utc, metadata

profiles_sync_graph = Table(
    "profiles_sync_graph",
    metadata,
    Column("target", String(200), primary_key=True),
    Column("profile_id", String(64), primary_key=True),
    Column("workspace_id", String(64), nullable=False),
    Column("canonical_id", String(64), nullable=False),
)

profiles_sync_ids = Table(
    "profiles_sync_ids",
    metadata,
    Column("target", String(200), primary_key=True),
    Column("type", String(100), primary_key=True),
    Column("value", String(1000), primary_key=True),
    Column("profile_id", String(64), nullable=False),
)

profiles_sync_traits = Table(
    "profiles_sync_traits",
    metadata,
    Column("target", String(200), primary_key=True),
    Column("profile_id", String(64), primary_key=True),
    Column("name", String(300), primary_key=True),
    Column("updated_at", DateTime(timezone=True), nullable=False),
)

profiles_sync_runs = Table(
    "profiles_sync_runs",
    metadata,
    Column("target", String(200), primary_key=True),
    Column("workspace_id", String(64), nullable=False),
    Column("claimed_until", DateTime(timezone=True), nullable=True),
    Column("finished_at", DateTime(timezone=True), nullable=True),
    Column("status", String(20), nullable=True),
    Column("counts", JSON, nullable=True),
    Column("error", Text, nullable=True),
)


class SqlProfilesSyncRuns:
    """Claims (so one process syncs a target at a time) and each target's last run."""

    def __init__(self, engine: Engine) -> None:
        self._engine = engine
        self._insert = postgresql.insert if engine.dialect.name == "postgresql" else sqlite.insert

    def claim(self, target: str, workspace_id: str, now: datetime, until: datetime) -> bool:
        """Take the target until `until` unless another process holds it past `now`."""
        with self._engine.begin() as conn:
            conn.execute(
                self._insert(profiles_sync_runs)
                .values(target=target, workspace_id=workspace_id)
                .on_conflict_do_nothing()
            )
            taken = conn.execute(
                update(profiles_sync_runs)
                .where(
                    profiles_sync_runs.c.target == target,
                    (profiles_sync_runs.c.claimed_until.is_(None))
                    | (profiles_sync_runs.c.claimed_until < now),
                )
                .values(claimed_until=until)
            )
            return taken.rowcount == 1

    def finish(
        self, target: str, now: datetime, status: str, counts: dict[str, int], error: str | None
    ) -> None:
        with self._engine.begin() as conn:
            conn.execute(
                update(profiles_sync_runs)
                .where(profiles_sync_runs.c.target == target)
                .values(
                    claimed_until=None, finished_at=now, status=status, counts=counts, error=error
                )
            )

    def last(self, target: str) -> dict[str, object] | None:
        """The target's last run: finished_at, status, counts, error."""
        with self._engine.connect() as conn:
            row = conn.execute(
                select(profiles_sync_runs).where(profiles_sync_runs.c.target == target)
            ).first()
        if row is None or row.finished_at is None:
            return None
        return {
            "finished_at": as_utc(row.finished_at),
            "status": row.status,
            "counts": row.counts,
            "error": row.error,
        }
