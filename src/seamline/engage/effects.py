"""What a change in a computed trait or an audience membership sends: Segment Engage's shapes.

An audience change is a track call (`Audience Entered` / `Audience Exited`, with
`properties.audience_key` and `properties[key]`) and an identify with `traits[key]` true or
false; a computed trait change is an identify with the new value (null removes it). Both carry
`context.personas` as Segment's do, and go into the log like any message, so they are stored,
update the profile's traits and are routed to destinations. Message ids are derived from the
change's version, so a change emitted twice (a crash before it was recorded) is one message.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Sequence
from datetime import datetime
from typing import Any

import msgspec

from seamline.engage.realtime import ENGAGE_SOURCE, Change
from seamline.spec.envelope import Envelope
from seamline.spec.messages import ABSENT, Message

_encode = msgspec.json.Encoder().encode

Identifiers = Callable[[list[str]], dict[str, list[dict[str, Any]]]]
"""Canonical ids → each one's identifiers (`type`, `value`), oldest first."""


def messages_for(
    changes: Sequence[Change], audiences: set[str], identifiers: Identifiers, now: datetime
) -> list[Envelope]:
    """The messages announcing `changes`; changes of people with no user id, anonymous id or
    email to address them by are skipped."""
    out: list[Envelope] = []
    known = identifiers(sorted({change.profile_id for change in changes}))
    for change in changes:
        ids = _ids(known.get(change.profile_id, []))
        if not ids:
            continue
        is_audience = change.key in audiences
        value = bool(change.after) if is_audience else change.after
        personas = {
            "computation_class": "audience" if is_audience else "trait",
            "computation_key": change.key,
            "computation_id": f"{'aud' if is_audience else 'trt'}_{change.key}",
            "space_id": change.workspace_id,
        }
        context: dict[str, Any] = {"personas": personas}
        if "email" in ids:
            context["traits"] = {"email": ids["email"]}
        who = {k: v for k, v in ids.items() if k in ("userId", "anonymousId")}
        traits = {change.key: value, **({"email": ids["email"]} if "email" in ids else {})}
        documents = [{"type": "identify", "traits": traits}]
        if is_audience:
            documents.insert(
                0,
                {
                    "type": "track",
                    "event": "Audience Entered" if value else "Audience Exited",
                    "properties": {"audience_key": change.key, change.key: value},
                },
            )
        raw_context = msgspec.Raw(_encode(context))
        for document in documents:
            # Built directly: a JSON round trip per message cost half of announcing.
            kind = str(document["type"])
            message = Message(
                type=kind,
                message_id=_message_id(change, kind),
                user_id=who.get("userId"),
                anonymous_id=who.get("anonymousId"),
                event=document.get("event"),  # type: ignore[arg-type]
                timestamp=now,
                received_at=now,
                properties=msgspec.Raw(_encode(document["properties"]))
                if "properties" in document
                else ABSENT,
                traits=msgspec.Raw(_encode(document["traits"])) if "traits" in document else ABSENT,
                context=raw_context,
            )
            out.append(
                Envelope(workspace_id=change.workspace_id, source_id=ENGAGE_SOURCE, message=message)
            )
    return out


def _ids(found: list[dict[str, Any]]) -> dict[str, str]:
    """The newest user id, anonymous id and email of a person, as message fields."""
    names = {"user_id": "userId", "anonymous_id": "anonymousId", "email": "email"}
    ids: dict[str, str] = {}
    for identifier in found:  # oldest first, so the newest wins
        name = names.get(str(identifier["type"]))
        if name is not None:
            ids[name] = str(identifier["value"])
    if "userId" not in ids and "anonymousId" not in ids and "email" not in ids:
        return {}
    return ids


def _message_id(change: Change, kind: str) -> str:
    seed = f"{change.workspace_id}\0{change.profile_id}\0{change.key}\0{change.version}\0{kind}"
    return "engage-" + hashlib.blake2b(seed.encode(), digest_size=16).hexdigest()
