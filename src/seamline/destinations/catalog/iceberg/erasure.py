"""Deleting a person from the Iceberg tables, for a privacy regulation, so that no file of the
warehouse holds their rows afterwards.

Per table with a `user_id`, `anonymous_id` or `previous_id` column (and `users` by `id`): a
row-level delete of the rows holding one of the person's ids (pyiceberg rewrites the data
files that held them, copy-on-write), and the values `seamline_discards` kept for those rows.
An Iceberg delete leaves the old files to older snapshots (time travel), so each table the
person was found in then has its older snapshots expired, and the data and manifest files no
remaining snapshot references are removed from the warehouse directory. Only files older than
the deletion are removed: a file another writer is adding meanwhile is left alone.
`accounts` names no person and stays.
"""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import unquote, urlsplit

from seamline.destinations.catalog.iceberg.writer import DISCARDS, Writer, failures, predicate

if TYPE_CHECKING:
    from pyiceberg.table import Table

    from seamline.privacy.subject import Person

_ID_COLUMNS = ("user_id", "anonymous_id", "previous_id")


def delete_rows(writer: Writer, person: Person) -> dict[str, int]:
    """Delete the person's rows from the namespace; returns the rows deleted per table."""
    from pyiceberg.expressions import And, Or

    ids = sorted({*person.user_ids, *person.anonymous_ids})
    deleted: dict[str, list[str]] = {}
    started = datetime.now(UTC)
    with failures():
        if not ids or not writer.catalog.namespace_exists(writer.namespace):
            return {}
        for identifier in sorted(writer.catalog.list_tables(writer.namespace)):
            name = identifier[-1]
            if name == DISCARDS:
                continue
            table = writer.catalog.load_table(identifier)
            names = {field.name for field in table.schema().fields}
            if name == "users":
                conditions = [predicate("in", "id", person.user_ids)] if person.user_ids else []
            else:
                conditions = [predicate("in", c, ids) for c in _ID_COLUMNS if c in names]
            if not conditions:
                continue
            where: Any = conditions[0]
            for condition in conditions[1:]:
                where = Or(where, condition)
            found = table.scan(row_filter=where, selected_fields=("id",)).to_arrow()
            rows = [str(v) for v in found.column("id").to_pylist()]
            if rows:
                table.delete(delete_filter=where)
                purge(table, started)
                deleted[name] = rows
        identifier = (writer.namespace, DISCARDS)
        if deleted and writer.catalog.table_exists(identifier):
            discards = writer.catalog.load_table(identifier)
            kept: Any = None
            for name, rows in deleted.items():
                one = And(predicate("=", "table_name", name), predicate("in", "row_id", rows))
                kept = one if kept is None else Or(kept, one)
            # A delete that matches nothing warns: look first.
            if len(discards.scan(row_filter=kept, selected_fields=("row_id",)).to_arrow()):
                discards.delete(delete_filter=kept)
                purge(discards, started)
    return {name: len(rows) for name, rows in deleted.items()}


def purge(table: Table, before: datetime) -> None:
    """Expire every snapshot but the current one and remove the files (older than `before`)
    that no remaining snapshot references."""
    current = table.metadata.current_snapshot_id
    older = [s.snapshot_id for s in table.metadata.snapshots if s.snapshot_id != current]
    if older:
        table.maintenance.expire_snapshots().by_ids(older).commit()
    kept: set[Path] = set()
    for snapshot in table.metadata.snapshots:
        kept.add(_local(snapshot.manifest_list))
        for manifest in snapshot.manifests(table.io):
            kept.add(_local(manifest.manifest_path))
            for entry in manifest.fetch_manifest_entry(table.io, discard_deleted=True):
                kept.add(_local(entry.data_file.file_path))
    root = _local(table.metadata.location)
    candidates = [*(root / "data").rglob("*.parquet"), *(root / "metadata").glob("*.avro")]
    for path in candidates:
        if path not in kept and path.stat().st_mtime < before.timestamp():
            path.unlink(missing_ok=True)


def _local(location: str) -> Path:
    """A `file://` URI (or a plain path) as a local path."""
    parts = urlsplit(location)
    return Path(unquote(parts.path) if parts.scheme == "file" else location).resolve()
