"""Raw Linux system calls for the function sandbox, through libc (ctypes).

Python's `os` has no seccomp, Landlock, mount or capset, so the sandbox calls them by number.
The numbers are per architecture; the sandbox knows x86_64 and aarch64 (the generic table),
and `number` refuses any other machine rather than guess.
"""

from __future__ import annotations

import ctypes
import functools
import os
import platform

from seamline.protocols.sandbox.errors import SandboxUnavailable

# From the kernel's uapi headers (arch/x86/entry/syscalls/syscall_64.tbl and
# include/uapi/asm-generic/unistd.h). aarch64 has no fork, vfork or the old path-based calls
# (chmod, chown, utime ...): glibc goes through the *at forms there.
_X86_64 = {
    "ioctl": 16, "socket": 41, "socketpair": 53, "clone": 56, "fork": 57, "vfork": 58,
    "execve": 59, "kill": 62, "truncate": 76, "chmod": 90, "fchmod": 91, "chown": 92,
    "fchown": 93, "lchown": 94, "ptrace": 101, "capset": 126, "rt_sigqueueinfo": 129,
    "utime": 132, "pivot_root": 155, "chroot": 161, "mount": 165, "umount2": 166,
    "setxattr": 188, "lsetxattr": 189, "fsetxattr": 190, "removexattr": 197,
    "lremovexattr": 198, "fremovexattr": 199, "tkill": 200, "tgkill": 234, "utimes": 235,
    "add_key": 248, "request_key": 249, "keyctl": 250, "fchownat": 260, "futimesat": 261,
    "fchmodat": 268, "unshare": 272, "utimensat": 280, "rt_tgsigqueueinfo": 297,
    "perf_event_open": 298, "open_by_handle_at": 304, "setns": 308, "process_vm_readv": 310,
    "process_vm_writev": 311, "seccomp": 317, "bpf": 321, "execveat": 322, "userfaultfd": 323,
}  # fmt: skip
_AARCH64 = {
    "setxattr": 5, "lsetxattr": 6, "fsetxattr": 7, "removexattr": 14, "lremovexattr": 15,
    "fremovexattr": 16, "ioctl": 29, "umount2": 39, "mount": 40, "pivot_root": 41,
    "truncate": 45, "chroot": 51, "fchmod": 52, "fchmodat": 53, "fchownat": 54, "fchown": 55,
    "utimensat": 88, "capset": 91, "unshare": 97, "ptrace": 117, "kill": 129, "tkill": 130,
    "tgkill": 131, "rt_sigqueueinfo": 138, "socket": 198, "socketpair": 199, "add_key": 217,
    "request_key": 218, "keyctl": 219, "clone": 220, "execve": 221, "rt_tgsigqueueinfo": 240,
    "perf_event_open": 241, "open_by_handle_at": 265, "setns": 268, "process_vm_readv": 270,
    "process_vm_writev": 271, "seccomp": 277, "bpf": 280, "execveat": 281, "userfaultfd": 282,
}  # fmt: skip
# Since 4.18 new system calls have one number on every architecture.
_SHARED = {
    "pidfd_send_signal": 424, "io_uring_setup": 425, "io_uring_enter": 426,
    "io_uring_register": 427, "open_tree": 428, "move_mount": 429, "fsopen": 430,
    "fsconfig": 431, "fsmount": 432, "fspick": 433, "pidfd_open": 434, "clone3": 435,
    "pidfd_getfd": 438, "mount_setattr": 442, "landlock_create_ruleset": 444,
    "landlock_add_rule": 445, "landlock_restrict_self": 446, "fchmodat2": 452,
    "setxattrat": 463, "removexattrat": 466,
}  # fmt: skip
TABLES = {"x86_64": _X86_64 | _SHARED, "aarch64": _AARCH64 | _SHARED}

MACHINE = platform.machine()


@functools.cache
def _libc() -> ctypes.CDLL:
    libc = ctypes.CDLL(None, use_errno=True)  # this process's C library, already loaded
    libc.syscall.restype = ctypes.c_long
    for name in ("prctl", "mount", "unshare"):
        getattr(libc, name).restype = ctypes.c_int
    return libc


def table() -> dict[str, int]:
    """This machine's system call numbers; SandboxUnavailable on an architecture we don't know."""
    try:
        return TABLES[MACHINE]
    except KeyError:
        known = " and ".join(TABLES)
        raise SandboxUnavailable(
            f"the function sandbox knows the system calls of {known} Linux, not {MACHINE}"
        ) from None


def number(name: str) -> int:
    """The number of system call `name` on this machine (KeyError if it has none)."""
    return table()[name]


def syscall(name: str, *args: object) -> int:
    """Call `name` with integer or ctypes (pointer) arguments; OSError with the errno on failure."""
    converted = [ctypes.c_long(arg) if isinstance(arg, int) else arg for arg in args]
    return _checked(_libc().syscall(ctypes.c_long(number(name)), *converted))


def prctl(option: int, *args: int) -> int:
    values = [ctypes.c_ulong(arg) for arg in (*args, 0, 0, 0, 0)[:4]]
    return _checked(_libc().prctl(ctypes.c_int(option), *values))


def mount(
    source: str | None, target: str, fstype: str | None, flags: int, data: str | None
) -> None:
    def text(value: str | None) -> bytes | None:
        return None if value is None else os.fsencode(value)

    _checked(
        _libc().mount(text(source), text(target), text(fstype), ctypes.c_ulong(flags), text(data))
    )


def unshare(flags: int) -> None:
    _checked(_libc().unshare(ctypes.c_int(flags)))


def _checked(result: int) -> int:
    if result == -1:
        code = ctypes.get_errno()
        raise OSError(code, os.strerror(code))
    return result
