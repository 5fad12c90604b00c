"""Reverse ETL in a process: the model runner over the process's parts (the API's "run now",
the CLI) and the scheduler the deliver role runs."""

from __future__ import annotations

from collections.abc import Callable

from seamline.reverse_etl.runner import ModelRunner
from seamline.reverse_etl.scheduler import ModelScheduler
from seamline.roles.parts import Parts
from seamline.store.models_sql import SqlModelState


def model_runner(parts: Parts, queued: Callable[[], None] = lambda: None) -> ModelRunner:
    """Runs models with this process's stores; `queued` wakes local delivery workers."""
    return ModelRunner(
        SqlModelState(parts.state),
        parts.resources,
        parts.outbox,
        parts.sealer,
        destinations=lambda workspace_id: parts.rules.get(workspace_id).deliverable,
        readable=lambda workspace_id: parts.rules.get(workspace_id).erasable,
        events=lambda: parts.events,
        queued=queued,
    )


def model_scheduler(parts: Parts, runner: ModelRunner) -> ModelScheduler:
    return ModelScheduler(
        runner, parts.resources, lambda: {source.workspace_id for source in parts.sources.list()}
    )
