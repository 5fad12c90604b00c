"""What the identity stage's batch writes and reads keep of each row, on both state stores.

SQLite takes new profiles and identifiers as one JSON array per batch and hands stored times
back unprocessed (issue 16's speed work); these rows must read back as SQLAlchemy's own
writes did: exact times with their microseconds, a phone's spelling as sent, last-seen times
that move for windowed types only.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import msgspec
from sqlalchemy import Engine

from seamline.identity.identifiers import Identifier
from seamline.identity.rules import IdentityRules
from seamline.pipeline.identity_stage import ResolveIdentities
from seamline.spec import Envelope, Limits, parse_request
from seamline.spec.envelope import Item
from seamline.store.identity_sql import SqlIdentityGraph
from seamline.store.state import as_utc

SIGNED_UP = datetime(2026, 5, 1, 9, 30, 15, 123456, tzinfo=UTC)


def item(offset: int, body: dict[str, Any], received_at: datetime) -> Item:
    parsed = parse_request(
        msgspec.json.encode({"batch": [body]}),
        message_type=None,
        received_at=received_at,
        client_ip=None,
        limits=Limits(),
    )
    assert not parsed.rejected, parsed.rejected
    return Item(
        offset, Envelope(workspace_id="default", source_id="src", message=parsed.messages[0])
    )


def rows_of(graph: SqlIdentityGraph, profile_id: str) -> dict[str, dict[str, Any]]:
    """Each identifier's row, its times aware (SQLite's come back naive, in UTC)."""
    rows = graph.identifiers_of(profile_id)
    for row in rows:
        row["first_seen"], row["last_seen"] = as_utc(row["first_seen"]), as_utc(row["last_seen"])
    return {f"{r['type']}:{r['value']}": r for r in rows}


def test_new_rows_keep_their_times_and_spelling_and_only_windowed_ones_are_touched(
    engine: Engine,
) -> None:
    graph = SqlIdentityGraph(engine)
    stage = ResolveIdentities(graph, IdentityRules())
    signup = {
        "type": "identify",
        "messageId": "signup",
        "userId": "ada",
        "anonymousId": "ada-laptop",
        "traits": {"phone": "+44 (20) 7946-0958"},
    }
    [first] = stage([item(0, signup, SIGNED_UP)])
    assert first.profile_id is not None
    assert graph.created_at(first.profile_id) == SIGNED_UP
    rows = rows_of(graph, first.profile_id)
    assert set(rows) == {"user_id:ada", "anonymous_id:ada-laptop", "phone:+442079460958"}
    for row in rows.values():
        assert (row["first_seen"], row["last_seen"]) == (SIGNED_UP, SIGNED_UP)
        assert row["first_message_id"] == "signup"
    assert rows["phone:+442079460958"]["sent_value"] == "+44 (20) 7946-0958"
    assert rows["user_id:ada"]["sent_value"] is None

    # Two hours on, the same visitor (one known identifier) and the user by id alone.
    later = SIGNED_UP + timedelta(hours=2, microseconds=7)
    back = {"type": "page", "messageId": "back", "anonymousId": "ada-laptop"}
    again = {"type": "track", "messageId": "again", "event": "Read", "userId": "ada"}
    resolved = stage([item(1, back, later), item(2, again, later)])
    assert [i.profile_id for i in resolved] == [first.profile_id, first.profile_id]
    rows = rows_of(graph, first.profile_id)
    assert rows["anonymous_id:ada-laptop"]["first_seen"] == SIGNED_UP
    assert rows["anonymous_id:ada-laptop"]["last_seen"] == later  # windowed: touched
    assert rows["user_id:ada"]["last_seen"] == SIGNED_UP  # no window: never rewritten
    assert graph.canonical("default", Identifier("phone", "+442079460958")) == first.profile_id
