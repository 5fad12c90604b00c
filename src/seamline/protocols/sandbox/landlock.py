"""Landlock (Linux 5.13 and newer): which files a function worker may open, whatever its uid.

Landlock needs no privilege: a process lists the file hierarchies it may still reach and how,
then restricts itself (and everything it starts) for good. Each kernel offers an ABI version;
newer ones handle more kinds of access, and we handle every kind the kernel knows:

- ABI 1 (5.13): reading, writing, listing, creating and removing files;
- ABI 2 (5.19): linking or renaming across directories; ABI 3 (6.2): truncating;
- ABI 4 (6.7): TCP bind and connect (on top of seccomp's socket ban);
- ABI 5 (6.10): ioctl on devices; ABI 6 (6.12): signals and abstract unix sockets are scoped to
  the sandbox, so the worker can signal no process outside it.

What Landlock does not cover (file metadata: modes, owners, times) the seccomp filter refuses.
"""

from __future__ import annotations

import ctypes
import os
import stat
import struct
from collections.abc import Iterable

from seamline.protocols.sandbox import syscalls

EXECUTE = 1 << 0
WRITE_FILE = 1 << 1
READ_FILE = 1 << 2
READ_DIR = 1 << 3
REMOVE_DIR = 1 << 4
REMOVE_FILE = 1 << 5
MAKE_CHAR = 1 << 6
MAKE_DIR = 1 << 7
MAKE_REG = 1 << 8
MAKE_SOCK = 1 << 9
MAKE_FIFO = 1 << 10
MAKE_BLOCK = 1 << 11
MAKE_SYM = 1 << 12
REFER = 1 << 13  # ABI 2
TRUNCATE = 1 << 14  # ABI 3
IOCTL_DEV = 1 << 15  # ABI 5
# The rights that make sense on a file rather than a directory.
_FILE_RIGHTS = EXECUTE | WRITE_FILE | READ_FILE | TRUNCATE | IOCTL_DEV

_NET_BIND_TCP = 1 << 0  # ABI 4
_NET_CONNECT_TCP = 1 << 1
_SCOPE_ABSTRACT_UNIX_SOCKET = 1 << 0  # ABI 6
_SCOPE_SIGNAL = 1 << 1

_CREATE_RULESET_VERSION = 1 << 0
_RULE_PATH_BENEATH = 1
_PR_SET_NO_NEW_PRIVS = 38

READ = READ_FILE | READ_DIR


def abi_version() -> int:
    """The kernel's Landlock ABI version. OSError: ENOSYS if the kernel has no Landlock (or a
    container's seccomp profile hides it), EOPNOTSUPP if it is built in but not enabled."""
    return syscalls.syscall(
        "landlock_create_ruleset", ctypes.c_void_p(None), 0, _CREATE_RULESET_VERSION
    )


def handled_file_access(abi: int) -> int:
    """Every filesystem right that ABI `abi` can deny."""
    rights = (1 << 13) - 1
    if abi >= 2:
        rights |= REFER
    if abi >= 3:
        rights |= TRUNCATE
    if abi >= 5:
        rights |= IOCTL_DEV
    return rights


def restrict(abi: int, rules: Iterable[tuple[str | int, int]]) -> None:
    """Deny this thread (and what it starts) every filesystem access but `rules`: pairs of a
    path (or an open directory's fd) and the rights kept beneath it. Paths that do not exist
    are skipped. Deny TCP and scope signals too where the ABI can. OSError if refused."""
    handled = handled_file_access(abi)
    attr = struct.pack(
        "=QQQ",
        handled,
        _NET_BIND_TCP | _NET_CONNECT_TCP if abi >= 4 else 0,
        _SCOPE_ABSTRACT_UNIX_SOCKET | _SCOPE_SIGNAL if abi >= 6 else 0,
    )
    size = 8 if abi < 4 else 16 if abi < 6 else 24  # what this ABI's struct holds
    ruleset = syscalls.syscall(
        "landlock_create_ruleset", ctypes.create_string_buffer(attr, len(attr)), size, 0
    )
    try:
        for target, rights in rules:
            _add_rule(ruleset, target, rights & handled)
        syscalls.prctl(_PR_SET_NO_NEW_PRIVS, 1)
        syscalls.syscall("landlock_restrict_self", ruleset, 0)
    finally:
        os.close(ruleset)


def _add_rule(ruleset: int, target: str | int, rights: int) -> None:
    if isinstance(target, int):
        fd = os.dup(target)
    else:
        try:
            fd = os.open(target, os.O_PATH | os.O_CLOEXEC)
        except (FileNotFoundError, PermissionError):
            return  # nothing there to allow, or nothing this uid could reach anyway
    try:
        if not stat.S_ISDIR(os.fstat(fd).st_mode):
            rights &= _FILE_RIGHTS  # the kernel refuses directory rights on a file
        attr = struct.pack("=Qi", rights, fd)
        syscalls.syscall(
            "landlock_add_rule",
            ruleset,
            _RULE_PATH_BENEATH,
            ctypes.create_string_buffer(attr, len(attr)),
            0,
        )
    finally:
        os.close(fd)
