"""Preview new identity rules: which profiles would merge or split if history were resolved
under them.

The preview replays the workspace's history under the new rules into a throwaway graph
(`identity_replay`, the live separations copied in), then compares the two partitions of
identifiers into people:

- a **merge** is a person of the new graph whose identifiers belonged to two or more live
  people (`merges` counts such new people);
- a **split** is a live person whose identifiers end up with two or more new people
  (`splits` counts such live people).

Identifiers only one of the graphs holds (a new custom type, a value now blocked) join or
leave people but are not compared themselves. Nothing live is written.

The replay runs the identity stage alone, over the messages as they were accepted: a
transformation or privacy control that changes a message's identifiers before the live identity
stage is not applied, so for such messages the preview may differ from the re-resolution.
"""

from __future__ import annotations

from typing import Any, NamedTuple

from sqlalchemy import Connection, Engine, func, select, text

from seamline.collect.sources import DEFAULT_WORKSPACE_ID
from seamline.config import Settings
from seamline.data_dir import open_state
from seamline.identity.rules import IdentityRules
from seamline.ops.identity_replay import (
    Progress,
    committed_offsets,
    copy_separations,
    refuse_unless_local_log,
    replay_identifiers,
    scratch_graph,
)
from seamline.store.state import identities, profiles

MAX_EXAMPLES = 20
IDENTIFIERS_PER_EXAMPLE = 10
_CHUNK = 2000  # live identifiers streamed per round trip


class RulesPreview(NamedTuple):
    """What resolving history under new rules would change (see the module docstring)."""

    profiles_before: int
    profiles_after: int
    merges: int
    splits: int
    examples: list[dict[str, Any]]
    """At most 20: `{"kind": "merge"|"split", "profiles": [live ids], "identifiers": [...]}`."""


def preview(
    settings: Settings,
    document: dict[str, Any],
    on_progress: Progress | None = None,
    *,
    workspace_id: str = DEFAULT_WORKSPACE_ID,
) -> RulesPreview:
    """Preview the identity `document` (the workspace resource's form) against the live graph
    of `workspace_id`; changes nothing live."""
    from seamline.identity.rules_document import rules_from_document

    return preview_rules(settings, rules_from_document(document), on_progress, workspace_id)


def preview_rules(
    settings: Settings,
    rules: IdentityRules,
    on_progress: Progress | None = None,
    workspace_id: str = DEFAULT_WORKSPACE_ID,
) -> RulesPreview:
    """`preview` for rules already built."""
    refuse_unless_local_log(settings)
    progress = on_progress or (lambda _phase, _done, _total: None)
    live = open_state(settings)
    try:
        bounds = committed_offsets(settings)
        with scratch_graph() as scratch:
            copy_separations(live, scratch, workspace_id)
            replay_identifiers(settings, scratch, rules, workspace_id, bounds, progress)
            progress("compare", 0, 1)
            before = _copy_live_owners(live, scratch, workspace_id)
            with scratch.connect() as conn:
                found = _compare(conn, before)
            progress("compare", 1, 1)
            return found
    finally:
        live.dispose()


def _copy_live_owners(live: Engine, scratch: Engine, workspace_id: str) -> int:
    """Stream the live identifier → person map into `live_owner`; the live people counted."""
    with scratch.begin() as conn:
        conn.execute(
            text(
                "CREATE TABLE live_owner (type TEXT NOT NULL, value TEXT NOT NULL,"
                " person TEXT NOT NULL, PRIMARY KEY (type, value))"
            )
        )
    owners = (
        select(identities.c.type, identities.c.value, profiles.c.canonical_id)
        .join(profiles, profiles.c.id == identities.c.profile_id)
        .where(identities.c.workspace_id == workspace_id)
    )
    people = (
        select(func.count())
        .select_from(profiles)
        .where(profiles.c.workspace_id == workspace_id, profiles.c.id == profiles.c.canonical_id)
    )
    add = text("INSERT INTO live_owner (type, value, person) VALUES (:t, :v, :p)")
    with live.connect() as source, scratch.begin() as target:
        counted = int(source.execute(people).scalar_one())
        rows = source.execution_options(yield_per=_CHUNK).execute(owners)
        for part in rows.partitions():
            target.execute(add, [{"t": t, "v": v, "p": p} for t, v, p in part])
    return counted


_PAIRS = """
    SELECT p.canonical_id AS after, l.person AS before
    FROM identities i
    JOIN profiles p ON p.id = i.profile_id
    JOIN live_owner l ON l.type = i.type AND l.value = i.value
"""
_MERGED = text(
    f"SELECT after, COUNT(DISTINCT before) FROM ({_PAIRS}) GROUP BY after"
    " HAVING COUNT(DISTINCT before) > 1 ORDER BY COUNT(DISTINCT before) DESC, after"
)
_SPLIT = text(
    f"SELECT before, COUNT(DISTINCT after) FROM ({_PAIRS}) GROUP BY before"
    " HAVING COUNT(DISTINCT after) > 1 ORDER BY COUNT(DISTINCT after) DESC, before"
)


def _compare(conn: Connection, profiles_before: int) -> RulesPreview:
    after = conn.execute(text("SELECT COUNT(*) FROM profiles WHERE id = canonical_id"))
    merged = [str(row[0]) for row in conn.execute(_MERGED)]
    split = [str(row[0]) for row in conn.execute(_SPLIT)]
    # Half the examples for each kind when both have enough, the rest for the other.
    want_split = min(len(split), max(MAX_EXAMPLES // 2, MAX_EXAMPLES - len(merged)))
    want_merged = min(len(merged), MAX_EXAMPLES - want_split)
    examples = [_merge_example(conn, person) for person in merged[:want_merged]]
    examples += [_split_example(conn, person) for person in split[:want_split]]
    return RulesPreview(profiles_before, int(after.scalar_one()), len(merged), len(split), examples)


def _merge_example(conn: Connection, after: str) -> dict[str, Any]:
    rows = conn.execute(
        text(f"SELECT DISTINCT before FROM ({_PAIRS}) WHERE after = :after ORDER BY before"),
        {"after": after},
    )
    before = [str(row[0]) for row in rows]
    found = conn.execute(
        text(
            "SELECT i.type, i.value FROM identities i JOIN profiles p ON p.id = i.profile_id"
            " WHERE p.canonical_id = :after ORDER BY i.first_seen, i.type, i.value LIMIT :n"
        ),
        {"after": after, "n": IDENTIFIERS_PER_EXAMPLE},
    )
    return {"kind": "merge", "profiles": before, "identifiers": [f"{t}:{v}" for t, v in found]}


def _split_example(conn: Connection, before: str) -> dict[str, Any]:
    found = conn.execute(
        text(
            "SELECT type, value FROM live_owner WHERE person = :before"
            " ORDER BY type, value LIMIT :n"
        ),
        {"before": before, "n": IDENTIFIERS_PER_EXAMPLE},
    )
    return {"kind": "split", "profiles": [before], "identifiers": [f"{t}:{v}" for t, v in found]}
