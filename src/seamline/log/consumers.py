"""Committed consumer offsets of the local log, one small file per consumer."""

from __future__ import annotations

import os
import re
from pathlib import Path

_NAME = re.compile(r"^[A-Za-z0-9_.-]+$")


class ConsumerOffsets:
    """Offsets written atomically (temp file, fsync, rename), so a crash leaves old or new."""

    def __init__(self, directory: Path) -> None:
        self._dir = directory

    def _path(self, consumer: str) -> Path:
        if not _NAME.match(consumer):
            raise ValueError(f"consumer name {consumer!r} must match {_NAME.pattern}")
        return self._dir / f"{consumer}.offset"

    def committed(self, consumer: str) -> int:
        try:
            return int(self._path(consumer).read_text().strip())
        except FileNotFoundError:
            return 0

    def commit(self, consumer: str, offset: int) -> None:
        path = self._path(consumer)
        self._dir.mkdir(parents=True, exist_ok=True)
        temporary = path.with_suffix(".tmp")
        with temporary.open("w") as handle:
            handle.write(str(offset))
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(temporary, path)
        fd = os.open(self._dir, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)
