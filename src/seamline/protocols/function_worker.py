"""The worker side of `protocols.functions`: what runs in the spawned process.

`_serve` is the process's target: it loads the user's file, then transforms the events of each
batch from the request pipe one by one, writing each outcome as a frame on the outcome pipe.
The frame format is defined here, once, and `FunctionRunner` reads it with these constants.
"""

from __future__ import annotations

import linecache
import os
import signal
import struct
import sys
import threading
import time
import traceback
import types
from collections.abc import Callable
from multiprocessing.connection import Connection
from typing import Any

import msgspec

Transform = Callable[[dict[str, Any]], object]

# Frames on the outcome pipe: a 4-byte length, then a tag byte and its payload, except that a
# result is its JSON alone: an object starts with "{", so the parent decodes it without a copy.
_HEADER = struct.Struct("<I")
_LOADED = b"L"  # the file loaded, `transform` found
_LOAD_FAILED = b"F"  # + why, as text
_OK_TAG = ord("{")
_DROPPED = b"d"
_DROPPED_TAG = ord(_DROPPED)
_ERROR = b"e"  # + traceback or reason, as text

_PARENT_CHECK_INTERVAL = 1.0
_MODULE_NAME = "seamline_function"


class _LoadFailed(Exception):
    pass


def _serve(
    requests: Connection,
    outcomes: Connection,
    source: str,
    filename: str,
    memory_limit_mb: int | None,
) -> None:
    """The worker's main: load the function, then transform batches until the parent closes
    the request pipe."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C reaches us too; the parent decides
    _exit_with_parent()
    if memory_limit_mb is not None:
        _limit_memory(memory_limit_mb)
    fd = outcomes.fileno()
    try:
        transform = _load(source, filename)
    except _LoadFailed as failed:
        _write(fd, _LOAD_FAILED + str(failed).encode())
        return
    _write(fd, _LOADED)
    decoder = msgspec.json.Decoder(list[dict[str, Any]])
    encoder = msgspec.json.Encoder()
    while True:
        try:
            batch = requests.recv_bytes()
        except EOFError:
            return
        for event in decoder.decode(batch):
            _write(fd, _apply(transform, event, encoder))


def _load(source: str, filename: str) -> Transform:
    module = types.ModuleType(_MODULE_NAME)
    module.__file__ = filename
    sys.modules[_MODULE_NAME] = module  # dataclasses and pickle look their module up
    # Tracebacks quote the source that runs, even if the file has changed on disk since.
    linecache.cache[filename] = (len(source), None, source.splitlines(keepends=True), filename)
    try:
        exec(compile(source, filename, "exec", dont_inherit=True), module.__dict__)
    except BaseException as error:
        raise _LoadFailed(_user_traceback(error)) from None
    transform = getattr(module, "transform", None)
    if not callable(transform):
        raise _LoadFailed(f"{filename} does not define a transform(event) function")
    return transform  # type: ignore[no-any-return]


def _apply(transform: Transform, event: dict[str, Any], encoder: msgspec.json.Encoder) -> bytes:
    """The outcome frame for one event."""
    try:
        result = transform(event)
    except (Exception, SystemExit) as error:
        return _ERROR + _user_traceback(error).encode()
    if result is None:
        return _DROPPED
    if not isinstance(result, dict):
        got = type(result).__name__
        return _ERROR + f"transform must return a dict or None, got {got}".encode()
    try:
        return encoder.encode(result)
    except Exception as error:
        return _ERROR + f"transform must return JSON data: {error}".encode()


def _user_traceback(error: BaseException) -> str:
    """The traceback from the user's code down, without the worker's own frame."""
    tb = error.__traceback__
    return "".join(traceback.format_exception(type(error), error, tb.tb_next if tb else None))


def _write(fd: int, payload: bytes) -> None:
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


def _limit_memory(megabytes: int) -> None:
    if sys.platform != "linux":
        return  # RLIMIT_AS is only enforced on Linux; elsewhere there is no limit
    import resource

    _, hard = resource.getrlimit(resource.RLIMIT_AS)
    limit = megabytes * 1024 * 1024
    if hard != resource.RLIM_INFINITY:
        limit = min(limit, hard)
    resource.setrlimit(resource.RLIMIT_AS, (limit, hard))
