"""The worker side of `protocols.functions`: what runs in the spawned process.

`main` is the process's entry point (`FunctionRunner` starts `python -I -c` with `BOOTSTRAP`,
an empty environment, and the file descriptors of two pipes and of a private directory). It
reads a `WorkerSpec` from the request pipe, confines itself (`protocols.sandbox`), loads the
user's code, then transforms the events of each batch from the request pipe one by one, writing
each outcome as a frame on the outcome pipe. The frame format is defined here, once, and
`FunctionRunner` reads it with these constants.
"""

from __future__ import annotations

import linecache
import os
import resource
import signal
import struct
import sys
import tempfile
import threading
import time
import traceback
import types
from collections.abc import Callable
from multiprocessing.connection import Connection
from typing import Any, Protocol, TypeVar

import msgspec

# Imported here, before the sandbox closes the filesystem (it imports what it needs itself).
from seamline.protocols.sandbox import SandboxUnavailable, confine

Transform = Callable[[dict[str, Any]], object]
Item = TypeVar("Item")

# Frames on the outcome pipe: a 4-byte length, then a tag byte and its payload, except that a
# result is its JSON alone: an object starts with "{", so the parent decodes it without a copy.
_HEADER = struct.Struct("<I")
_LOADED = b"L"  # the file loaded, `transform` found
_LOAD_FAILED = b"F"  # + why, as text
_SANDBOX_FAILED = b"S"  # + what is missing, as text
_OK_TAG = ord("{")
_DROPPED = b"d"
_DROPPED_TAG = ord(_DROPPED)
_ERROR = b"e"  # + traceback or reason, as text

_PARENT_CHECK_INTERVAL = 1.0
_MODULE_NAME = "seamline_function"

# The worker's command line: `python -I -B -c BOOTSTRAP <dir holding seamline> <fds...>`.
# -I ignores the environment and the current directory; the package's directory is named
# because an empty environment drops whatever PYTHONPATH made seamline importable.
BOOTSTRAP = (
    "import sys; sys.path.append(sys.argv[1]); "
    "from seamline.protocols.function_worker import main; main()"
)


class WorkerSpec(msgspec.Struct, frozen=True):
    """What the parent tells a new worker, as the first message on the request pipe. `entry`
    says what kind of function it is: `transform`, `on_request` (a source function, see
    `source_function_api`) or `on_event` (a destination function, `destination_function_api`);
    `settings` are given to its handlers, `limits` bound what they may do."""

    source: str
    filename: str
    memory_limit_mb: int | None
    sandbox: bool = True  # False only in benchmarks/functions.py, to measure the sandbox
    entry: str = "transform"
    settings: dict[str, Any] = {}
    limits: dict[str, int] = {}


class EntryKind(Protocol):
    """The worker's side of a kind of function other than a transformation."""

    def helpers(self, spec: WorkerSpec, requests: Connection, fd: int) -> dict[str, Any]:
        """Names given to the function's module before its code runs."""

    def check(self, module: types.ModuleType) -> str | None:
        """Why the loaded module cannot serve (no entry point), or None."""

    def loaded(self, module: types.ModuleType) -> bytes:
        """What the parent learns once the module is loaded (after the LOADED tag)."""

    def serve(self, module: types.ModuleType, requests: Connection, fd: int) -> None:
        """Run batches from `requests` until end of file, writing one outcome frame each."""


class _LoadFailed(Exception):
    pass


def main() -> None:
    """The worker process's entry point; argv (after BOOTSTRAP's own) holds the fds of the
    request pipe, the outcome pipe and the private directory."""
    requests_fd, outcomes_fd, workdir_fd = (int(arg) for arg in sys.argv[2:5])
    requests = Connection(requests_fd, writable=False)
    try:
        spec = msgspec.json.decode(requests.recv_bytes(), type=WorkerSpec)
    except EOFError:
        return  # the parent gave up before we started
    _serve(requests, outcomes_fd, workdir_fd, spec)


