"""Probabilistic matching's runs: each workspace's claim and last outcome, the model it trained,
and every person's evidence digest as the last run read it (see ops/identity_matching.py)."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import (
    JSON,
    Column,
    DateTime,
    Engine,
    String,
    Table,
    Text,
    delete,
    insert,
    or_,
    select,
    update,
)

from seamline.store.state import as_utc, metadata

identity_match_records = Table(
    "identity_match_records",
    metadata,
    Column("workspace_id", String(64), primary_key=True),
    Column("profile_id", String(64), primary_key=True),
    Column("digest", String(64), nullable=False),
)

identity_matching_runs = Table(
    "identity_matching_runs",
    metadata,
    Column("workspace_id", String(64), primary_key=True),
    Column("claimed_until", DateTime(timezone=True), nullable=True),
    Column("finished_at", DateTime(timezone=True), nullable=True),
    Column("status", String(20), nullable=True),
    Column("counts", JSON, nullable=True),
    Column("error", Text, nullable=True),
    # {"trained_for": fingerprint, "records": n, "model": the engine's TrainedModel as JSON}
    Column("model", JSON, nullable=True),
)


class SqlMatchingRuns:
    """Runs, models and digests of probabilistic matching (SQLite or PostgreSQL)."""

    def __init__(self, engine: Engine) -> None:
        self._engine = engine

    def digests(self, workspace_id: str) -> dict[str, str]:
        r = identity_match_records.c
        with self._engine.connect() as conn:
            rows = conn.execute(
                select(r.profile_id, r.digest).where(r.workspace_id == workspace_id)
            )
            return {str(pid): str(found) for pid, found in rows}

    def save_digests(self, workspace_id: str, digests: Mapping[str, str]) -> None:
        """Replace the workspace's digests by `digests` (every current record's)."""
        r = identity_match_records.c
        with self._engine.begin() as conn:
            conn.execute(delete(identity_match_records).where(r.workspace_id == workspace_id))
            if digests:
                conn.execute(
                    insert(identity_match_records),
                    [
                        {"workspace_id": workspace_id, "profile_id": pid, "digest": found}
                        for pid, found in digests.items()
                    ],
                )

    # Runs

    def claim(self, workspace_id: str, now: datetime, until: datetime) -> bool:
        """Take the workspace's run until `until` unless another process holds it."""
        r = identity_matching_runs.c
        with self._engine.begin() as conn:
            exists = conn.execute(select(r.workspace_id).where(r.workspace_id == workspace_id))
            if exists.first() is None:
                conn.execute(insert(identity_matching_runs).values(workspace_id=workspace_id))
            taken = conn.execute(
                update(identity_matching_runs)
                .where(
                    r.workspace_id == workspace_id,
                    or_(r.claimed_until.is_(None), r.claimed_until < now),
                )
                .values(claimed_until=until)
            )
            return bool(taken.rowcount)

    def finish(
        self,
        workspace_id: str,
        at: datetime,
        status: str,
        counts: Mapping[str, Any],
        error: str | None,
    ) -> None:
        r = identity_matching_runs.c
        with self._engine.begin() as conn:
            conn.execute(
                update(identity_matching_runs)
                .where(r.workspace_id == workspace_id)
                .values(
                    claimed_until=None,
                    finished_at=at,
                    status=status,
                    counts=dict(counts),
                    error=error,
                )
            )

    def model(self, workspace_id: str) -> dict[str, Any] | None:
        """The model the last training saved: `{trained_for, records, model}`."""
        r = identity_matching_runs.c
        with self._engine.connect() as conn:
            found = conn.execute(select(r.model).where(r.workspace_id == workspace_id)).scalar()
        return dict(found) if isinstance(found, dict) else None

    def save_model(self, workspace_id: str, saved: Mapping[str, Any]) -> None:
        """Keep a trained model for the next runs, in any process (the run row exists: a run
        claimed it)."""
        r = identity_matching_runs.c
        with self._engine.begin() as conn:
            conn.execute(
                update(identity_matching_runs)
                .where(r.workspace_id == workspace_id)
                .values(model=dict(saved))
            )

    def last_run(self, workspace_id: str) -> dict[str, Any] | None:
        """The last run's outcome: `{finished_at, status, counts, error, running}`."""
        r = identity_matching_runs.c
        with self._engine.connect() as conn:
            row = conn.execute(
                select(identity_matching_runs).where(r.workspace_id == workspace_id)
            ).first()
        if row is None:
            return None
        return {
            "finished_at": None if row.finished_at is None else as_utc(row.finished_at).isoformat(),
            "status": row.status,
            "counts": row.counts or {},
            "error": row.error,
            # A claim past its time was left by a process that died: nothing runs.
            "running": row.claimed_until is not None
            and as_utc(row.claimed_until) > datetime.now(UTC),
        }
