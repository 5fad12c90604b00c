"""Reverse ETL's state in the state store: each model's claim and snapshot generation, the
records each of its subscriptions last sent, and its runs.

A run claims its model (compare-and-set on `claimed_until`, so two processes never run one
model at once; a crashed runner's claim expires), reads the snapshot, queues the changes and
then `advance`s the snapshot in one transaction that also moves the generation on, only if
the claim is still its own.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Engine, RowMapping, and_, delete, insert, or_, select, update
from sqlalchemy.dialects import postgresql, sqlite

from seamline.store.state import as_utc, reverse_etl_models, reverse_etl_records, reverse_etl_runs

_BATCH = 5_000
"""Rows per executemany: bounded statements, and big inserts still go at full speed."""


@dataclass(frozen=True)
class Claim:
    """A model held by one runner until `until`: its snapshot generation and primary key."""

    workspace_id: str
    model: str
    owner: str
    generation: int
    key_column: str | None


@dataclass
class SubscriptionChanges:
    """What one subscription's snapshot becomes: records to set (id → checksum), ids to drop."""

    put: dict[str, str] = field(default_factory=dict)
    drop: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class RunRecord:
    id: int
    model: str
    trigger: str
    status: str
    started_at: datetime
    finished_at: datetime | None
    rows_read: int
    added: int
    updated: int
    deleted: int
    queued: int
    subscriptions: dict[str, Any] | None
    error: str | None

    def as_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "model": self.model,
            "trigger": self.trigger,
            "status": self.status,
            "started_at": self.started_at.isoformat(),
            "finished_at": self.finished_at.isoformat() if self.finished_at else None,
            "rows_read": self.rows_read,
            "added": self.added,
            "updated": self.updated,
            "deleted": self.deleted,
            "queued": self.queued,
            "subscriptions": self.subscriptions or {},
            "error": self.error,
        }


