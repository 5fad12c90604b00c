"""Custom transformation functions, each run in its own worker process.

A *function* is a Python file that defines::

    def transform(event: dict) -> dict | None: ...

`event` is one Segment message as plain JSON data, with the Spec's camelCase names (`type`,
`event`, `messageId`, `userId`, `properties`, `context`, ...). Returning a dict replaces the
event; returning None drops it on purpose (a `dropped` outcome, counted apart from errors).

A function may:

- reshape one event: rename, add, remove or compute fields, or drop the event;
- use the standard library (and packages installed next to Seamline);
- keep module-level caches, which persist between calls within one worker life.

A function must not:

- rely on state between calls: the worker is replaced after a timeout or a crash, and whenever
  Seamline restarts, so module-level state may be reset at any time;
- be slow: each event has a time limit (`time_limit`); an event over it gets a `timeout`
  outcome and the worker is killed and replaced;
- have external side effects that are not idempotent: an event may be transformed again on
  replay or after a restart;
- use more memory than `memory_limit_mb` (address space, RLIMIT_AS): an allocation over it
  raises MemoryError inside the function.

A function cannot (`protocols.sandbox` confines the worker before it loads the code): read
anything but the Python installation, system libraries and timezones; write outside its
private temporary directory (removed with the worker); see any environment variable; open a
socket; start a process; signal another; or run as root (a root server's worker runs as
`seamline-fn` or `nobody`). Trying raises PermissionError in the function. If the sandbox
cannot be set up on this machine, the function refuses to load (InvalidInput says why). What a
function prints goes to Seamline's output.

The worker is a fresh interpreter (`python -I`, started by subprocess: the pipeline is
multi-threaded, so fork is unsafe) with an empty environment. The function cannot touch the
caller's objects: it gets a copy of each event, and its result must be JSON data
(msgspec.json encodes it, so datetimes, UUIDs and the like arrive as their JSON strings).
Whatever it raises, returns or does to its process, `FunctionRunner.run` returns one `Outcome`
per event and the runner keeps working.

Protocol: the parent sends a whole batch as one JSON array on one pipe; the worker transforms
the events one by one and writes each outcome as a length-prefixed frame on a second pipe as
soon as it is done. The parent reads whatever has arrived in bulk (a few syscalls per batch,
not per event). The running, timing and replacing of workers is `sandboxed_runner`'s, the
process handle `worker_process`'s; the worker's side, and the frame format, are in
`function_worker`. Source and destination functions run in the same workers
(`source_functions`, `destination_functions`).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Literal

import msgspec

from seamline.errors import InvalidInput
from seamline.protocols.function_worker import _DROPPED_TAG, _OK_TAG, WorkerSpec
from seamline.protocols.sandboxed_runner import SandboxedRunner


class Outcome(msgspec.Struct, frozen=True):
    """What became of one event: `ok` with the transformed `event`, `dropped` (the function
    returned None), `error` with the traceback or reason, or `timeout` with a message."""

    kind: Literal["ok", "dropped", "error", "timeout"]
    event: dict[str, Any] | None = None
    error: str | None = None


class FunctionRunner(SandboxedRunner[Outcome]):
    """Runs the `transform` in the file at `path` in a worker process, batch by batch.

    The worker is started, and the file loaded, at construction: InvalidInput if the file can't
    be read, doesn't compile, fails on import, defines no `transform`, takes longer than
    `load_time_limit` seconds, or if the sandbox cannot be set up here. Calls to `run` are
    serialised, so a runner may be shared by threads. Call `close` (or use it as a context
    manager) to stop the worker; it also stops when this process exits.
    """

    def __init__(
        self,
        path: Path,
        *,
        name: str,
        time_limit: float = 1.0,
        memory_limit_mb: int | None = 512,
        load_time_limit: float = 10.0,
        _sandbox: bool = True,  # internal: benchmarks/functions.py measures the sandbox's cost
    ) -> None:
        details = {"function": name, "path": str(path)}
        try:
            # Read once: a restarted worker runs the same code even if the file changes.
            source = path.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as error:
            message = f"function {name!r}: cannot read {path}: {error}"
            raise InvalidInput(message, details=details) from error
        self.path = path
        self._encoder = msgspec.json.Encoder()
        self._decoder = msgspec.json.Decoder(dict[str, Any])
        spec = WorkerSpec(source, str(path), memory_limit_mb, _sandbox)
        super().__init__(
            spec,
            name=name,
            details=details,
            time_limit=time_limit,
            load_time_limit=load_time_limit,
        )

    def run(self, events: list[dict[str, Any]]) -> list[Outcome]:
        """One outcome per event, in order. Nothing the function does makes this raise: an event
        that hangs or kills the worker gets its outcome, and a fresh worker takes the rest.
        InvalidInput if `events` are not JSON objects; RuntimeError once the runner is closed."""
        batch = self._encode(events)
        return self._run(batch, len(events), lambda done: self._encode(events[done:]))

    def _encode(self, events: list[dict[str, Any]]) -> bytes:
        for event in events:
            if not isinstance(event, dict):
                raise InvalidInput(f"events must be dicts, got {type(event).__name__}")
        try:
            return self._encoder.encode(events)
        except (TypeError, msgspec.EncodeError) as error:
            raise InvalidInput(f"events must be JSON data: {error}") from error

    def _outcome(self, frame: bytearray) -> Outcome:
        tag = frame[0]
        if tag == _OK_TAG:
            return Outcome("ok", event=self._decoder.decode(frame))
        if tag == _DROPPED_TAG:
            return _DROPPED_OUTCOME
        return Outcome("error", error=frame[1:].decode("utf-8", "replace"))

    def _failed(self, kind: str, message: str) -> Outcome:
        # A transformation reports a crash, or a worker that cannot be restarted, as an error.
        return Outcome("timeout" if kind == "timeout" else "error", error=message)


_DROPPED_OUTCOME = Outcome("dropped")
