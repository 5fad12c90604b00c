"""The identity rules in force per workspace, as the pipeline reads them.

The identity stage asks once per workspace per batch. Each ask reads only the number of the
active version (one indexed row); the document is read and compiled again only when that number
moved, which happens when a re-resolution swaps in a new graph with its rules. So a batch never
resolves against a re-resolved graph with the rules it replaced. A workspace with no version
yet gets version 1 from the seed (store/identity_rules_sql.py).
"""

from __future__ import annotations

import logging
import threading

from seamline.identity.rules import IdentityRules
from seamline.identity.rules_document import rules_from_document
from seamline.store.identity_rules_sql import SqlIdentityRules

logger = logging.getLogger(__name__)


class IdentityRulesCache:
    """`cache(workspace_id)` → the workspace's rules in force (see the module docstring)."""

    def __init__(self, store: SqlIdentityRules) -> None:
        self._store = store
        self._rules: dict[str, tuple[int, IdentityRules]] = {}
        self._lock = threading.Lock()

    def __call__(self, workspace_id: str) -> IdentityRules:
        version = self._store.active_version(workspace_id)
        cached = self._rules.get(workspace_id)
        if cached is not None and cached[0] == version:
            return cached[1]
        with self._lock:
            active = self._store.ensure_active(workspace_id)
            rules = rules_from_document(active.document)
            self._rules[workspace_id] = (active.version, rules)
        logger.info("workspace %s: identity rules version %d loaded", workspace_id, active.version)
        return rules

    def version(self, workspace_id: str) -> int | None:
        """The version whose rules were last handed out for the workspace (None: not yet)."""
        cached = self._rules.get(workspace_id)
        return None if cached is None else cached[0]
