"""Profiles stage: trait updates from the batch's messages, onto their resolved profiles."""

from __future__ import annotations

from seamline.engage.realtime import ENGAGE_SOURCE
from seamline.pipeline.batch import Batch
from seamline.pipeline.trace import TraceRecorder
from seamline.profiles.accounts import AccountStore, group_changes
from seamline.profiles.traits import TraitStore, trait_updates


class UpdateTraits:
    """Writes the newest trait values of the batch; passes the batch on unchanged."""

    def __init__(self, store: TraitStore, trace: TraceRecorder | None = None) -> None:
        self._store = store
        self._trace = trace

    def __call__(self, batch: Batch) -> Batch:
        updates = trait_updates(batch, computed_by=ENGAGE_SOURCE)
        if updates:
            self._store.upsert(updates)
            if self._trace is not None:
                # Updates name their message; a batch holds one message per id after dedup.
                positions = {item.envelope.message.message_id: item.offset for item in batch}
                for update in updates:
                    position = positions.get(update.message_id)
                    if position is not None:
                        value = None if update.removed else update.value
                        self._trace.note(position, "traits", {"name": update.name, "value": value})
        return batch


class UpdateAccounts:
    """Attaches profiles to the accounts their `group` calls name and sets account traits."""

    def __init__(self, accounts: AccountStore, traits: TraitStore) -> None:
        self._accounts = accounts
        self._traits = traits

    def __call__(self, batch: Batch) -> Batch:
        memberships, updates = group_changes(batch)
        if memberships:
            self._accounts.add_members(memberships)
        if updates:
            self._traits.upsert(updates)
        return batch
