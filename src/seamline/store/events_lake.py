"""The event store: Parquet files in a directory, listed in a catalog in the state store.

Why not one DuckDB database file: a second process cannot open it, not even read-only, while
the pipeline writes, so the CLI, the APIs and Engage would all have to live in the pipeline's
process. Here the pipeline writes one Parquet file per batch (appearing whole: see
`lake_files`), on local disk or S3, and lists it in the catalog; any number of processes read
the listed files through DuckDB. Small files are merged in the background; a replaced file is
deleted only after a grace period, so a query that listed it just before still reads it.

One profile's history (`events_of`, the Profile API) is found in two steps, both over the
files' own content, so no second copy of the events exists and nothing is added to the
pipeline's writes (its batch files are written as before):
- files: every file the lake writes itself (merges, rewrites, loads) gets a Bloom filter of its
  profile ids in the catalog (`profile_filter`); a query reads only the files that may hold one
  of the profile's ids (at 10 M rows a typical profile is in 9 of 35 files), plus the files
  without a filter (the pipeline's recent batches, few since compaction merges them by size
  class, and files from before);
- row groups: those files hold their rows sorted by profile id in row groups of 8,192, so
  DuckDB decodes, of each file, the row group whose min/max profile id can hold the profile.
The catalog says which files are sorted (`sorted_by`); compaction re-sorts, one per round, the
large files written in log order before, which are read correctly meanwhile, only slower.
Measured (benchmarks/event_store.py, 2 shared cores, docs/performance.md): events_of p50 27 ms
at 1 M rows (153 ms in log order), 52-55 ms at 10 M (622 ms), p99 82-86 ms; compaction 10 %
slower at 10 M, the group-by 1.6-2.2x slower (more, smaller row groups; 4,096 rows was worse).
What is left is decoding the row groups that hold the profile, 4-6 ms each.

Not taken: a catalog min/max of the profile id per file prunes nothing, since profile ids are
random and every file but the smallest holds profiles from the whole range; a narrow index
table (profile, file, row group) in the state store costs the pipeline one index row per
profile per batch (most of a batch's 2,000 rows) and has to be rewritten with every merge and
delete.
"""

from __future__ import annotations

import contextlib
import logging
import secrets
import threading
from collections.abc import Callable, Collection, Iterator, Sequence
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import duckdb
import pyarrow as pa
from sqlalchemy import Engine

from seamline.log.base import partition_of
from seamline.spec.envelope import Item
from seamline.store.event_files import EventFile, EventFiles
from seamline.store.event_rows import COLUMNS, EMPTY, SELECT_ROWS, as_message, incoming, json_object
from seamline.store.event_window import EventWindow
from seamline.store.lake_files import LakeFiles, LocalFiles
from seamline.store.profile_filter import ProfileHashes, build, check_of

logger = logging.getLogger(__name__)

MERGE_AFTER = 16
"""Compaction merges this many consecutive small files of a partition into one."""
GRACE = timedelta(minutes=5)
"""How long a replaced file stays on disk for queries that listed it before."""
PROFILE_ORDER = "profile_id"
"""The column every file the lake writes itself is sorted by (`EventFile.sorted_by`)."""
ROW_GROUP_ROWS = 8192
"""Rows per row group in sorted files: the rows of one profile that `events_of` decodes per
file are those of the row group(s) holding it (all columns); see the module's figures."""
SORTED = f"zstd, ROW_GROUP_SIZE {ROW_GROUP_ROWS}"
"""The Parquet options of sorted files, in `LakeFiles.write`'s `compression` (it is placed
after COMPRESSION in DuckDB's COPY options)."""
_BY_PROFILE = f"ORDER BY {PROFILE_ORDER}, log_offset"
_FILES = "<files>"
"""Where a profile's query reads: replaced by the files that may hold the profile."""


