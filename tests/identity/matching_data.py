"""People in the identity graph for matching tests: rows written straight into the state
store (profiles, identifiers, traits), as the pipeline would leave them."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import Engine, insert

from seamline.identity.matching.config import normalise_matching
from seamline.identity.rules_document import normalise_identity
from seamline.store.identity_rules_sql import SqlIdentityRules, activate
from seamline.store.state import identities, profile_traits, profiles

WORKSPACE = "default"
START = datetime(2026, 5, 1, tzinfo=UTC)
_FIRST = [
    "grace",
    "alan",
    "edsger",
    "barbara",
    "donald",
    "john",
    "margaret",
    "ken",
    "dennis",
    "linus",
    "guido",
    "bjarne",
    "niklaus",
    "frances",
    "radia",
    "shafi",
    "leslie",
    "tony",
    "robin",
    "ivan",
    "judea",
    "yann",
    "geoffrey",
    "whitfield",
    "martin",
    "adele",
    "butler",
    "fran",
    "jean",
    "kathleen",
]
_LAST = [
    "hopper",
    "turing",
    "dijkstra",
    "liskov",
    "knuth",
    "mccarthy",
    "hamilton",
    "thompson",
    "ritchie",
    "torvalds",
    "rossum",
    "stroustrup",
    "wirth",
    "allen",
    "perlman",
    "goldwasser",
    "lamport",
    "hoare",
    "milner",
    "sutherland",
    "pearl",
    "lecun",
    "hinton",
    "diffie",
    "hellman",
    "goldberg",
    "lampson",
    "tovey",
    "sammet",
    "booth",
]

ADA = {"firstName": "Ada", "lastName": "Lovelace", "birthday": "1815-12-10"}
TWINS = ("ada-1", "ada-2")
"""Two profiles of one person: same name (and date of birth), a typo in the email."""

CONFIG: dict[str, Any] = {
    "blocking_rules": ["l.last_name = r.last_name"],
    "comparisons": [
        {"field": "first_name", "kind": "name"},
        {"field": "last_name", "kind": "name"},
        {"field": "email", "kind": "email"},
        {"field": "dob", "kind": "date"},
    ],
}
"""A small model (one blocking rule, four fields): trains in a few seconds."""

MODELS: dict[str, tuple[str, int, Any]] = {}
"""Trained models shared by the tests (`MatchingJob(models=…)`): the people are the same, so
one training serves every test of a session."""


def people(twins_dob: bool = True) -> list[tuple[str, dict[str, Any], list[tuple[str, str]]]]:
    """(profile id, traits, identifiers): 30 people, 15 of them with a second profile under
    another email (what the model learns from), and the two Ada profiles; `twins_dob=False`:
    the second Ada profile has no date of birth (weaker evidence: a match, but not a sure one)."""
    found = []
    for n, (first, last) in enumerate(zip(_FIRST, _LAST, strict=True)):
        traits = {"firstName": first.title(), "lastName": last.title(), "birthday": _dob(n)}
        found.append(
            (f"p-{n:02d}", traits, [("user_id", f"u{n}"), ("email", f"{first}.{last}@example.com")])
        )
        if n % 2 == 0:
            found.append((f"q-{n:02d}", traits, [("email", f"{first}{last}@example.net")]))
    second = ADA if twins_dob else {"firstName": "Ada", "lastName": "Lovelace"}
    found.append(("ada-1", ADA, [("user_id", "ada"), ("email", "ada.lovelace@example.org")]))
    found.append(("ada-2", second, [("anonymous_id", "a-2"), ("email", "ada.lovelac@example.org")]))
    return found


def _dob(n: int) -> str:
    return f"{1940 + n}-{1 + n % 12:02d}-{1 + n % 28:02d}"


def seed(engine: Engine, twins_dob: bool = True) -> None:
    """Write every person of `people()`, each its own profile, created one minute apart, and
    Hedy, whose two profiles the resolver merged."""
    with engine.begin() as conn:
        for n, (pid, traits, ids) in enumerate(people(twins_dob)):
            at = START + timedelta(minutes=n)
            conn.execute(
                insert(profiles).values(
                    id=pid, workspace_id=WORKSPACE, canonical_id=pid, created_at=at
                )
            )
            for id_type, value in ids:
                conn.execute(
                    insert(identities).values(
                        workspace_id=WORKSPACE,
                        type=id_type,
                        value=value,
                        profile_id=pid,
                        first_seen=at,
                        last_seen=at,
                    )
                )
            set_traits(engine, pid, traits, at, conn)
        # One person the resolver merged (a shared identifier): two profiles, each with its own
        # traits, one record for matching; the model is checked on their link.
        hedy = {"firstName": "Hedy", "lastName": "Lamarr", "birthday": "1914-11-09"}
        for n, pid in enumerate(("hedy-1", "hedy-2")):
            conn.execute(
                insert(profiles).values(
                    id=pid,
                    workspace_id=WORKSPACE,
                    canonical_id="hedy-1",
                    merged_into=None if n == 0 else "hedy-1",
                    created_at=START - timedelta(days=1 - n),
                )
            )
            set_traits(engine, pid, {**hedy, "email": f"hedy{n}@example.com"}, START, conn)


def set_traits(
    engine: Engine, pid: str, traits: dict[str, Any], at: datetime, conn: Any = None
) -> None:
    rows = [
        {"profile_id": pid, "name": name, "value": value, "removed": False, "updated_at": at}
        for name, value in traits.items()
    ]
    if conn is not None:
        conn.execute(insert(profile_traits), rows)
        return
    with engine.begin() as own:
        own.execute(insert(profile_traits), rows)


def enable(engine: Engine, **matching: Any) -> dict[str, Any]:
    """Make an identity document with this `matching:` block the workspace's active one."""
    document = normalise_identity({"matching": {"enabled": True, **CONFIG, **matching}})
    store = SqlIdentityRules(engine)
    saved = store.save_draft(WORKSPACE, document, "test")
    with engine.begin() as conn:
        activate(conn, WORKSPACE, saved.version)
    return normalise_matching(document["matching"])
