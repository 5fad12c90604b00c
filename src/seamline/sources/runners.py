"""The running source functions of a pipeline process: one sandboxed runner per webhook source,
started when its first request comes and replaced when its code, time limit or settings change.
"""

from __future__ import annotations

import hashlib
import logging
import threading
from collections.abc import Callable
from typing import Any

import msgspec

from seamline.errors import SeamlineError
from seamline.sources.stage import SourceRunner
from seamline.store.webhooks_sql import WebhookSource
from seamline.workspace.resources import ResourceStore

logger = logging.getLogger(__name__)

StartRunner = Callable[[str, str, dict[str, Any], float], SourceRunner]
"""(function name, code, settings in the clear, time limit) → a started runner; raises
SeamlineError when the code cannot load."""


class SourceRunners:
    """`runner_for` of the source-function stage, over the workspace's `function` resources."""

    def __init__(
        self,
        resources: ResourceStore,
        unseal: Callable[[WebhookSource], dict[str, Any]],
        start: StartRunner,
    ) -> None:
        self._resources = resources
        self._unseal = unseal
        self._start = start
        self._running: dict[str, tuple[str, SourceRunner]] = {}
        self._lock = threading.Lock()

    def __call__(self, webhook: WebhookSource) -> SourceRunner | str:
        """The source's runner, or why it has none (the request is held with that reason)."""
        name = webhook.function
        if not name:
            return f"webhook source {webhook.source_id!r} has no source function"
        found = self._resources.get(webhook.workspace_id, "function", name)
        if found is None:
            return f"source function {name!r} does not exist in this workspace"
        code = str(found.document.get("code", ""))
        limit = float(found.document.get("time_limit", 1.0))
        try:
            settings = self._unseal(webhook)
        except SeamlineError as error:
            return f"source function {name!r}: its settings cannot be read: {error}"
        key = hashlib.sha256(
            msgspec.json.encode([name, code, limit, settings], order="sorted")
        ).hexdigest()
        with self._lock:
            running = self._running.get(webhook.source_id)
            if running is not None and running[0] == key:
                return running[1]
            try:
                runner = self._start(name, code, settings, limit)
            except SeamlineError as error:
                return f"source function {name!r} cannot start: {error}"
            self._running[webhook.source_id] = (key, runner)
        if running is not None:
            _close(running[1])
        return runner

    def close(self) -> None:
        with self._lock:
            running, self._running = self._running, {}
        for _, runner in running.values():
            _close(runner)


def _close(runner: SourceRunner) -> None:
    close = getattr(runner, "close", None)
    if callable(close):
        try:
            close()
        except Exception:  # a worker that is gone already; nothing to release
            logger.exception("closing a source function's runner failed")


def start_sandboxed(
    name: str, code: str, settings: dict[str, Any], time_limit: float
) -> SourceRunner:
    """A source function's runner in the functions sandbox (`protocols.source_functions`)."""
    from seamline.protocols.source_functions import SourceFunctionRunner

    return SourceFunctionRunner(name, code, settings, time_limit=time_limit)
