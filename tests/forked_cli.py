"""Run the `seamline` command line as a child process forked from this test process.

A `python -m seamline` child spends 1 to 3 s of CPU importing Seamline before it does anything;
a fork of this process, which has imported it already, starts at once. The child is still a
process of its own (its own umask, working directory, environment, stdio, exit code and file
locks), and it is made to look like a fresh interpreter: Python's default warning filters, no
logging handlers, `python -m seamline` as the program name. So what a test sees (stdout,
stderr, exit code, files written) is what the command prints and does, as with
`subprocess.run`."""

from __future__ import annotations

import atexit
import contextlib
import gc
import importlib
import logging
import os
import selectors
import signal
import subprocess
import sys
import time
import traceback
import types
import warnings
from collections.abc import Callable, Mapping
from pathlib import Path

import seamline
import seamline.app  # imported once here rather than in every child
from seamline.cli import main

MAIN = str(Path(seamline.__file__).with_name("__main__.py"))
"""What `sys.argv[0]` is in `python -m seamline`: click names the program from it."""


def run_seamline(
    args: list[str],
    *,
    cwd: Path | None = None,
    env: Mapping[str, str] | None = None,
    input: str = "",  # subprocess.run's name for it
    timeout: float = 60.0,
) -> subprocess.CompletedProcess[str]:
    """`seamline ARGS` in a forked child, as `subprocess.run(..., capture_output=True,
    text=True)` would run `python -m seamline ARGS`: its exit code, stdout and stderr.
    `env` replaces the child's whole environment; `input` is its stdin (small: it is written
    before the child is read); a child still running after `timeout` seconds is killed and
    `subprocess.TimeoutExpired` raised."""
    in_read, in_write = os.pipe()
    out_read, out_write = os.pipe()
    err_read, err_write = os.pipe()
    imported_read, imported_write = os.pipe()
    sys.stdout.flush()
    sys.stderr.flush()
    pid = os.fork()
    if pid == 0:  # the child: never returns
        for fd in (in_write, out_read, err_read, imported_read):
            os.close(fd)
        _child(args, cwd, env, (in_read, out_write, err_write), imported_write)
    for fd in (in_read, out_write, err_write, imported_write):
        os.close(fd)
    # A child that exits before it reads its stdin closes the pipe: nothing to write then.
    with contextlib.suppress(BrokenPipeError), open(in_write, "w", encoding="utf-8") as stdin:
        stdin.write(input)
    buffers = {out_read: bytearray(), err_read: bytearray(), imported_read: bytearray()}
    output = _collect(pid, buffers, args, timeout)
    _, status = os.waitpid(pid, 0)
    _import(output[imported_read].decode().split())
    return subprocess.CompletedProcess(
        ["seamline", *args],
        os.waitstatus_to_exitcode(status),
        output[out_read].decode(),
        output[err_read].decode(),
    )


def _collect(
    pid: int, buffers: dict[int, bytearray], args: list[str], timeout: float
) -> dict[int, bytearray]:
    """Read the child's stdout and stderr until both close (both at once, so neither pipe
    fills up and blocks it)."""
    deadline = time.monotonic() + timeout
    with selectors.DefaultSelector() as selector:
        for fd in buffers:
            selector.register(fd, selectors.EVENT_READ)
        try:
            while selector.get_map():
                left = deadline - time.monotonic()
                if left <= 0:
                    os.kill(pid, signal.SIGKILL)
                    os.waitpid(pid, 0)
                    raise subprocess.TimeoutExpired(["seamline", *args], timeout)
                for key, _ in selector.select(min(left, 1.0)):
                    chunk = os.read(key.fd, 65536)
                    if chunk:
                        buffers[key.fd] += chunk
                    else:
                        selector.unregister(key.fd)
        finally:
            for fd in buffers:
                os.close(fd)
    return buffers


def _import(names: list[str]) -> None:
    """Import here what a command imported in its child (the CLI imports its engines inside
    each command), so that the next child has them already."""
    for name in names:
        if name not in sys.modules:
            with contextlib.suppress(Exception):
                importlib.import_module(name)


def _child(
    args: list[str],
    cwd: Path | None,
    env: Mapping[str, str] | None,
    stdio: tuple[int, int, int],
    imported: int,
) -> None:
    code = 1
    before = set(sys.modules)
    try:
        # Objects of the test process stay as they are: a finaliser run here (a pooled
        # database connection's, say) would talk over a socket the parent still uses.
        gc.freeze()
        # Only what the command registers runs at its exit, not pytest's handlers.
        atexit._clear()
        for number in (signal.SIGINT, signal.SIGTERM, signal.SIGALRM):
            signal.signal(number, signal.default_int_handler if number == 2 else signal.SIG_DFL)
        for number, fd in enumerate(stdio):
            os.dup2(fd, number)
        sys.stdin = sys.__stdin__ = open(0, encoding="utf-8", closefd=False)  # noqa: SIM115
        sys.stdout = sys.__stdout__ = open(1, "w", encoding="utf-8", closefd=False)  # noqa: SIM115
        sys.stderr = sys.__stderr__ = open(  # noqa: SIM115
            2, "w", encoding="utf-8", errors="backslashreplace", closefd=False
        )
        _as_fresh_interpreter()
        if env is not None:
            os.environ.clear()
            os.environ.update(env)
        if cwd is not None:
            os.chdir(cwd)
        sys.argv = [MAIN, *args]
        code = _exit_code(main)
        atexit._run_exitfuncs()
        new = sorted(name for name in set(sys.modules) - before if name.startswith("seamline."))
        os.write(imported, "\n".join(new).encode())
    except BaseException:  # whatever happens, the child must not return
        traceback.print_exc()
    finally:
        for stream in (sys.stdout, sys.stderr):
            with contextlib.suppress(BaseException):  # a closed pipe: nothing to flush to
                stream.flush()
        os._exit(code)


def _exit_code(run: Callable[[], object]) -> int:
    """What `python -m seamline` exits with when its `main` is `run`."""
    try:
        run()
    except SystemExit as stop:
        if stop.code is None:
            return 0
        if isinstance(stop.code, int):
            return stop.code
        print(stop.code, file=sys.stderr)
        return 1
    except BaseException:  # Python prints the traceback and exits 1
        traceback.print_exc()
        return 1
    return 0


def _as_fresh_interpreter() -> None:
    """Warning filters, logging and `__main__` as `python -m seamline` starts with them."""
    warnings.resetwarnings()
    warnings.filterwarnings("default", category=DeprecationWarning, module="__main__")
    warnings.filterwarnings("ignore", category=DeprecationWarning, append=True)
    warnings.filterwarnings("ignore", category=PendingDeprecationWarning, append=True)
    warnings.filterwarnings("ignore", category=ImportWarning, append=True)
    warnings.filterwarnings("ignore", category=ResourceWarning, append=True)
    root = logging.getLogger()
    for handler in list(root.handlers):
        root.removeHandler(handler)
    root.setLevel(logging.WARNING)
    logging.disable(logging.NOTSET)
    main_module = types.ModuleType("__main__")
    main_module.__package__ = "seamline"
    main_module.__file__ = MAIN
    sys.modules["__main__"] = main_module
