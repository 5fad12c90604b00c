"""What every function runner shares: one sandboxed worker process, started at construction and
replaced whenever it hangs or dies, fed a batch at a time, one outcome back per item.

The kinds of function (`functions.FunctionRunner` for transformations,
`source_functions.SourceFunctionRunner`, `destination_functions.DestinationFunctionRunner`)
differ only in what their worker calls and in how a frame becomes an outcome: the hooks below.
Since outcomes come in order, the item after the last outcome is the one running: when nothing
arrives for `time_limit` seconds, that item is the one that hung.
"""

from __future__ import annotations

import sys
import threading
import time
import weakref
from typing import Any, Generic, Self, TypeVar

import msgspec

from seamline.errors import InvalidInput
from seamline.protocols.function_worker import WorkerSpec
from seamline.protocols.worker_process import WorkerExited, WorkerProcess

OutcomeT = TypeVar("OutcomeT")


def check_json_settings(name: str, settings: object, details: dict[str, Any]) -> None:
    """InvalidInput, naming function `name`, unless its `settings` are JSON data (they are
    sent to the worker as JSON)."""
    try:
        msgspec.json.encode(settings)
    except (TypeError, msgspec.EncodeError) as error:
        message = f"function {name!r}: settings must be JSON data: {error}"
        raise InvalidInput(message, details=details) from None


class SandboxedRunner(Generic[OutcomeT]):
    """Runs `spec.entry` of one function's code in a worker process, batch by batch.

    The worker is started, and the code loaded, at construction: InvalidInput if it doesn't
    compile, fails on import, lacks its entry point, takes longer than `load_time_limit`
    seconds, or if the sandbox cannot be set up here. Calls to `run` are serialised, so a runner
    may be shared by threads. `close` (or the context manager) stops the worker; it also stops
    when this process exits.
    """

    def __init__(
        self,
        spec: WorkerSpec,
        *,
        name: str,
        details: dict[str, Any],
        time_limit: float,
        load_time_limit: float,
    ) -> None:
        if sys.platform != "linux":
            message = f"function {name!r} cannot run in the sandbox: it needs Linux"
            raise InvalidInput(message, details=details)
        if time_limit <= 0 or load_time_limit <= 0:
            raise InvalidInput(f"function {name!r}: time limits must be positive", details=details)
        if spec.memory_limit_mb is not None and spec.memory_limit_mb <= 0:
            raise InvalidInput(f"function {name!r}: memory limit must be positive", details=details)
        self.name = name
        self.time_limit = time_limit
        self.memory_limit_mb = spec.memory_limit_mb
        self.load_time_limit = load_time_limit
        self._spec = spec
        self._details = details
        self._lock = threading.Lock()
        self._closed = False
        self._worker: WorkerProcess | None = None
        self.loaded = ""
        """What the worker said once it had loaded the code (see `EntryKind.loaded`)."""
        self._stop: weakref.finalize[[], SandboxedRunner[OutcomeT]] | None = None
        self._ensure_worker()

    _timed: str | None = None
    """What a timeout message says took too long (the entry point's name by default)."""

    # The hooks a kind of runner defines.

    def _outcome(self, frame: bytearray) -> OutcomeT:
        """The outcome a frame from the worker stands for."""
        raise NotImplementedError

    def _failed(self, kind: str, message: str) -> OutcomeT:
        """The outcome of an item that hung (`timeout`), killed its worker (`crashed`), or
        found no worker (`unavailable`: it could not be restarted)."""
        raise NotImplementedError

    def _collect(
        self, frames: list[bytearray], worker: WorkerProcess, outcomes: list[OutcomeT]
    ) -> None:
        """Turn the frames that arrived into outcomes; a runner whose worker also asks things
        of the parent (a destination function's `fetch`) answers those here."""
        outcomes += map(self._outcome, frames)

    # Running.

    def _run(self, batch: bytes, count: int, encode_rest: Any) -> list[OutcomeT]:
        """The outcomes of the `count` items encoded in `batch`; `encode_rest(done)` encodes
        the items from index `done` on, for a fresh worker after one hung or died."""
        with self._lock:
            if self._closed:
                raise RuntimeError(f"function runner {self.name!r} is closed")
            outcomes: list[OutcomeT] = []
            try:
                while len(outcomes) < count:
                    done = len(outcomes)
                    if done:  # a worker hung or died: the rest goes to a fresh one
                        batch = encode_rest(done)
                    outcomes += self._run_batch(batch, count - done)
            except BaseException:
                self._stop_worker()  # it may still be sending outcomes of this batch
                raise
            return outcomes

    def close(self) -> None:
        """Stop the worker; `run` raises afterwards. Closing twice is fine."""
        with self._lock:
            self._closed = True
            self._stop_worker()

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def _run_batch(self, batch: bytes, wanted: int) -> list[OutcomeT]:
        """Outcomes of the `wanted` items in `batch`, stopping early after an item that hung
        or killed the worker (that item's outcome is the last one)."""
        try:
            worker = self._ensure_worker()
        except InvalidInput as error:  # the code loaded once; whatever broke now, say so
            return [self._failed("unavailable", error.message)] * wanted
        worker.send(batch)
        outcomes: list[OutcomeT] = []
        deadline = time.monotonic() + self.time_limit
        while len(outcomes) < wanted:
            try:
                frames = worker.read(deadline - time.monotonic())
            except WorkerExited as exited:
                self._stop_worker()
                return [*outcomes, self._failed("crashed", str(exited))]
            if frames is None:
                self._stop_worker()
                what = self._timed or self._spec.entry
                message = f"{what} took longer than {self.time_limit} s"
                return [*outcomes, self._failed("timeout", message)]
            self._collect(frames, worker, outcomes)
            # Progress: the item now running started (or was answered) no earlier than this.
            deadline = time.monotonic() + self.time_limit
        return outcomes

    def _ensure_worker(self) -> WorkerProcess:
        worker = self._worker
        if worker is not None and worker.process.poll() is None:
            return worker
        self._stop_worker()  # died while idle (killed from outside): replace it
        worker = WorkerProcess.start(self.name, self._spec)
        try:
            self.loaded = worker.wait_loaded(self.name, self._details, self.load_time_limit)
        except BaseException:
            worker.stop()
            raise
        self._worker = worker
        # Stops the worker when the runner is garbage collected or the interpreter exits.
        self._stop = weakref.finalize(self, worker.stop)
        return worker

    def _stop_worker(self) -> None:
        if self._stop is not None:
            self._stop()  # runs worker.stop at most once
        self._worker = None
        self._stop = None