def _serve(requests: Connection, fd: int, workdir_fd: int, spec: WorkerSpec) -> None:
    """Confine this process, load the function, then transform batches until the parent
    closes the request pipe."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C reaches us too; the parent decides
    os.environ.clear()  # empty from the start; this also drops what Python set itself
    os.umask(0o077)
    os.fchdir(workdir_fd)
    tempfile.tempdir = os.getcwd()  # tempfile would otherwise try /tmp first
    _limit_resources(spec.memory_limit_mb)
    kind = _entry_kind(spec.entry)  # imports its module while the filesystem is open
    if spec.sandbox:
        try:
            confine(workdir_fd, spec.filename)
        except SandboxUnavailable as unavailable:
            write_frame(fd, _SANDBOX_FAILED + str(unavailable).encode())
            return
    os.close(workdir_fd)
    _exit_with_parent()  # a thread: started after the sandbox, so it runs inside it too
    try:
        if kind is not None:
            module = _load(spec.source, spec.filename, kind.helpers(spec, requests, fd))
            problem = kind.check(module)
            if problem is not None:
                raise _LoadFailed(problem)
        else:
            transform = _transform(_load(spec.source, spec.filename, {}), spec.filename)
    except _LoadFailed as failed:
        write_frame(fd, _LOAD_FAILED + str(failed).encode())
        return
    if kind is not None:
        write_frame(fd, _LOADED + kind.loaded(module))
        kind.serve(module, requests, fd)
        return
    write_frame(fd, _LOADED)
    decoder = msgspec.json.Decoder(list[dict[str, Any]])
    encoder = msgspec.json.Encoder()
    serve_each(requests, fd, decoder.decode, lambda event: _apply(transform, event, encoder))


def _entry_kind(entry: str) -> EntryKind | None:
    """The worker side of `entry` (None for a transformation), imported now: once confined,
    the worker cannot read Seamline's own files."""
    if entry == "on_request":
        from seamline.protocols.source_function_api import SOURCE

        return SOURCE
    if entry == "on_event":
        from seamline.protocols.destination_function_api import DESTINATION

        return DESTINATION
    if entry != "transform":
        raise ValueError(f"unknown function entry {entry!r}")
    return None


def _load(source: str, filename: str, helpers: dict[str, Any]) -> types.ModuleType:
    """Run the function's code as a module, with `helpers` among its globals (its own
    definitions win over them)."""
    module = types.ModuleType(_MODULE_NAME)
    module.__dict__.update(helpers)
    module.__file__ = filename
    sys.modules[_MODULE_NAME] = module  # dataclasses and pickle look their module up
    # Tracebacks quote the source that runs, even if the file has changed on disk since.
    linecache.cache[filename] = (len(source), None, source.splitlines(keepends=True), filename)
    try:
        exec(compile(source, filename, "exec", dont_inherit=True), module.__dict__)
    except BaseException as error:
        raise _LoadFailed(user_traceback(error)) from None
    return module


def _transform(module: types.ModuleType, filename: str) -> Transform:
    transform = getattr(module, "transform", None)
    if not callable(transform):
        raise _LoadFailed(f"{filename} does not define a transform(event) function")
    return transform  # type: ignore[no-any-return]


def _apply(transform: Transform, event: dict[str, Any], encoder: msgspec.json.Encoder) -> bytes:
    """The outcome frame for one event."""
    try:
        result = transform(event)
    except (Exception, SystemExit) as error:
        return _ERROR + user_traceback(error).encode()
    if result is None:
        return _DROPPED
    if not isinstance(result, dict):
        got = type(result).__name__
        return _ERROR + f"transform must return a dict or None, got {got}".encode()
    try:
        return encoder.encode(result)
    except Exception as error:
        return _ERROR + f"transform must return JSON data: {error}".encode()


def user_traceback(error: BaseException) -> str:
    """The traceback from the user's code down, without the worker's own frame."""
    tb = error.__traceback__
    return "".join(traceback.format_exception(type(error), error, tb.tb_next if tb else None))


def serve_each(
    requests: Connection,
    fd: int,
    decode: Callable[[bytes], list[Item]],
    call: Callable[[Item], bytes],
) -> None:
    """Until the parent closes `requests`: read a batch, `decode` it and write one frame per
    item, what `call` returns for it, in order."""
    while True:
        try:
            batch = requests.recv_bytes()
        except EOFError:
            return
        for item in decode(batch):
            write_frame(fd, call(item))


def write_frame(fd: int, payload: bytes) -> None:
    """Write one frame (its length, then `payload`) to the outcome pipe."""
    data = memoryview(_HEADER.pack(len(payload)) + payload)
    while data:
        data = data[os.write(fd, data) :]


def _exit_with_parent() -> None:
    """Exit if the parent dies, even during a transform that never returns (an idle worker
    would see end of file on the request pipe, a busy one would not)."""
    parent = os.getppid()

    def watch() -> None:
        while True:
            time.sleep(_PARENT_CHECK_INTERVAL)
            if os.getppid() != parent:
                os._exit(1)

    threading.Thread(target=watch, name="watch-parent", daemon=True).start()


def _limit_resources(memory_limit_mb: int | None) -> None:
    """Address space (RLIMIT_AS) at the memory limit, soft and hard, so the function cannot
    raise it; no core files (a crash would write one into the private directory)."""
    resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
    if memory_limit_mb is None:
        return
    _, hard = resource.getrlimit(resource.RLIMIT_AS)
    limit = memory_limit_mb * 1024 * 1024
    if hard != resource.RLIM_INFINITY:
        limit = min(limit, hard)
    resource.setrlimit(resource.RLIMIT_AS, (limit, limit))