class SqlModelState:
    def __init__(self, engine: Engine) -> None:
        self._engine = engine
        self._insert = postgresql.insert if engine.dialect.name == "postgresql" else sqlite.insert

    # --- claims -----------------------------------------------------------------------------

    def claim(
        self, workspace_id: str, model: str, owner: str, now: datetime, hold: timedelta
    ) -> Claim | None:
        """Take the model until now + hold unless another runner holds it; None then."""
        table = reverse_etl_models
        key = and_(table.c.workspace_id == workspace_id, table.c.model == model)
        with self._engine.begin() as conn:
            conn.execute(
                self._insert(table)
                .values(workspace_id=workspace_id, model=model, generation=0, created_at=now)
                .on_conflict_do_nothing()
            )
            taken = conn.execute(
                update(table)
                .where(key, or_(table.c.claimed_until.is_(None), table.c.claimed_until < now))
                .values(claimed_by=owner, claimed_until=now + hold, last_started_at=now)
            ).rowcount
            if taken != 1:
                return None
            row = conn.execute(select(table.c.generation, table.c.key_column).where(key)).one()
        return Claim(workspace_id, model, owner, int(row.generation), row.key_column)

    def renew(self, claim: Claim, until: datetime) -> bool:
        """Hold the model longer; False if the claim was lost (expired and taken)."""
        with self._engine.begin() as conn:
            return (
                conn.execute(
                    update(reverse_etl_models).where(*_mine(claim)).values(claimed_until=until)
                ).rowcount
                == 1
            )

    def release(self, claim: Claim) -> None:
        with self._engine.begin() as conn:
            conn.execute(
                update(reverse_etl_models)
                .where(*_mine(claim))
                .values(claimed_by=None, claimed_until=None)
            )

    def schedule_state(self, workspace_id: str) -> dict[str, tuple[datetime, datetime | None]]:
        """Per model seen: (first seen, last started)."""
        table = reverse_etl_models
        with self._engine.connect() as conn:
            rows = conn.execute(
                select(table.c.model, table.c.created_at, table.c.last_started_at).where(
                    table.c.workspace_id == workspace_id
                )
            ).all()
        return {r.model: (as_utc(r.created_at), _maybe_utc(r.last_started_at)) for r in rows}

    def seen(self, workspace_id: str, model: str, now: datetime) -> None:
        """Note a model the scheduler found (a cron schedule counts from then)."""
        with self._engine.begin() as conn:
            conn.execute(
                self._insert(reverse_etl_models)
                .values(workspace_id=workspace_id, model=model, generation=0, created_at=now)
                .on_conflict_do_nothing()
            )

    def last_started(self, workspace_id: str, model: str) -> datetime | None:
        table = reverse_etl_runs
        with self._engine.connect() as conn:
            found = conn.execute(
                select(table.c.started_at)
                .where(table.c.workspace_id == workspace_id, table.c.model == model)
                .order_by(table.c.id.desc())
                .limit(1)
            ).scalar()
        return as_utc(found) if found is not None else None

    # --- snapshots --------------------------------------------------------------------------

    def snapshot(self, workspace_id: str, model: str, subscription: str) -> dict[str, str]:
        """Record id → checksum, as the subscription last sent them."""
        table = reverse_etl_records
        with self._engine.connect() as conn:
            rows = conn.execute(
                select(table.c.record_id, table.c.checksum).where(
                    table.c.workspace_id == workspace_id,
                    table.c.model == model,
                    table.c.subscription == subscription,
                )
            )
            return {record_id: checksum for record_id, checksum in rows}

    def advance(
        self,
        claim: Claim,
        key_column: str,
        changes: Mapping[str, SubscriptionChanges],
        keep: Iterable[str],
    ) -> bool:
        """Apply each subscription's changes, forget subscriptions not in `keep` (and all the
        records when the primary key changed), and move the generation on — all or nothing,
        and only while the claim holds. Whether it did."""
        records = reverse_etl_records
        where = (records.c.workspace_id == claim.workspace_id, records.c.model == claim.model)
        with self._engine.begin() as conn:
            moved = conn.execute(
                update(reverse_etl_models)
                .where(*_mine(claim), reverse_etl_models.c.generation == claim.generation)
                .values(generation=claim.generation + 1, key_column=key_column)
            ).rowcount
            if moved != 1:
                conn.rollback()
                return False
            if claim.key_column != key_column:
                conn.execute(delete(records).where(*where))
            conn.execute(delete(records).where(*where, records.c.subscription.notin_(list(keep))))
            for subscription, change in changes.items():
                mine = (*where, records.c.subscription == subscription)
                for start in range(0, len(change.drop), _BATCH):
                    chunk = change.drop[start : start + _BATCH]
                    conn.execute(delete(records).where(*mine, records.c.record_id.in_(chunk)))
                rows = [
                    {
                        "workspace_id": claim.workspace_id,
                        "model": claim.model,
                        "subscription": subscription,
                        "record_id": record_id,
                        "checksum": checksum,
                    }
                    for record_id, checksum in change.put.items()
                ]
                upsert = self._insert(records)
                upsert = upsert.on_conflict_do_update(
                    index_elements=[c.name for c in records.primary_key],
                    set_={"checksum": upsert.excluded.checksum},
                )
                for start in range(0, len(rows), _BATCH):
                    conn.execute(upsert, rows[start : start + _BATCH])
        return True

    # --- runs -------------------------------------------------------------------------------

    def start_run(self, workspace_id: str, model: str, trigger: str, now: datetime) -> int:
        """Record a run as started (under the model's claim: a run of it still `running` was
        cut short by its process's death, and is marked failed)."""
        runs = reverse_etl_runs
        with self._engine.begin() as conn:
            conn.execute(
                update(runs)
                .where(
                    runs.c.workspace_id == workspace_id,
                    runs.c.model == model,
                    runs.c.status == "running",
                )
                .values(
                    status="failed",
                    finished_at=now,
                    error="interrupted: its process stopped before the run ended",
                )
            )
            created = conn.execute(
                insert(reverse_etl_runs)
                .values(
                    workspace_id=workspace_id,
                    model=model,
                    trigger=trigger,
                    status="running",
                    started_at=now,
                    rows_read=0,
                    added=0,
                    updated=0,
                    deleted=0,
                    queued=0,
                )
                .returning(reverse_etl_runs.c.id)
            ).scalar_one()
        return int(created)

    def finish_run(self, run_id: int, now: datetime, status: str, **counts: Any) -> None:
        with self._engine.begin() as conn:
            conn.execute(
                update(reverse_etl_runs)
                .where(reverse_etl_runs.c.id == run_id)
                .values(status=status, finished_at=now, **counts)
            )

    def runs(self, workspace_id: str, model: str | None = None, limit: int = 50) -> list[RunRecord]:
        """The newest runs first (of one model, or of all)."""
        table = reverse_etl_runs
        query = select(table).where(table.c.workspace_id == workspace_id)
        if model is not None:
            query = query.where(table.c.model == model)
        with self._engine.connect() as conn:
            rows = conn.execute(query.order_by(table.c.id.desc()).limit(limit)).all()
        return [_run(row._mapping) for row in rows]

    def forget(self, workspace_id: str, models: Sequence[str]) -> None:
        """Drop the state of deleted models (their runs stay, as history)."""
        if not models:
            return
        with self._engine.begin() as conn:
            for table in (reverse_etl_records, reverse_etl_models):
                conn.execute(
                    delete(table).where(
                        table.c.workspace_id == workspace_id, table.c.model.in_(list(models))
                    )
                )


def _maybe_utc(value: datetime | None) -> datetime | None:
    return as_utc(value) if value is not None else None


def _mine(claim: Claim) -> tuple[Any, ...]:
    table = reverse_etl_models
    return (
        table.c.workspace_id == claim.workspace_id,
        table.c.model == claim.model,
        table.c.claimed_by == claim.owner,
    )


def _run(row: RowMapping) -> RunRecord:
    return RunRecord(
        id=int(row["id"]),
        model=row["model"],
        trigger=row["trigger"],
        status=row["status"],
        started_at=as_utc(row["started_at"]),
        finished_at=as_utc(row["finished_at"]) if row["finished_at"] else None,
        rows_read=int(row["rows_read"]),
        added=int(row["added"]),
        updated=int(row["updated"]),
        deleted=int(row["deleted"]),
        queued=int(row["queued"]),
        subscriptions=row["subscriptions"],
        error=row["error"],
    )
