"""Exclusive locks on a data directory (a file lock: released when the process dies)."""

from __future__ import annotations

import fcntl
import os
from pathlib import Path
from typing import IO

from seamline.errors import Conflict


class ServeLock:
    """One holder per data directory: a second `serve` (or a second pipeline) fails fast
    instead of corrupting it."""

    def __init__(self, path: Path, what: str = "server") -> None:
        self._path = path
        self._what = what
        self._handle: IO[str] | None = None

    def acquire(self) -> None:
        self._path.parent.mkdir(parents=True, exist_ok=True)
        handle = self._path.open("a+")
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            handle.close()
            raise Conflict(
                f"another Seamline {self._what} is using {self._path.parent}; stop it or "
                "pick another --data-dir"
            ) from None
        handle.truncate(0)
        handle.write(str(os.getpid()))
        handle.flush()
        self._handle = handle

    def release(self) -> None:
        if self._handle is not None:
            self._handle.close()
            self._handle = None
