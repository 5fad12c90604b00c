"""Accounts: the group profiles that `group` calls attach people to, with their own traits."""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol

import msgspec

from seamline.profiles.traits import TraitUpdate
from seamline.spec.envelope import Item

_object = msgspec.json.Decoder(dict[str, Any])


def account_id(workspace_id: str, group_id: str) -> str:
    """The account profile's id; derived from the group id so every worker agrees on it."""
    digest = hashlib.blake2b(f"{workspace_id}\0{group_id}".encode(), digest_size=12)
    return "acc_" + digest.hexdigest()


@dataclass(frozen=True)
class Membership:
    account_id: str
    workspace_id: str
    group_id: str
    profile_id: str
    at: datetime
    source_id: str


class AccountStore(Protocol):
    def add_members(self, memberships: Sequence[Membership]) -> None: ...


def group_changes(batch: Sequence[Item]) -> tuple[list[Membership], list[TraitUpdate]]:
    """Memberships and account trait updates from the batch's `group` calls."""
    memberships: list[Membership] = []
    updates: dict[tuple[str, str], TraitUpdate] = {}
    for item in batch:
        message = item.envelope.message
        if message.type != "group" or item.profile_id is None or not message.group_id:
            continue
        at = message.timestamp
        assert at is not None, "the collector sets a timestamp on every message"
        group_id = str(message.group_id)
        account = account_id(item.envelope.workspace_id, group_id)
        memberships.append(
            Membership(
                account,
                item.envelope.workspace_id,
                group_id,
                item.profile_id,
                at,
                item.envelope.source_id,
            )
        )
        traits = _object.decode(message.traits) if message.traits else {}
        for name, value in traits.items():
            update = TraitUpdate(
                account,
                name,
                value,
                value is None,
                at,
                item.envelope.source_id,
                message.message_id or "",
            )
            current = updates.get((account, name))
            if current is None or update.at >= current.at:
                updates[(account, name)] = update
    return memberships, list(updates.values())
