"""The identity graph's statements, built once (SQLAlchemy's compiled cache stays warm), and
PostgreSQL's advisory-lock keys: what `identity_sql.SqlIdentityGraph` runs."""

from __future__ import annotations

import hashlib
from datetime import datetime
from typing import Any

from sqlalchemy import String, Table, bindparam, func, insert, select, text, type_coerce, update
from sqlalchemy.sql import Insert, Select

from seamline.store.state import as_utc, identities, profiles, separations


def unprocessed(column: Any) -> Any:
    """`column` (a time) read as the driver gives it, for `stored_time`: SQLAlchemy's SQLite
    DateTime processor parses each value with a regular expression, ten times the cost."""
    return type_coerce(column, String())


def stored_time(value: str | datetime) -> datetime:
    """A time read through `unprocessed` as an aware UTC datetime (SQLite gives text)."""
    if isinstance(value, str):
        # SQLAlchemy writes SQLite times as naive UTC text; parsed with the offset appended,
        # they come out aware at a fifth of the cost of `replace(tzinfo=UTC)`.
        return datetime.fromisoformat(value + "+00:00")
    return as_utc(value)


def _owners_statement(postgres: bool) -> Select[Any]:
    """The canonical owner and last-seen time of some values of one identifier type.

    On SQLite the values go in as one JSON array that `json_each` reads: an expanding IN
    list costs SQLAlchemy a few µs per value to render. PostgreSQL keeps the IN list: with
    one array parameter (`= ANY`) the client spent a quarter less CPU, but batches took three times
    the wall time (a prepared statement's generic plan, most likely).
    """
    if postgres:
        wanted = identities.c.value.in_(bindparam("values", expanding=True))
    else:
        listed = func.json_each(bindparam("values", type_=String())).table_valued("value")
        wanted = identities.c.value.in_(select(listed.c.value))
    return (
        select(identities.c.value, profiles.c.canonical_id, unprocessed(identities.c.last_seen))
        .join(profiles, profiles.c.id == identities.c.profile_id)
        .where(
            identities.c.workspace_id == bindparam("workspace_id"),
            identities.c.type == bindparam("type"),
            wanted,
        )
    )


OWNERS_POSTGRES = _owners_statement(postgres=True)
OWNERS_SQLITE = _owners_statement(postgres=False)

NEW_PROFILE = ("id", "workspace_id", "canonical_id", "created_at")
NEW_IDENTITY = (
    "workspace_id",
    "type",
    "value",
    "profile_id",
    "first_seen",
    "last_seen",
    "first_message_id",
    "sent_value",
)


def _insert_listed(table: Table, columns: tuple[str, ...]) -> Insert:
    """SQLite: insert the rows of one JSON array of arrays (`rows`), in `columns`' order.

    SQLite reads the array in C; the same rows as an executemany cost SQLAlchemy ~10 µs each
    (parameters and time formatting per row), a third of the identity stage's time.
    """
    rows = func.json_each(bindparam("rows", type_=String())).table_valued("value")
    fields = [func.json_extract(rows.c.value, f"$[{n}]") for n in range(len(columns))]
    return insert(table).from_select(list(columns), select(*fields))


INSERT_PROFILES_SQLITE = _insert_listed(profiles, NEW_PROFILE)
INSERT_IDENTITIES_SQLITE = _insert_listed(identities, NEW_IDENTITY)


def sqlite_time(at: datetime) -> str:
    # The text SQLAlchemy's SQLite DateTime writes (its fields as given, no offset).
    return at.isoformat(" ", "microseconds")[:26]


# Built once: expanding IN parameters keep SQLAlchemy's compiled-statement cache warm.
SEEN = (
    update(identities)
    .where(
        identities.c.workspace_id == bindparam("w"),
        identities.c.type == bindparam("t"),
        identities.c.value == bindparam("v"),
        identities.c.last_seen < bindparam("at"),
    )
    .values(last_seen=bindparam("at"))
)
_profile_a = profiles.alias("profile_a")
_profile_b = profiles.alias("profile_b")
# Every separation of the workspace (unmerges are rare), mapped to today's canonical profiles;
# a profile that does not exist yet — a rebuild replaying the log — stands for itself, since
# profile ids are derived from the message that creates them.
SEPARATED = (
    select(
        func.coalesce(_profile_a.c.canonical_id, separations.c.profile_a),
        func.coalesce(_profile_b.c.canonical_id, separations.c.profile_b),
    )
    .select_from(separations)
    .outerjoin(_profile_a, _profile_a.c.id == separations.c.profile_a)
    .outerjoin(_profile_b, _profile_b.c.id == separations.c.profile_b)
    .where(separations.c.workspace_id == bindparam("workspace_id"))
)
CREATED = select(profiles.c.id, unprocessed(profiles.c.created_at)).where(
    profiles.c.id.in_(bindparam("ids", expanding=True))
)
LIMITED = (
    select(
        profiles.c.canonical_id,
        identities.c.type,
        identities.c.value,
        unprocessed(identities.c.last_seen),
    )
    .join(profiles, profiles.c.id == identities.c.profile_id)
    .where(
        profiles.c.canonical_id.in_(bindparam("ids", expanding=True)),
        identities.c.type.in_(bindparam("types", expanding=True)),
    )
)
CHUNK = 500
# A volatile function in the select list runs after ORDER BY's sort (PostgreSQL 9.6 and later),
# so each statement takes its locks in key order: one statement per phase, not one per key.
LOCK_IDENTIFIERS = text(
    "SELECT pg_advisory_xact_lock(k) FROM unnest(CAST(:keys AS bigint[])) AS k ORDER BY k"
)
# Profiles lock in the two-key form, a key space of its own apart from the one-key form the
# identifiers use, so a profile's key never equals an identifier's.
_PROFILE_LOCK_SPACE = 0x5EA1
LOCK_PROFILES = text(
    f"SELECT pg_advisory_xact_lock({_PROFILE_LOCK_SPACE}, k)"
    " FROM unnest(CAST(:keys AS integer[])) AS k ORDER BY k"
)
# Starting again only follows a merge that another worker committed meanwhile, so this is
# never reached unless the graph is rewritten faster than a batch can read it.
ATTEMPTS = 100
# PostgreSQL's lock table has room for max_locks_per_transaction (64 by default) times
# max_connections (100) locks in all, shared by every session: a batch of 5,000 messages
# locking each identifier (and then its profile) ran out of shared memory. 500 identifiers
# hold at most ~1,000 advisory locks per transaction, room for several workers.
IDENTIFIERS_PER_TRANSACTION = 500


def profile_key(workspace_id: str, profile_id: str) -> int:
    # 32 bits (the two-key form's second key): two profiles sharing a key only take turns.
    digest = hashlib.blake2b(f"{workspace_id}\0{profile_id}".encode(), digest_size=4).digest()
    return int.from_bytes(digest, "big", signed=True)


def lock_key(workspace_id: str, identifier: object) -> int:
    # `identifier` as its `type:value` text (an identity.identifiers.Identifier).
    digest = hashlib.blake2b(f"{workspace_id}\0{identifier}".encode(), digest_size=8).digest()
    return int.from_bytes(digest, "big", signed=True)
