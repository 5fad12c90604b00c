"""The parent's side of a function worker process: starting it, its pipes, reading its frames,
stopping it. Every kind of function runner (`functions`, `source_functions`,
`destination_functions`) drives its workers through `WorkerProcess`; the worker's side, and the
frame format, are in `function_worker`."""

from __future__ import annotations

import contextlib
import os
import selectors
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any

import msgspec

import seamline
from seamline.errors import InvalidInput
from seamline.protocols.function_worker import (
    _HEADER,
    _LOADED,
    _SANDBOX_FAILED,
    BOOTSTRAP,
    WorkerSpec,
)


class WorkerExited(Exception):
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


_READ_SIZE = 1 << 18
_KILL_GRACE = 0.5  # seconds between SIGTERM and SIGKILL


class WorkerProcess:
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
    def start(cls, name: str, spec: WorkerSpec) -> WorkerProcess:
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

    def wait_loaded(self, name: str, details: dict[str, Any], time_limit: float) -> str:
        """Once the worker has loaded the function, what it said about it (a destination
        function's handlers); InvalidInput (with `details` and what went wrong) if it could
        not load it."""
        details = dict(details)
        deadline = time.monotonic() + time_limit
        frames: list[bytearray] | None = []
        while frames == []:
            try:
                frames = self.read(deadline - time.monotonic())
            except WorkerExited as exited:
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
        return reason

    def send(self, batch: bytes) -> None:
        with contextlib.suppress(BrokenPipeError):  # the worker died; the next read says how
            self.requests.send_bytes(batch)

    def read(self, timeout: float) -> list[bytearray] | None:
        """The whole frames that arrived within `timeout` seconds (empty if only part of one
        did), or None if nothing did. WorkerExited once the worker is gone and drained."""
        if not self._exited:
            ready = self._selector.select(max(timeout, 0.0))
            if not ready:
                return None
            at_end = self._drain()
            # By the time the exit shows, everything the worker wrote is in the pipe.
            self._exited = at_end or any(key.fd != self.outcomes for key, _ in ready)
        frames = split_frames(self._buffer)
        if self._exited and not frames:
            with contextlib.suppress(subprocess.TimeoutExpired):
                self.process.wait(_KILL_GRACE)
            raise WorkerExited(self.process.returncode)
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


def split_frames(buffer: bytearray) -> list[bytearray]:
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
