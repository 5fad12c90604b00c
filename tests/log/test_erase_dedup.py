"""The dedup stores forget what a log erasure removed (by the keys the pipeline remembers them
by, a re-run's suffix included), and the embedded dedup file keeps none of their bytes."""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import Engine

from seamline.log.erase import LogErasure, erase_record
from seamline.store.dedup_sql import SqlSeenMessages
from seamline.store.dedup_sqlite import SqliteSeenMessages
from tests.log.test_erase import envelope, is_alice


def erased_keys() -> list[tuple[str, str]]:
    erasure = LogErasure()
    for i, rerun in ((0, None), (3, 2)):
        erase_record(envelope(i, "alice", rerun=rerun), is_alice, erasure)
    return erasure.dedup_keys


ENTRIES = [
    ("s1", "alice-m0", 1, 1.0),
    ("s1", "alice-m3#rerun-2", 2, 1.0),
    ("s1", "bob-m1", 3, 1.0),
    ("s2", "alice-m0", 4, 1.0),  # another source's message of the same id: not erased
]
KEPT = {("s1", "bob-m1"): 3, ("s2", "alice-m0"): 4}


def test_the_dedup_file_forgets_erased_messages_and_their_bytes(tmp_path: Path) -> None:
    path = tmp_path / "dedup.sqlite"
    seen = SqliteSeenMessages(path)
    # Enough rows to fill pages, so deleted cells would linger in them.
    seen.claim([*ENTRIES, *(("s9", f"filler-{i:05d}", 10 + i, 1.0) for i in range(3000))])
    assert erased_keys() == [("s1", "alice-m0"), ("s1", "alice-m3#rerun-2")]

    assert seen.forget_messages(erased_keys()) == 2

    assert seen.first_offsets([(s, m) for s, m, _, _ in ENTRIES]) == KEPT
    stored = b"".join(p.read_bytes() for p in tmp_path.iterdir())
    assert b"alice-m3" not in stored
    assert b"alice-m0" in stored  # s2's
    assert b"bob-m1" in stored
    seen.close()


def test_the_state_stores_dedup_table_forgets_erased_messages(engine: Engine) -> None:
    seen = SqlSeenMessages(engine)
    seen.claim(ENTRIES)
    assert seen.forget_messages(erased_keys()) == 2
    assert seen.first_offsets([(s, m) for s, m, _, _ in ENTRIES]) == KEPT
    assert seen.forget_messages([]) == 0
