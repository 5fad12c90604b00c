"""Rewriting event-store files without some of their rows: erasing a person, expiring history.

`rewrite_where` reads each given file once to find the rows a DuckDB condition drops; a file
with none is left alone, a file with only such rows is retired without a copy, and every other
file is copied without them, sorted and cut into row groups with a Bloom filter as compaction
writes its files. All the swaps go into the catalog in one transaction (a reader lists the old
files or the new ones), and then the replaced files are unlinked at once, with every file an
earlier compaction retired: those still hold the dropped rows too. That is where erasure
differs from compaction, which leaves replaced files for a grace period: a query that listed
an old file just before gets an IO error and lists again (`LakeEventStore._rows` retries once),
which is the price of the bytes being gone when the call returns.

Run it with no pipeline writing or compacting the lake in another process (the regulation
engine pauses the pipeline): the lake's rewrite lock excludes only this process's compactor.
"""

from __future__ import annotations

import secrets
from collections.abc import Callable, Collection, Mapping, Sequence
from datetime import timedelta

import msgspec
import pyarrow as pa

from seamline.store.event_files import EventFile
from seamline.store.events_lake import _BY_PROFILE, PROFILE_ORDER, SORTED, LakeEventStore
from seamline.store.profile_filter import ProfileHashes
from seamline.store.subject_keys import SubjectKeys


class Rewrite(msgspec.Struct, kw_only=True):
    """What a rewrite did: files read, copied and removed, rows dropped, and the messageIds of
    the dropped rows (the dedup store and the state store erase by them)."""

    files_read: int = 0
    files_rewritten: int = 0
    files_removed: int = 0
    rows_dropped: int = 0
    message_ids: list[str] = msgspec.field(default_factory=list)


def rewrite_where(
    store: LakeEventStore,
    files: Sequence[EventFile] | Callable[[], Sequence[EventFile]],
    drop: str,
    tables: Mapping[str, pa.Table] | None = None,
    *,
    grace: timedelta = timedelta(0),
) -> Rewrite:
    """Drop from `files` every row for which the DuckDB condition `drop` is true (a NULL
    counts as false), and unlink the replaced files and every file retired more than `grace`
    ago. `drop` reads the file's columns (`event_rows.COLUMNS`) and may name the Arrow
    `tables`, registered for the call: values to match are passed that way, not quoted in.
    `files` may be a function, called under the rewrite lock: a compaction that ran between
    listing and rewriting would otherwise have copied the rows into a file not listed."""
    done = Rewrite()
    keep = f"NOT coalesce(({drop}), false)"
    dropped = f"coalesce(({drop}), false)"
    retired: list[EventFile] = []
    added: list[EventFile] = []
    with store._rewriting:  # compaction in this process waits; it would copy the rows back
        if callable(files):
            files = files()
        connection = store._rewriter
        for name, table in (tables or {}).items():
            connection.register(name, table)
        try:
            for file in files:
                source = f"read_parquet({store._quoted(file.path)})"
                done.files_read += 1
                found = connection.execute(
                    f"SELECT message_id FROM {source} WHERE {dropped}"
                ).fetchall()
                if not found:
                    continue
                done.rows_dropped += len(found)
                done.message_ids.extend(str(row[0]) for row in found)
                retired.append(file)
                if len(found) >= file.rows:
                    done.files_removed += 1
                    continue
                copy = _copy_without(store, file, source, keep)
                added.append(store._with_filter(copy))
                done.files_rewritten += 1
        except BaseException:
            # Nothing was swapped: the copies written so far are listed nowhere.
            store.files.delete([f.path for f in added])
            raise
        finally:
            for name in tables or {}:
                connection.unregister(name)
        if retired:
            store.catalog.replace(retired, added)
            gone = [f.path for f in retired]
            store.files.delete(gone)
            store.catalog.forget(gone)
        # Files an earlier compaction replaced are still on disk for its grace period: they
        # hold the dropped rows as well.
        store.collect_garbage(grace)
    return done


def _copy_without(store: LakeEventStore, file: EventFile, source: str, keep: str) -> EventFile:
    """Write the rows of `file` that `keep` holds to a new file, as compaction writes files."""
    connection = store._rewriter
    rows, first, last = connection.execute(
        f"SELECT count(*), min(log_offset), max(log_offset) FROM {source} WHERE {keep}"
    ).fetchall()[0]
    name = f"{file.partition}/{int(first):019d}-{secrets.token_hex(4)}.parquet"
    size = store._copy(
        connection, f"SELECT * FROM {source} WHERE {keep} {_BY_PROFILE}", name, SORTED
    )
    return EventFile(0, name, file.partition, int(first), int(last), int(rows), size, PROFILE_ORDER)


# --- one person -------------------------------------------------------------------------------

_PERSON_TABLES = ("erase_profiles", "erase_users", "erase_anonymous")
PERSON_ROWS = (
    "workspace_id = $workspace AND (profile_id IN (SELECT v FROM erase_profiles)"
    " OR trim(user_id) IN (SELECT v FROM erase_users)"
    " OR trim(anonymous_id) IN (SELECT v FROM erase_anonymous)"
    " OR (type = 'alias' AND trim(previous_id) IN (SELECT v FROM erase_anonymous)))"
)
"""A person's rows: their profiles' rows, and rows carrying their userId or anonymousId (as
identity normalises them: trimmed) whatever profile they were resolved to, or none."""


def person_condition(person: SubjectKeys) -> tuple[str, dict[str, pa.Table]]:
    """The `drop` condition and tables of `rewrite_where` for this person's rows."""
    values = (sorted(person.profile_ids), person.user_ids, person.anonymous_ids)
    tables = {
        name: pa.table({"v": pa.array(v, pa.string())})
        for name, v in zip(_PERSON_TABLES, values, strict=True)
    }
    workspace = "'" + person.workspace_id.replace("'", "''") + "'"
    return PERSON_ROWS.replace("$workspace", workspace), tables


def candidate_files(store: LakeEventStore, person: SubjectKeys) -> list[EventFile]:
    """The live files that may hold the person's rows: every file whose profile filter may
    hold one of their profile ids, and every file without a filter (the pipeline's batches).

    A filtered file is also read when the person has ids but no profile: a message nobody
    resolved to a profile is in no filter."""
    live = store.catalog.live()
    if not person.profile_ids:
        return live
    filters = store.catalog.profile_filters([f.id for f in live])
    cursor = store._reader.cursor()
    try:
        hashes = ProfileHashes(cursor, sorted(person.profile_ids), store._hash_check)
    finally:
        cursor.close()
    return [f for f in live if hashes.may_be_in(filters.get(f.id))]


def erase_person(
    store: LakeEventStore, person: SubjectKeys, *, every_file: bool = False
) -> Rewrite:
    """Remove every row of `person` from the lake, bytes included (see the module); the
    messageIds removed come back in the result. `every_file` reads every live file, not only
    those the profile filters point at: rows of the person stored without a profile id (an
    identifier identity resolution blocked) are found only so."""
    drop, tables = person_condition(person)
    return rewrite_where(
        store,
        store.catalog.live if every_file else lambda: candidate_files(store, person),
        drop,
        tables,
    )


def erased_ids(rewrites: Collection[Rewrite]) -> set[str]:
    """The messageIds several rewrites dropped."""
    return {message_id for rewrite in rewrites for message_id in rewrite.message_ids}
