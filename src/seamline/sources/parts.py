"""What every role builds for webhook sources: the store, the cached lookup collect and the
pipeline share, and the operations the API and the CLI call."""

from __future__ import annotations

from sqlalchemy import Engine

from seamline.access.sealing import Sealer
from seamline.collect.webhook import WebhookLookup
from seamline.sources.webhook import WebhookOps
from seamline.store.webhooks_sql import SqlWebhookSources
from seamline.workspace.resources import ResourceStore


class WebhookParts:
    """The webhook sources of one process."""

    def __init__(self, state: Engine, resources: ResourceStore, sealer: Sealer) -> None:
        self.store = SqlWebhookSources(state)
        self.lookup = WebhookLookup(self.store.by_token_hash, self.store.get)
        # A change made in this process applies here at once; elsewhere within the TTL.
        self.ops = WebhookOps(self.store, resources, sealer, lambda _ws: self.lookup.forget())
