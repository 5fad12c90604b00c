"""Replay the log's identifiers through the resolver into a throwaway identity graph.

The preview of new identity rules (`identity_preview`) needs the graph those rules would have
built from the same history, without touching the live one: this module reads the local log
in log order, up to the offsets the live pipeline has committed, and resolves each message of
one workspace with `ResolveIdentities`, the live pipeline's own identity stage, into a
temporary SQLite file. Memory stays bounded by one batch; the graph lives on disk.
"""

from __future__ import annotations

import tempfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import msgspec
from sqlalchemy import Engine, create_engine, event, insert, select

from seamline.config import Settings
from seamline.data_dir import DataDir
from seamline.errors import InvalidInput
from seamline.identity.rules import IdentityRules
from seamline.log.base import position
from seamline.log.partitions import LocalPartitions
from seamline.pipeline.identity_stage import ResolveIdentities
from seamline.pipeline.runner import CONSUMER, decode_record
from seamline.spec.envelope import Item
from seamline.store.identity_sql import SqlIdentityGraph
from seamline.store.state import identities, merges, metadata, profiles, separations

Progress = Callable[[str, int, int], None]
"""(phase, done, total)."""

GRAPH_TABLES = (profiles, identities, merges, separations)
READ_RECORDS = 1000
"""Log records read from one partition at a time (each holds one request's messages)."""


def refuse_unless_local_log(settings: Settings) -> None:
    """Replaying reads the local log; a JetStream log (`log_url`) is not supported yet."""
    if settings.log_url:
        raise InvalidInput(
            "replaying identity history reads the local log; with log_url (JetStream) it is "
            "not supported yet"
        )


def committed_offsets(settings: Settings) -> dict[int, int]:
    """The live pipeline's committed offset of every partition of the local log."""
    log = LocalPartitions(DataDir(settings.data_dir).log, fsync=False)
    try:
        return {p: log.committed_sync(CONSUMER, p) for p in log.partitions_sync()}
    finally:
        log.close_sync()


def _fast_sqlite(connection: Any, _record: object) -> None:
    # A throwaway file: a crash loses nothing worth keeping, so skip the journal's fsyncs.
    cursor = connection.cursor()
    cursor.execute("PRAGMA journal_mode=OFF")
    cursor.execute("PRAGMA synchronous=OFF")
    cursor.close()


@contextmanager
def scratch_graph() -> Iterator[Engine]:
    """An empty identity graph in a temporary SQLite file, removed afterwards."""
    with tempfile.TemporaryDirectory(prefix="seamline-identity-") as directory:
        engine = create_engine(
            f"sqlite:///{Path(directory) / 'graph.db'}",
            json_serializer=lambda value: msgspec.json.encode(value).decode(),
            json_deserializer=msgspec.json.decode,
        )
        event.listen(engine, "connect", _fast_sqlite)
        try:
            metadata.create_all(engine, tables=list(GRAPH_TABLES))
            yield engine
        finally:
            engine.dispose()


def copy_separations(live: Engine, scratch: Engine, workspace_id: str) -> int:
    """Copy the workspace's separations (unmerges): the replay never joins them again."""
    with live.connect() as conn:
        rows = [
            dict(row._mapping)
            for row in conn.execute(
                select(separations).where(separations.c.workspace_id == workspace_id)
            )
        ]
    if rows:
        with scratch.begin() as conn:
            conn.execute(insert(separations), rows)
    return len(rows)


def replay_identifiers(
    settings: Settings,
    scratch: Engine,
    rules: IdentityRules,
    workspace_id: str,
    bounds: dict[int, int],
    on_progress: Progress,
) -> int:
    """Resolve every message of `workspace_id` in the log below `bounds` into `scratch`, in
    batches of the pipeline's size, partitions interleaved; returns the messages resolved."""
    stage = ResolveIdentities(SqlIdentityGraph(scratch), rules)
    total = sum(bounds.values())
    read = resolved = 0
    batch: list[Item] = []
    log = LocalPartitions(DataDir(settings.data_dir).log, fsync=False)
    try:
        at = dict.fromkeys(bounds, 0)
        while any(at[p] < end for p, end in bounds.items()):
            for partition, end in bounds.items():
                if at[partition] >= end:
                    continue
                records = log.read_sync(
                    partition, at[partition], min(READ_RECORDS, end - at[partition])
                )
                if not records:  # erased below the bound: nothing more to read there
                    at[partition] = end
                    continue
                for record in records:
                    for index, envelope in enumerate(_decoded(record.payload)):
                        if envelope.workspace_id == workspace_id:
                            batch.append(Item(position(partition, record.offset, index), envelope))
                at[partition] = records[-1].offset + 1
                read += len(records)
                if len(batch) >= settings.pipeline_batch_size:
                    stage(batch)
                    resolved += len(batch)
                    batch = []
                on_progress("replay", read, total)
        if batch:
            stage(batch)
            resolved += len(batch)
        on_progress("replay", total, total)
        return resolved
    finally:
        log.close_sync()


def _decoded(payload: bytes) -> list[Any]:
    # A record the live pipeline could not decode was held there; it resolved nothing.
    try:
        return decode_record(payload)
    except (msgspec.DecodeError, msgspec.ValidationError):
        return []
