"""The identity rules in force per workspace, as the pipeline reads them.

The identity stage asks once per workspace per batch. At most every `check_every` seconds an
ask reads the number of the active version (one indexed row: ~1 ms on SQLite, which every
batch would feel); the document is read and compiled again only when that number moved.
A re-resolution swaps its graph in and activates its version while the pipeline is paused, and
a paused pipeline opens its stores (and this cache) anew when it resumes, so no batch resolves
against a re-resolved graph with the rules it replaced. A workspace with no version yet gets
version 1 from the seed (store/identity_rules_sql.py).
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable

from seamline.identity.rules import IdentityRules
from seamline.identity.rules_document import rules_from_document
from seamline.store.identity_rules_sql import SqlIdentityRules

logger = logging.getLogger(__name__)


class IdentityRulesCache:
    """`cache(workspace_id)` → the workspace's rules in force (see the module docstring)."""

    def __init__(
        self,
        store: SqlIdentityRules,
        check_every: float = 1.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._store = store
        self._check_every = check_every
        self._clock = clock
        self._rules: dict[str, tuple[int, IdentityRules]] = {}
        self._checked: dict[str, float] = {}
        self._lock = threading.Lock()

    def __call__(self, workspace_id: str) -> IdentityRules:
        cached = self._rules.get(workspace_id)
        now = self._clock()
        if cached is not None and now - self._checked[workspace_id] < self._check_every:
            return cached[1]
        self._checked[workspace_id] = now
        version = self._store.active_version(workspace_id)
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
