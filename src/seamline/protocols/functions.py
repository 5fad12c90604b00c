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
not per event), and since outcomes come in order, the event after the last outcome is the one
running: when nothing arrives for `time_limit` seconds, that event is the one that hung.
The worker's side, and the frame format, are in `protocols.function_worker`.
"""

from __future__ import annotations

import contextlib
import os
import selectors
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
import weakref
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any, Literal, Self

import msgspec

import seamline
from seamline.errors import InvalidInput
from seamline.protocols.function_worker import (
    _DROPPED_TAG,
    _HEADER,
    _LOADED,
    _OK_TAG,
    _SANDBOX_FAILED,
    BOOTSTRAP,
    WorkerSpec,
)


class Outcome(msgspec.Struct, frozen=True):
    """What became of one event: `ok` with the transformed `event`, `dropped` (the function
    returned None), `error` with the traceback or reason, or `timeout` with a message."""

    kind: Literal["ok", "dropped", "error", "timeout"]
    event: dict[str, Any] | None = None
    error: str | None = None


class FunctionRunner:
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
        if sys.platform != "linux":
            message = f"function {name!r} cannot run in the sandbox: it needs Linux"
            raise InvalidInput(message, details=details)
        if time_limit <= 0 or load_time_limit <= 0:
            raise InvalidInput(f"function {name!r}: time limits must be positive", details=details)
        if memory_limit_mb is not None and memory_limit_mb <= 0:
            raise InvalidInput(f"function {name!r}: memory limit must be positive", details=details)
        try:
            # Read once: a restarted worker runs the same code even if the file changes.
            source = path.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as error:
            message = f"function {name!r}: cannot read {path}: {error}"
            raise InvalidInput(message, details=details) from error
        self.path = path
        self.name = name
        self.time_limit = time_limit
        self.memory_limit_mb = memory_limit_mb
        self.load_time_limit = load_time_limit
        self._source = source
        self._sandbox = _sandbox
        self._lock = threading.Lock()
        self._closed = False
        self._encoder = msgspec.json.Encoder()
        self._decoder = msgspec.json.Decoder(dict[str, Any])
        self._worker: _Worker | None = None
        self._stop: weakref.finalize[[], FunctionRunner] | None = None
        self._ensure_worker()

    def run(self, events: list[dict[str, Any]]) -> list[Outcome]:
        """One outcome per event, in order. Nothing the function does makes this raise: an event
        that hangs or kills the worker gets its outcome, and a fresh worker takes the rest.
        InvalidInput if `events` are not JSON objects; RuntimeError once the runner is closed."""
        batch = self._encode(events)
        with self._lock:
            if self._closed:
                raise RuntimeError(f"function runner {self.name!r} is closed")
            outcomes: list[Outcome] = []
            try:
                while len(outcomes) < len(events):
                    done = len(outcomes)
                    if done:  # a worker hung or died: the rest goes to a fresh one
                        batch = self._encode(events[done:])
                    outcomes += self._run_batch(batch, len(events) - done)
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

    def _encode(self, events: list[dict[str, Any]]) -> bytes:
        for event in events:
            if not isinstance(event, dict):
                raise InvalidInput(f"events must be dicts, got {type(event).__name__}")
        try:
            return self._encoder.encode(events)
        except (TypeError, msgspec.EncodeError) as error:
            raise InvalidInput(f"events must be JSON data: {error}") from error

    def _run_batch(self, batch: bytes, wanted: int) -> list[Outcome]:
        """Outcomes of the `wanted` events in `batch` (a JSON array), stopping early after an
        event that hung or killed the worker (that event's outcome is the last one)."""
        try:
            worker = self._ensure_worker()
        except InvalidInput as error:  # the file loaded once; whatever broke now, say so
            return [Outcome("error", error=error.message)] * wanted
        worker.send(batch)
        outcomes: list[Outcome] = []
        deadline = time.monotonic() + self.time_limit
        while len(outcomes) < wanted:
            try:
                frames = worker.read(deadline - time.monotonic())
            except _WorkerExited as exited:
                self._stop_worker()
                return [*outcomes, Outcome("error", error=str(exited))]
            if frames is None:
                self._stop_worker()
                message = f"transform took longer than {self.time_limit} s"
                return [*outcomes, Outcome("timeout", error=message)]
            # Progress: the event now running started no earlier than this.
            deadline = time.monotonic() + self.time_limit
            outcomes += map(self._outcome, frames)
        return outcomes

    def _outcome(self, frame: bytearray) -> Outcome:
        tag = frame[0]
        if tag == _OK_TAG:
            return Outcome("ok", event=self._decoder.decode(frame))
        if tag == _DROPPED_TAG:
            return _DROPPED_OUTCOME
        return Outcome("error", error=frame[1:].decode("utf-8", "replace"))

    def _ensure_worker(self) -> _Worker:
        worker = self._worker
        if worker is not None and worker.process.poll() is None:
            return worker
        self._stop_worker()  # died while idle (killed from outside): replace it
        spec = WorkerSpec(self._source, str(self.path), self.memory_limit_mb, self._sandbox)
        worker = _Worker.start(self.name, spec)
        try:
            worker.wait_loaded(self.name, self.path, self.load_time_limit)
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


class _WorkerExited(Exception):
    """The worker process ended (or closed its pipe) while it had work."""

    def __init__(self, exitcode: int | None) -> None:
        self.exitcode = exitcode
        if exitcode is None:
            message = "worker closed its pipe"
        elif exitcode < 0:
            message = f"worker exited with code {exitcode} ({_signal_name(-exitcode)})"
        else:
            message = f"worker exited with code {exitcode}"
        super().__init__(message)


_DROPPED_OUTCOME = Outcome("dropped")
_READ_SIZE = 1 << 18
_KILL_GRACE = 0.5  # seconds between SIGTERM and SIGKILL


class _Worker:
    """The parent's handle on one worker process, its two pipes and its private directory."""

    def __init__(
        self, process: subprocess.Popen[bytes], requests: Connection, outcomes: int, workdir: str
    ) -> None:
        self.process = process
        self.requests = requests
        self.outcomes = outcomes
        self.workdir = workdir
        os.set_blocking(outcomes, False)  # read what is there, never wait for a whole frame
        # Readable once the process has exited (Linux 5.3+), like multiprocessing's sentinel.
        self._exit_fd = os.pidfd_open(process.pid)
        self._selector = selectors.DefaultSelector()
        self._selector.register(outcomes, selectors.EVENT_READ)
        self._selector.register(self._exit_fd, selectors.EVENT_READ)
        self._buffer = bytearray()
        self._exited = False

    @classmethod
    def start(cls, name: str, spec: WorkerSpec) -> _Worker:
        """Start a worker for `spec` in a new private directory and send it the spec."""
        requests_reader, requests_writer = os.pipe()
        outcomes_reader, outcomes_writer = os.pipe()
        workdir = tempfile.mkdtemp(prefix=f"seamline-function-{_safe(name)}-")
        workdir_fd = os.open(workdir, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
        passed = (requests_reader, outcomes_writer, workdir_fd)
        # The directory holding the seamline package, for the worker's sys.path.
        package_root = str(Path(seamline.__file__).resolve().parent.parent)
        command = [sys.executable, "-I", "-B", "-c", BOOTSTRAP, package_root, *map(str, passed)]
        try:
            process = subprocess.Popen(
                command,
                env={},  # nothing of the server's environment reaches the function
                stdin=subprocess.DEVNULL,
                pass_fds=passed,
                start_new_session=True,  # the terminal's signals are for the server
            )
        except BaseException:
            for fd in (requests_writer, outcomes_reader):
                os.close(fd)
            shutil.rmtree(workdir, ignore_errors=True)
            raise
        finally:
            # Only the worker may hold these ends, or its exit would not show as end of file.
            for fd in passed:
                os.close(fd)
        requests = Connection(requests_writer, readable=False)
        try:
            worker = cls(process, requests, outcomes_reader, workdir)
        except BaseException:  # no pidfd (Linux < 5.3): never leave the process behind
            process.kill()
            process.wait()
            requests.close()
            os.close(outcomes_reader)
            shutil.rmtree(workdir, ignore_errors=True)
            raise
        worker.send(msgspec.json.encode(spec))
        return worker

    def wait_loaded(self, name: str, path: Path, time_limit: float) -> None:
        """Return once the worker has loaded the function; InvalidInput if it could not."""
        details: dict[str, Any] = {"function": name, "path": str(path)}
        deadline = time.monotonic() + time_limit
        frames: list[bytearray] | None = []
        while frames == []:
            try:
                frames = self.read(deadline - time.monotonic())
            except _WorkerExited as exited:
                message = f"function {name!r} could not be loaded: {exited}"
                raise InvalidInput(message, details=details) from None
        if frames is None:
            message = f"function {name!r} took longer than {time_limit} s to load"
            raise InvalidInput(message, details=details)
        tag, reason = frames[0][:1], frames[0][1:].decode("utf-8", "replace")
        if tag == _SANDBOX_FAILED:
            details["sandbox"] = reason
            message = f"function {name!r} cannot run in the sandbox: {reason}"
            raise InvalidInput(message, details=details)
        if tag != _LOADED:
            details["traceback"] = reason
            summary = reason.strip().splitlines()[-1] if reason.strip() else "unknown error"
            raise InvalidInput(f"function {name!r} could not be loaded: {summary}", details=details)

    def send(self, batch: bytes) -> None:
        with contextlib.suppress(BrokenPipeError):  # the worker died; the next read says how
            self.requests.send_bytes(batch)

    def read(self, timeout: float) -> list[bytearray] | None:
        """The whole frames that arrived within `timeout` seconds (empty if only part of one
        did), or None if nothing did. _WorkerExited once the worker is gone and drained."""
        if not self._exited:
            ready = self._selector.select(max(timeout, 0.0))
            if not ready:
                return None
            at_end = self._drain()
            # By the time the exit shows, everything the worker wrote is in the pipe.
            self._exited = at_end or any(key.fd != self.outcomes for key, _ in ready)
        frames = _split_frames(self._buffer)
        if self._exited and not frames:
            with contextlib.suppress(subprocess.TimeoutExpired):
                self.process.wait(_KILL_GRACE)
            raise _WorkerExited(self.process.returncode)
        return frames

    def _drain(self) -> bool:
        """Append all that can be read now to the buffer; True at end of file."""
        while True:
            try:
                chunk = os.read(self.outcomes, _READ_SIZE)
            except BlockingIOError:
                return False
            if not chunk:
                return True
            self._buffer += chunk

    def stop(self) -> None:
        """Kill the worker (SIGTERM, SIGKILL after a grace period), close its pipes and remove
        its private directory."""
        process = self.process
        if process.poll() is None:
            process.terminate()
            try:
                process.wait(_KILL_GRACE)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
        self._selector.close()
        self.requests.close()
        os.close(self.outcomes)
        os.close(self._exit_fd)
        shutil.rmtree(self.workdir, ignore_errors=True)


def _safe(name: str) -> str:
    return "".join(c if c.isalnum() or c in "-_" else "_" for c in name)[:40]


def _split_frames(buffer: bytearray) -> list[bytearray]:
    """Remove the complete frames at the start of `buffer` and return their contents."""
    frames = []
    offset = 0
    end = len(buffer)
    while end - offset >= _HEADER.size:
        (size,) = _HEADER.unpack_from(buffer, offset)
        start = offset + _HEADER.size
        if end - start < size:
            break
        frames.append(buffer[start : start + size])
        offset = start + size
    del buffer[:offset]
    return frames


def _signal_name(number: int) -> str:
    try:
        return signal.Signals(number).name
    except ValueError:
        return f"signal {number}"
