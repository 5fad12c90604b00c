"""A small identity history for the preview and re-resolution tests: whose outcome changes
when the email limit drops from 5 to 1 (a split) and when a custom type `customer_number` is
read (a merge), plus a merge an operator undid (a separation that must survive)."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from typing import Any

import msgspec
from sqlalchemy import Engine, select

from seamline.app import Seamline, bootstrap
from seamline.config import Settings
from seamline.identity.rules import DEFAULT_RULES, IdentifierRule, IdentityRules
from seamline.spec import Envelope, Message
from seamline.spec.envelope import envelope_encoder
from seamline.spec.messages import ABSENT
from seamline.store.identity_sql import SqlIdentityGraph
from seamline.store.state import identities, merges, profiles

START = datetime(2026, 6, 1, tzinfo=UTC)
WORKSPACE = "default"

NEW_DOCUMENT: dict[str, Any] = {
    "types": {"email": {"priority": 2, "limit": 1}},
    "custom": [{"name": "customer_number", "path": "properties.customer_number"}],
}
NEW_RULES = IdentityRules(
    dict(DEFAULT_RULES, email=IdentifierRule(priority=2, limit=1)),
    custom=[("customer_number", "properties.customer_number")],
)

# (message id, anonymous id, traits, properties)
HISTORY: list[tuple[str, str, dict[str, str], dict[str, str]]] = [
    # a1/e1 and a2/e2, then a1 with e2: one person under limit 5, two under limit 1.
    ("m1", "a1", {"email": "e1@x.io"}, {}),
    ("m2", "a2", {"email": "e2@x.io"}, {}),
    ("m3", "a1", {"email": "e2@x.io"}, {}),
    # Two visitors with one customer number: one person once the custom type is read.
    ("m4", "b1", {}, {"customer_number": "C1"}),
    ("m5", "b2", {}, {"customer_number": "C1"}),
    # c1/d1 and c2/d2 joined by m8, a merge the operator undoes (`separate`).
    ("m6", "c1", {"device_id": "d1"}, {}),
    ("m7", "c2", {"device_id": "d2"}, {}),
    ("m8", "c1", {"device_id": "d2"}, {}),
]


def envelope(
    source_id: str,
    message_id: str,
    anonymous_id: str,
    traits: dict[str, str],
    props: dict[str, str],
    n: int,
) -> bytes:
    """One message of the history, `n` minutes after `START`."""
    at = START + timedelta(minutes=n)
    device = traits.pop("device_id", None) if traits else None
    context = {"device": {"id": device}} if device else None
    message = Message(
        type="track" if props else "identify",
        event="Ordered" if props else None,
        message_id=message_id,
        anonymous_id=anonymous_id,
        traits=msgspec.Raw(msgspec.json.encode(traits)) if traits else ABSENT,
        properties=msgspec.Raw(msgspec.json.encode(props)) if props else ABSENT,
        context=msgspec.Raw(msgspec.json.encode(context)) if context else ABSENT,
        received_at=at,
        timestamp=at,
    )
    return envelope_encoder.encode(
        Envelope(workspace_id=WORKSPACE, source_id=source_id, message=message)
    )


def more(source_id: str, first: int, count: int) -> list[bytes]:
    """`count` identifies of new, unrelated visitors (traffic during a re-resolution)."""
    return [
        envelope(source_id, f"x{n}", f"v{n}", {"email": f"v{n}@x.io"}, {}, 100 + n)
        for n in range(first, first + count)
    ]


def served(settings: Settings) -> str:
    """Run the live pipeline over `HISTORY` (default rules) and undo m8's merge; the source id."""
    source = bootstrap(settings)
    payloads = [
        envelope(source.id, mid, anon, dict(traits), props, n)
        for n, (mid, anon, traits, props) in enumerate(HISTORY)
    ]

    async def fill() -> None:
        app = Seamline(settings)
        await app.start()
        await app.log.append(payloads)
        await app.stop()  # drains the log

    asyncio.run(fill())
    return source.id


def separate(engine: Engine, message_id: str) -> tuple[str, str]:
    """Undo the merge message `message_id` made; the two profiles it kept apart."""
    with engine.connect() as conn:
        merge_id = conn.execute(
            select(merges.c.id).where(merges.c.message_id == message_id)
        ).scalar_one()
    return SqlIdentityGraph(engine).unmerge(WORKSPACE, int(merge_id))


def people(engine: Engine) -> set[frozenset[str]]:
    """The graph as a partition of identifiers ("type:value") into people."""
    found: dict[str, set[str]] = {}
    with engine.connect() as conn:
        rows = conn.execute(
            select(identities.c.type, identities.c.value, profiles.c.canonical_id)
            .join(profiles, profiles.c.id == identities.c.profile_id)
            .where(identities.c.workspace_id == WORKSPACE)
        )
        for id_type, value, person in rows:
            found.setdefault(str(person), set()).add(f"{id_type}:{value}")
    return {frozenset(group) for group in found.values()}
