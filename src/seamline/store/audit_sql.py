"""The audit trail in the state store: one hash chain for every process that writes to it.

Appends are serialised on the head row: the first statement of an append's transaction is an
UPDATE of that row, which takes SQLite's write lock (other writers wait for the busy timeout)
and PostgreSQL's row lock (other appenders wait, then see the committed head). So collect
workers, the pipeline and CLI commands all extend one chain without gaps or forks.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import msgspec
from sqlalchemy import Engine, or_, select, update

from seamline.errors import SeamlineError
from seamline.store.audit_chain import (
    AuditEntry,
    AuditFilter,
    StoredEntry,
    Verdict,
    chain_hash,
    decode_entry,
    filter_columns,
    payload_of,
    verify_chain,
)
from seamline.store.state import audit_head, audit_trail

_HEAD = 1
_PAGE = 1000


class AuditHeadMissing(SeamlineError):
    """The chain's head row is gone: the trail was tampered with; nothing more is appended."""

    code = "audit_head_missing"
    status = 500


class SqlAuditTrail:
    """`AuditTrail` over SQLAlchemy Core, on SQLite or PostgreSQL."""

    def __init__(self, engine: Engine, *, page: int = _PAGE) -> None:
        self._engine = engine
        self._page = page  # rows a read of `verify` fetches at once

    def append(self, entry: AuditEntry) -> AuditEntry:
        with self._engine.begin() as conn:
            head = conn.execute(
                update(audit_head)
                .where(audit_head.c.id == _HEAD)
                .values(seq=audit_head.c.seq + 1)
                .returning(audit_head.c.seq, audit_head.c.hash)
            ).first()
            if head is None:
                raise AuditHeadMissing(
                    "the audit trail's head row is missing, so no entry can be chained; "
                    "see `seamline audit verify`"
                )
            seq, prev_hash = int(head.seq), str(head.hash)
            stored = msgspec.structs.replace(entry, seq=seq)
            payload = payload_of(stored)
            digest = chain_hash(prev_hash, payload)
            conn.execute(
                audit_trail.insert().values(
                    seq=seq,
                    at=stored.at,
                    payload=payload,
                    prev_hash=prev_hash,
                    hash=digest,
                    **filter_columns(stored),
                )
            )
            conn.execute(update(audit_head).where(audit_head.c.id == _HEAD).values(hash=digest))
        return stored

    def entries(
        self, workspace_id: str, where: AuditFilter, *, limit: int, before_seq: int | None
    ) -> list[AuditEntry]:
        table = audit_trail
        query = select(table.c.payload).where(table.c.workspace_id == workspace_id)
        if where.actor is not None:
            query = query.where(
                or_(table.c.actor_id == where.actor, table.c.actor_name == where.actor)
            )
        for column, value in (
            (table.c.action, where.action),
            (table.c.resource_type, where.resource_type),
            (table.c.resource_id, where.resource_id),
        ):
            if value is not None:
                query = query.where(column == value)
        if where.since is not None:
            query = query.where(table.c.at >= where.since)
        if where.until is not None:
            query = query.where(table.c.at < where.until)
        if before_seq is not None:
            query = query.where(table.c.seq < before_seq)
        query = query.order_by(table.c.seq.desc()).limit(limit)
        with self._engine.connect() as conn:
            return [decode_entry(payload) for (payload,) in conn.execute(query)]

    def verify(self) -> Verdict:
        # The head first: every row up to its seq was committed with it (row and head are
        # written in one transaction), so appends running meanwhile are not mistaken for damage.
        with self._engine.connect() as conn:
            row = conn.execute(
                select(audit_head.c.seq, audit_head.c.hash).where(audit_head.c.id == _HEAD)
            ).first()
        head = None if row is None else (int(row.seq), str(row.hash))
        return verify_chain(self._rows(None if head is None else head[0]), head)

    def _rows(self, through: int | None) -> Iterator[StoredEntry]:
        after = 0
        while True:
            query = select(audit_trail).where(audit_trail.c.seq > after)
            if through is not None:
                query = query.where(audit_trail.c.seq <= through)
            query = query.order_by(audit_trail.c.seq).limit(self._page)
            with self._engine.connect() as conn:
                page = conn.execute(query).all()
            for found in page:
                yield _stored(found._mapping)
            if len(page) < self._page:
                return
            after = int(page[-1].seq)


def _stored(row: Any) -> StoredEntry:
    columns = dict(row)
    return StoredEntry(
        seq=int(columns.pop("seq")),
        payload=columns.pop("payload"),
        prev_hash=columns.pop("prev_hash"),
        hash=columns.pop("hash"),
        columns=columns,
    )
