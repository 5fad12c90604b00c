"""Retention in the state store: each workspace's setting and the expiry job's runs.

No row in `workspace_retention` means `unlimited`. Every run is kept (one row an hour: small),
so `/metrics` can show totals over every run, whichever process made it (the pipeline's
periodic job or `seamline retention expire`).
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any, NamedTuple

from sqlalchemy import Engine, delete, func, insert, select, update

from seamline.store.state import as_utc, partition_leases, retention_runs, workspace_retention

UNLIMITED = "unlimited"


class Expired(NamedTuple):
    """What one run of the expiry job removed, and the cutoff it applied per workspace."""

    ran_at: datetime
    cutoffs: dict[str, datetime]
    log_records: int = 0
    log_segments: int = 0
    events: int = 0
    event_files: int = 0

    def as_json(self) -> dict[str, Any]:
        return {
            "ran_at": self.ran_at.isoformat(),
            "cutoffs": {w: c.isoformat() for w, c in self.cutoffs.items()},
            "log_records": self.log_records,
            "log_segments": self.log_segments,
            "events": self.events,
            "event_files": self.event_files,
        }


class Totals(NamedTuple):
    """Sums over every run, and when the last one ran (None: never)."""

    runs: int
    log_records: int
    log_segments: int
    events: int
    event_files: int
    last_run: datetime | None


class SqlRetention:
    """`RetentionStore` on SQLite or PostgreSQL."""

    def __init__(self, engine: Engine) -> None:
        self._engine = engine

    def setting(self, workspace_id: str) -> str:
        with self._engine.connect() as conn:
            found = conn.execute(
                select(workspace_retention.c.retention).where(
                    workspace_retention.c.workspace_id == workspace_id
                )
            ).scalar()
        return UNLIMITED if found is None else str(found)

    def set(self, workspace_id: str, retention: str) -> None:
        now = datetime.now(UTC)
        with self._engine.begin() as conn:
            if retention == UNLIMITED:
                conn.execute(
                    delete(workspace_retention).where(
                        workspace_retention.c.workspace_id == workspace_id
                    )
                )
                return
            changed = conn.execute(
                update(workspace_retention)
                .where(workspace_retention.c.workspace_id == workspace_id)
                .values(retention=retention, updated_at=now)
            ).rowcount
            if not changed:
                conn.execute(
                    insert(workspace_retention).values(
                        workspace_id=workspace_id, retention=retention, updated_at=now
                    )
                )

    def settings(self) -> dict[str, str]:
        with self._engine.connect() as conn:
            rows = conn.execute(
                select(workspace_retention.c.workspace_id, workspace_retention.c.retention)
            ).all()
        return {str(w): str(r) for w, r in rows}

    def record(self, run: Expired) -> None:
        with self._engine.begin() as conn:
            conn.execute(
                insert(retention_runs).values(
                    ran_at=run.ran_at,
                    cutoffs={w: c.isoformat() for w, c in run.cutoffs.items()},
                    log_records=run.log_records,
                    log_segments=run.log_segments,
                    events=run.events,
                    event_files=run.event_files,
                )
            )

    def last_run(self) -> Expired | None:
        with self._engine.connect() as conn:
            row = conn.execute(
                select(retention_runs).order_by(retention_runs.c.id.desc()).limit(1)
            ).first()
        if row is None:
            return None
        return Expired(
            as_utc(row.ran_at),
            {w: datetime.fromisoformat(c) for w, c in row.cutoffs.items()},
            int(row.log_records),
            int(row.log_segments),
            int(row.events),
            int(row.event_files),
        )

    def workers_leasing(self, now: datetime) -> int:
        """Pipeline workers holding a partition lease of the JetStream log at `now`: they run
        the expiry themselves, each over its partitions."""
        with self._engine.connect() as conn:
            found = conn.execute(
                select(func.count(func.distinct(partition_leases.c.owner))).where(
                    partition_leases.c.expires_at > now
                )
            ).scalar_one()
        return int(found)

    def totals(self) -> Totals:
        c = retention_runs.c
        with self._engine.connect() as conn:
            row = conn.execute(
                select(
                    func.count(),
                    func.coalesce(func.sum(c.log_records), 0),
                    func.coalesce(func.sum(c.log_segments), 0),
                    func.coalesce(func.sum(c.events), 0),
                    func.coalesce(func.sum(c.event_files), 0),
                    func.max(c.ran_at),
                )
            ).one()
        last = None if row[5] is None else as_utc(row[5])
        return Totals(int(row[0]), int(row[1]), int(row[2]), int(row[3]), int(row[4]), last)
