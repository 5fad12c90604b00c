"""Make the Python installation reachable for the unprivileged user a root server's worker becomes.

A root server may run from an installation that only root can reach, such as a pyenv or a
virtual environment under /root (mode 0700). Once the worker drops to its own uid it could not
import anything it had not imported already. So, while still root, the worker takes a private
mount namespace, mounts an empty read-only tmpfs over each directory that blocks the way (here
/root), and binds back, read-only, just the paths it needs, at their own paths. The host sees
no change, and the worker sees nothing else of what the tmpfs covers.
"""

from __future__ import annotations

import os
import stat
from collections.abc import Iterable
from pathlib import Path

from seamline.protocols.sandbox import syscalls

_CLONE_NEWNS = 0x00020000
_MS_RDONLY = 1
_MS_NOSUID = 2
_MS_NODEV = 4
_MS_REMOUNT = 32
_MS_BIND = 4096
_MS_REC = 16384
_MS_PRIVATE = 1 << 18


def blocked(paths: Iterable[str], uid: int, gid: int) -> dict[str, list[str]]:
    """The paths that `uid` (group `gid`, no others) cannot reach, by the topmost ancestor
    directory that it may not search."""
    found: dict[str, list[str]] = {}
    for path in paths:
        for ancestor in reversed(Path(path).parents):
            if not _may(os.stat(ancestor), uid, gid, stat.S_IXOTH):
                found.setdefault(str(ancestor), []).append(path)
                break
    return found


def expose(blocking: dict[str, list[str]]) -> None:
    """In a new mount namespace, cover each blocking directory with an empty read-only tmpfs
    holding only its listed paths, bound read-only at their own paths. Needs CAP_SYS_ADMIN;
    OSError otherwise. `paths` must not nest (the caller keeps only the outermost)."""
    syscalls.unshare(_CLONE_NEWNS)
    # Nothing we mount may propagate back to the host's namespace.
    syscalls.mount(None, "/", None, _MS_REC | _MS_PRIVATE, None)
    old_umask = os.umask(0o022)
    try:
        for directory, paths in blocking.items():
            # Hold the originals before the tmpfs hides them.
            originals = {path: os.open(path, os.O_PATH | os.O_CLOEXEC) for path in paths}
            try:
                syscalls.mount("tmpfs", directory, "tmpfs", _MS_NOSUID | _MS_NODEV, "mode=0755")
                for path, fd in originals.items():
                    _bind_read_only(fd, path)
                syscalls.mount(
                    None, directory, None, _MS_REMOUNT | _MS_RDONLY | _MS_NOSUID | _MS_NODEV, None
                )
            finally:
                for fd in originals.values():
                    os.close(fd)
    finally:
        os.umask(old_umask)


def _bind_read_only(fd: int, path: str) -> None:
    if stat.S_ISDIR(os.fstat(fd).st_mode):
        os.makedirs(path, exist_ok=True)
    else:
        os.makedirs(os.path.dirname(path), exist_ok=True)
        Path(path).touch()
    syscalls.mount(f"/proc/self/fd/{fd}", path, None, _MS_BIND | _MS_REC, None)
    flags = _MS_REMOUNT | _MS_BIND | _MS_RDONLY | _MS_NOSUID | _MS_NODEV
    syscalls.mount(None, path, None, flags, None)


def readable(path: str, uid: int, gid: int) -> bool:
    """Whether `uid` may read `path` (list it, for a directory) by its mode alone."""
    try:
        return _may(os.stat(path), uid, gid, stat.S_IROTH)
    except FileNotFoundError:
        return True  # nothing to read; not a reason to refuse


def _may(status: os.stat_result, uid: int, gid: int, other_bit: int) -> bool:
    """Whether the mode grants `other_bit` (an S_I?OTH bit) to `uid` in group `gid`."""
    if status.st_uid == uid:
        return bool(status.st_mode & (other_bit << 6))
    if status.st_gid == gid:
        return bool(status.st_mode & (other_bit << 3))
    return bool(status.st_mode & other_bit)
