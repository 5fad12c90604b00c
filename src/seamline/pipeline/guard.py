"""How a stage's failure is contained: one bad record is held, an outage is waited out.

A stage that raises is either failing because of something outside any record (the state
database is unreachable, the disk is full) or because of one record it cannot handle. The
first kind is retried with backoff until it passes, and the pipeline reports itself stalled
meanwhile; the second kind is narrowed down by running the stage on halves of the batch, and
the records that fail on their own are held (disposition `error`) while the rest go on.

Re-running a stage on part of a batch is safe because every effect is idempotent by log offset
and messageId (ARCHITECTURE rule 2), the same property crash recovery relies on.
"""

from __future__ import annotations

import logging
import sqlite3
import threading
from collections.abc import Callable
from dataclasses import dataclass, field

import duckdb
from sqlalchemy import exc as sql_errors

from seamline.pipeline.batch import Batch, Stage
from seamline.spec.envelope import Item

logger = logging.getLogger(__name__)

# Failures of the machinery a stage stands on, not of a record: the batch is retried whole.
_SYSTEMIC: tuple[type[BaseException], ...] = (
    OSError,
    MemoryError,
    sql_errors.OperationalError,
    sql_errors.InterfaceError,
    sql_errors.DisconnectionError,
    sql_errors.TimeoutError,
    sqlite3.OperationalError,
    duckdb.IOException,
    duckdb.ConnectionException,
    duckdb.OutOfMemoryException,
)
# After this many systemic failures in a row on one batch, look for a record that causes them
# (a value the database refuses can raise an "operational" error too).
_NARROW_AFTER = 3

Hold = Callable[[list[Item], str, BaseException], None]
"""Records failed items as held, with the stage's name and the exception."""


class Halted(Exception):
    """The pipeline was asked to stop while waiting out an outage; the batch stays uncommitted
    in the log and is processed again after a restart."""


def is_systemic(error: BaseException) -> bool:
    """True when `error` says the stage's environment failed rather than one record."""
    return isinstance(error, _SYSTEMIC)


def stage_name(stage: Stage) -> str:
    """The name a stage is reported under (held records, logs, `/readyz`)."""
    name = getattr(stage, "name", None)
    return name if isinstance(name, str) else type(stage).__name__


@dataclass
class Backoff:
    """Delays between retries of a stalled stage: doubling from `first` up to `longest`."""

    first: float = 0.5
    longest: float = 30.0
    max_retries: int | None = None  # None: retry until it passes (serve); rebuild sets a bound

    def delay(self, attempt: int) -> float:
        return float(min(self.longest, self.first * (2 ** max(attempt - 1, 0))))


@dataclass
class StageGuard:
    """Runs stages so that no single record and no passing outage can stop the pipeline."""

    hold: Hold
    backoff: Backoff = field(default_factory=Backoff)
    halt: threading.Event = field(default_factory=threading.Event)
    stalled: str | None = None  # what the pipeline is waiting on, while it waits
    errors_held: int = 0

    def run(self, stage: Stage, batch: Batch) -> Batch:
        """`stage(batch)`, with failing records held and systemic failures retried."""
        attempt = 0
        while True:
            try:
                result = self._attempt(stage, batch, attempt)
            except Halted:
                raise
            except Exception as error:
                if not is_systemic(error):
                    raise
                attempt += 1
                self._wait(stage, error, attempt)
                continue
            self._recovered()
            return result

    def _attempt(self, stage: Stage, batch: Batch, attempt: int) -> Batch:
        try:
            return stage(batch)
        except Halted:
            raise
        except Exception as error:
            if is_systemic(error) and (attempt + 1 < _NARROW_AFTER or len(batch) == 1):
                raise
            return self._narrow(stage, batch, error, top=True)

    def _narrow(self, stage: Stage, batch: Batch, error: BaseException, *, top: bool) -> Batch:
        """Run `stage` on halves of `batch` (which failed with `error`) until the records that
        fail alone are found; hold those and return what the others produced.

        When both halves of the whole batch fail with a systemic error, the failure is not a
        record's: it is raised for the caller to wait out.
        """
        if len(batch) == 1:
            self._hold(stage, batch, error)
            return []
        middle = len(batch) // 2
        halves = (batch[:middle], batch[middle:])
        outcomes: list[Batch | BaseException] = []
        for half in halves:
            try:
                outcomes.append(stage(half))
            except Halted:
                raise
            except Exception as failed:
                outcomes.append(failed)
        if top and all(isinstance(o, BaseException) and is_systemic(o) for o in outcomes):
            first = outcomes[0]
            assert isinstance(first, BaseException)
            raise first
        result: Batch = []
        for half, outcome in zip(halves, outcomes, strict=True):
            if isinstance(outcome, BaseException):
                result.extend(self._narrow(stage, half, outcome, top=False))
            else:
                result.extend(outcome)
        return result

    def _hold(self, stage: Stage, items: Batch, error: BaseException) -> None:
        name = stage_name(stage)
        item = items[0]
        logger.error(
            "stage %s failed on log record %d (message %s); held with disposition error",
            name,
            item.offset,
            item.envelope.message.message_id,
            exc_info=error,
        )
        self.hold(items, name, error)
        self.errors_held += len(items)

    def _wait(self, stage: Stage, error: BaseException, attempt: int) -> None:
        name = stage_name(stage)
        self.stalled = f"stage {name}: {type(error).__name__}: {error}"
        limit = self.backoff.max_retries
        if limit is not None and attempt > limit:
            raise error
        delay = self.backoff.delay(attempt)
        logger.warning(
            "stage %s failed (%s: %s); retry %d in %.1f s",
            name,
            type(error).__name__,
            error,
            attempt,
            delay,
        )
        if self.halt.wait(delay):
            raise Halted(self.stalled) from error

    def _recovered(self) -> None:
        if self.stalled is not None:
            logger.warning("the pipeline recovered from: %s", self.stalled)
            self.stalled = None
