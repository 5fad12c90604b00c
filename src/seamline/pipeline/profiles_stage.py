"""Profiles stage: trait updates from the batch's messages, onto their resolved profiles."""

from __future__ import annotations

from seamline.pipeline.batch import Batch
from seamline.profiles.traits import TraitStore, trait_updates


class UpdateTraits:
    """Writes the newest trait values of the batch; passes the batch on unchanged."""

    def __init__(self, store: TraitStore) -> None:
        self._store = store

    def __call__(self, batch: Batch) -> Batch:
        updates = trait_updates(batch)
        if updates:
            self._store.upsert(updates)
        return batch