class LakeEventStore:
    """Event history as Parquet files: one writer per log partition, any number of readers."""

    def __init__(
        self,
        root: Path | LakeFiles,
        catalog: Engine | None = None,
        *,
        writable: bool = True,
        compact: bool = True,
        owned: Callable[[], Collection[int]] | None = None,
    ) -> None:
        self.files = LocalFiles(root, writable=writable) if isinstance(root, Path) else root
        # Compaction rewrites only partitions this process writes (pipeline workers on other
        # machines compact theirs); None: every partition.
        self._owned = owned
        self._own_catalog = catalog is None
        if catalog is None:
            if not isinstance(root, Path):
                raise ValueError("an event store outside the disk needs a catalog engine")
            from seamline.store.state import open_state_store

            root.mkdir(parents=True, exist_ok=True)
            catalog = open_state_store(f"sqlite:///{root / 'catalog.db'}")
        self._catalog_engine = catalog
        self.catalog = EventFiles(catalog)
        self._writer = duckdb.connect()
        # One thread: the pipeline's other stages need the second core more (measured 12.5 ms
        # per 2,000-row file with one thread, 17 ms with the default on 2 cores).
        self._writer.execute("SET threads = 1")
        # Compaction, rewrites and loads run on their own connection, under `_rewriting`: DuckDB
        # refuses a second call on a connection that is busy, and the pipeline writes meanwhile.
        self._rewriter = duckdb.connect()
        self._reader = duckdb.connect()
        # Parquet footers parsed once per file (the files never change). DuckDB 2 ignores the
        # older `enable_object_cache`: every query parsed every footer again, 12 ms of a 512k-
        # row file's 250 row groups.
        self._reader.execute("SET parquet_metadata_cache = true")
        for connection in (self._writer, self._rewriter, self._reader):
            self.files.prepare(connection)
        self._view_lock = threading.Lock()
        self._version: tuple[int, int] | None = None
        self._live: list[EventFile] = []  # the files the view `events` reads
        self._filters: dict[int, bytes | None] = {}  # profile filters by file id (immutable)
        self._hash_check = check_of(self._reader)
        self._rewriting = threading.Lock()
        self._wake = threading.Condition()
        self._closing = False
        self._compactor: threading.Thread | None = None
        if writable and compact:
            self._compactor = threading.Thread(
                target=self._compact_loop, name="lake-compactor", daemon=True
            )
            self._compactor.start()

    # --- writing --------------------------------------------------------------------------

    def write(self, items: Sequence[Item]) -> int:
        """Store one row per item: a file per log partition, listed once complete."""
        if not items:
            return 0
        by_partition: dict[int, list[Item]] = {}
        for item in items:
            by_partition.setdefault(partition_of(item.offset), []).append(item)
        written = [self._write_file(p, part) for p, part in by_partition.items()]
        self.catalog.add(written)
        with self._wake:
            self._wake.notify()
        return len(items)

    def _write_file(self, partition: int, items: Sequence[Item]) -> EventFile:
        first = min(item.offset for item in items)
        last = max(item.offset for item in items)
        name = f"{partition}/{first:019d}-{secrets.token_hex(4)}.parquet"
        self._writer.register("incoming", incoming(items))
        try:
            size = self._copy(self._writer, SELECT_ROWS, name)
        finally:
            self._writer.unregister("incoming")
        return EventFile(0, name, partition, first, last, len(items), size)

    def load(self, rows: pa.Table) -> int:
        """Store rows that are already in the store's columns (imports, synthetic history).

        Their `log_offset`s must be positions of one partition no pipeline writes to, or the
        pipeline's restart would cut them back.
        """
        if rows.num_rows == 0:
            return 0
        with self._rewriting:
            return self._load(rows)

    def _load(self, rows: pa.Table) -> int:
        names = ", ".join(name for name, _ in COLUMNS)
        self._rewriter.register("loaded", rows)
        try:
            found = self._rewriter.execute(
                "SELECT min(log_offset), max(log_offset) FROM loaded"
            ).fetchall()
            first, last = found[0]
            partition = partition_of(int(first))
            name = f"{partition}/{int(first):019d}-{secrets.token_hex(4)}.parquet"
            size = self._copy(
                self._rewriter, f"SELECT {names} FROM loaded {_BY_PROFILE}", name, SORTED
            )
        finally:
            self._rewriter.unregister("loaded")
        added = EventFile(
            0, name, partition, int(first), int(last), rows.num_rows, size, PROFILE_ORDER
        )
        self.catalog.add([self._with_filter(added)])
        return int(rows.num_rows)

    def _copy(
        self,
        connection: duckdb.DuckDBPyConnection,
        select: str,
        name: str,
        compression: str = "snappy",
    ) -> int:
        """Write `select`'s rows to the file `name` durably and atomically; its size.

        Batches are written with snappy (half zstd's time per batch), in log order; every other
        file with zstd, off the pipeline's path, for the smaller files that are kept, sorted by
        profile (`SORTED`)."""
        return self.files.write(connection, select, name, compression)

    def truncate_from(self, start: int, end: int | None = None) -> int:
        """Drop rows of log positions in [start, end): records not committed in the log."""
        end = (1 << 63) - 1 if end is None else end
        with self._rewriting:
            return self._rewrite(
                self.catalog.overlapping(start, end),
                f"NOT (log_offset >= {int(start)} AND log_offset < {int(end)})",
            )

    def _rewrite(self, files: Sequence[EventFile], keep: str) -> int:
        """Replace `files` by copies holding only rows matching `keep`; rows dropped."""
        dropped = 0
        added: list[EventFile] = []
        for file in files:
            source = self._quoted(file.path)
            kept = self._rewriter.execute(
                f"SELECT count(*), min(log_offset), max(log_offset) FROM read_parquet({source})"
                f" WHERE {keep}"
            ).fetchall()[0]
            dropped += file.rows - int(kept[0])
            if kept[0]:
                name = f"{file.partition}/{int(kept[1]):019d}-{secrets.token_hex(4)}.parquet"
                size = self._copy(
                    self._rewriter,
                    f"SELECT * FROM read_parquet({source}) WHERE {keep} {_BY_PROFILE}",
                    name,
                    SORTED,
                )
                first, last = int(kept[1]), int(kept[2])
                copy = EventFile(
                    0, name, file.partition, first, last, int(kept[0]), size, PROFILE_ORDER
                )
                added.append(self._with_filter(copy))
        if files:
            self.catalog.replace(files, added)
        return dropped

    # --- compaction -----------------------------------------------------------------------

    def compact(self) -> int:
        """Merge runs of small files of each partition, and re-sort by profile one large file in
        log order (written before files were sorted) per partition; how many files were
        rewritten."""
        merged = 0
        with self._rewriting:
            live = self.catalog.live()
            partitions = sorted({f.partition for f in live})
            if self._owned is not None:
                mine = self._owned()
                partitions = [p for p in partitions if p in mine]
            for partition in partitions:
                files = [f for f in live if f.partition == partition]
                done: set[int] = set()
                for run in _runs(files):
                    self._merge(run)
                    merged += len(run)
                    done.update(f.id for f in run)
                # One file per round: a `truncate_from` waiting for `_rewriting` (a pipeline
                # resuming) waits for one re-sort at most, not for a whole old lake's.
                old = [f for f in files if f.id not in done and _unsorted_and_large(f)]
                if old:
                    self._merge(old[:1])
                    merged += 1
        return merged

    def _merge(self, run: Sequence[EventFile]) -> None:
        first, last = run[0].first_position, max(f.last_position for f in run)
        name = f"{run[0].partition}/{first:019d}-{secrets.token_hex(4)}.parquet"
        sources = ", ".join(self._quoted(f.path) for f in run)
        size = self._copy(
            self._rewriter, f"SELECT * FROM read_parquet([{sources}]) {_BY_PROFILE}", name, SORTED
        )
        rows = sum(f.rows for f in run)
        merged = EventFile(0, name, run[0].partition, first, last, rows, size, PROFILE_ORDER)
        self.catalog.replace(run, [self._with_filter(merged)])

    def _with_filter(self, file: EventFile) -> EventFile:
        """`file` (just written by the rewriter) with the Bloom filter of its profile ids."""
        source = f"read_parquet({self._quoted(file.path)})"
        return file._replace(profile_filter=build(self._rewriter, source))

    def collect_garbage(self, grace: timedelta = GRACE) -> int:
        """Unlink files replaced longer than `grace` ago; how many."""
        gone = self.catalog.retired_before(grace)
        self.files.delete(gone)
        self.catalog.forget(gone)
        return len(gone)

    def _compact_loop(self) -> None:
        while True:
            with self._wake:
                # A close asked for while compacting must not wait out the timeout.
                if not self._closing:
                    self._wake.wait(timeout=30.0)
                if self._closing:
                    return
            try:
                self.compact()
                self.collect_garbage()
            except Exception:
                logger.exception("event store compaction failed; retrying later")

    # --- reading --------------------------------------------------------------------------

    @property
    def root(self) -> Path:
        """The directory of a store on disk (benchmarks and tests look into it)."""
        if not isinstance(self.files, LocalFiles):
            raise TypeError("this event store is not on local disk")
        return self.files.root

    def _quoted(self, path: str) -> str:
        return "'" + self.files.location(path).replace("'", "''") + "'"

    def _refresh(self) -> None:
        version = self.catalog.version()
        if version == self._version:
            return
        with self._view_lock:
            files = self.catalog.live()
            if files:
                listed = ", ".join(self._quoted(f.path) for f in files)
                source = f"SELECT * FROM read_parquet([{listed}])"
            else:
                source = EMPTY
            self._reader.execute(f"CREATE OR REPLACE VIEW events AS {source}")
            self._live = files
            self._version = version

    @contextlib.contextmanager
    def _cursor(self) -> Iterator[duckdb.DuckDBPyConnection]:
        self._refresh()
        cursor = self._reader.cursor()
        try:
            yield cursor
        finally:
            cursor.close()

    def _rows(self, sql: str, parameters: Sequence[Any]) -> list[dict[str, Any]]:
        for attempt in (1, 2):
            try:
                with self._cursor() as cursor:
                    result = cursor.execute(sql, list(parameters))
                    names = [column[0] for column in result.description]
                    return [dict(zip(names, row, strict=True)) for row in result.fetchall()]
            except duckdb.IOException:
                if attempt == 2:
                    raise
                self._version = None  # a file went away under an old listing: list again
        raise AssertionError("unreachable")

    def count(self) -> int:
        return self.catalog.rows()

    def query(self, sql: str, parameters: Sequence[Any] = ()) -> list[tuple[Any, ...]]:
        """Run a read query over the view `events` (tests, the CLI)."""
        return [tuple(row.values()) for row in self._rows(sql, parameters)]

    def cursor(self) -> duckdb.DuckDBPyConnection:
        """A cursor on which the view `events` holds the history now (the batch engine)."""
        self._refresh()
        return self._reader.cursor()

    def events_of(
        self,
        profile_ids: Sequence[str],
        limit: int,
        before: tuple[datetime, str] | None = None,
        *,
        window: EventWindow | None = None,
    ) -> list[dict[str, Any]]:
        """Events of these profiles, newest first unless `window.ascending`; `before` continues
        after that (timestamp, id) in the order asked for; `window` narrows them by time and
        event name."""
        if not profile_ids:
            return []
        marks = ", ".join("?" * len(profile_ids))
        where, parameters = (window or EventWindow()).where(list(profile_ids), before)
        sql = f"SELECT * FROM {_FILES} WHERE profile_id IN ({marks}){where} LIMIT ?"
        return self._rows_of(profile_ids, sql, [*parameters, limit])

    def _rows_of(
        self, profile_ids: Sequence[str], sql: str, parameters: Sequence[Any]
    ) -> list[dict[str, Any]]:
        """`sql`'s rows with `_FILES` read as only the files that may hold these profiles."""
        for attempt in (1, 2):
            try:
                files = self._files_of(profile_ids)
                if not files:
                    return []
                listed = ", ".join(self._quoted(f.path) for f in files)
                cursor = self._reader.cursor()  # listed just now: no view to refresh
                try:
                    result = cursor.execute(
                        sql.replace(_FILES, f"read_parquet([{listed}])"), list(parameters)
                    )
                    names = [column[0] for column in result.description]
                    return [dict(zip(names, row, strict=True)) for row in result.fetchall()]
                finally:
                    cursor.close()
            except duckdb.IOException:
                if attempt == 2:
                    raise
                self._version = None  # a file went away under an old listing: list again
        raise AssertionError("unreachable")

    def _files_of(self, profile_ids: Sequence[str]) -> list[EventFile]:
        """The live files whose profile filter may hold one of these ids (every file without
        one: the pipeline's recent batches, files listed before filters existed)."""
        self._refresh()
        live = self._live
        missing = [f.id for f in live if f.id not in self._filters]
        if missing:
            self._filters.update(self.catalog.profile_filters(missing))
            if len(self._filters) > 2 * len(live):  # retired files' filters: forget them
                ids = {f.id for f in live}
                self._filters = {i: v for i, v in self._filters.items() if i in ids}
        cursor = self._reader.cursor()
        try:
            hashes = ProfileHashes(cursor, profile_ids, self._hash_check)
        finally:
            cursor.close()
        return [f for f in live if hashes.may_be_in(self._filters.get(f.id))]

    def messages_between(
        self, start: datetime, end: datetime, after: int = -1, limit: int = 1000
    ) -> list[tuple[int, dict[str, Any]]]:
        """(log position, message) of events with `start` <= timestamp < `end`, in log order,
        past `after` — the messages as Segment messages (camelCase), for replays."""
        rows = self._rows(
            "SELECT * FROM events WHERE timestamp >= ? AND timestamp < ? AND log_offset > ?"
            " ORDER BY log_offset LIMIT ?",
            [start, end, after, limit],
        )
        return [(int(row["log_offset"]), as_message(row)) for row in rows]

    def track_events(
        self, workspace_id: str, names: Sequence[str], through: int
    ) -> Iterator[tuple[str, int, int, str, Any]]:
        """Stored track events named `names` up to log position `through`, in log order, as
        (profile id, log position, timestamp µs, event, properties) — Engage's hydration."""
        if not names:
            return
        marks = ", ".join("?" * len(names))
        with self._cursor() as cursor:
            cursor.execute(
                "SELECT profile_id, log_offset, epoch_us(timestamp), event, properties"
                " FROM events WHERE workspace_id = ? AND type = 'track' AND profile_id IS NOT NULL"
                f" AND event IN ({marks}) AND log_offset <= ? ORDER BY log_offset",
                [workspace_id, *names, through],
            )
            while rows := cursor.fetchmany(10_000):
                for pid, offset, at, event, properties in rows:
                    yield (
                        pid,
                        offset,
                        at,
                        event,
                        json_object.decode(properties) if properties else {},
                    )

    def first_and_last(
        self, profile_ids: Sequence[str]
    ) -> tuple[dict[str, Any] | None, dict[str, Any] | None]:
        """The earliest and the latest event of these profiles (by timestamp)."""
        if not profile_ids:
            return None, None
        marks = ", ".join("?" * len(profile_ids))
        found = []
        for order in ("ASC", "DESC"):
            rows = self._rows_of(
                profile_ids,
                "SELECT message_id, timestamp, original_timestamp, received_at, source_id"
                f" FROM {_FILES} WHERE profile_id IN ({marks})"
                f" ORDER BY timestamp {order}, message_id {order} LIMIT 1",
                list(profile_ids),
            )
            found.append(rows[0] if rows else None)
        return found[0], found[1]

    def close(self) -> None:
        with self._wake:
            self._closing = True
            self._wake.notify()
        if self._compactor is not None:
            self._compactor.join()
        self._writer.close()
        self._rewriter.close()
        self._reader.close()
        if self._own_catalog:
            self._catalog_engine.dispose()


SIZE_CLASSES = (20_000, 320_000)
"""Files under each bound are merged with files of their own class only, so a row is rewritten
about once per class (a growing file merged with each new small one would be rewritten again
and again)."""


def _size_class(rows: int) -> int:
    return sum(1 for bound in SIZE_CLASSES if rows >= bound)


def _unsorted_and_large(file: EventFile) -> bool:
    """A file in log order that no merge will rewrite soon (the pipeline's batches are small
    and merged into sorted files anyway)."""
    return file.sorted_by is None and _size_class(file.rows) > 0


def _runs(files: Sequence[EventFile]) -> Iterator[list[EventFile]]:
    """Runs of MERGE_AFTER consecutive files of one small size class, to merge into one."""
    run: list[EventFile] = []
    for file in files:
        size = _size_class(file.rows)
        if run and _size_class(run[0].rows) != size:
            run = []
        if size < len(SIZE_CLASSES):
            run.append(file)
        if len(run) >= MERGE_AFTER:
            yield run
            run = []
