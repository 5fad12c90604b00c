"""Confining a function worker: the layers, in the order they must go on.

1. Check what the kernel offers (Landlock's ABI) before changing anything, so a refusal names
   what is missing rather than what broke halfway.
2. As root only: expose the Python installation to the worker's user if it cannot reach it
   (`mounts`), hand it the private directory, then drop to that user — setgroups, setgid,
   setuid, in that order — and check it cannot switch back.
3. Drop every capability (ambient ones too: an unprivileged server may have been given some).
4. Landlock: read the Python installation, system libraries and the timezone database; read
   and write the private directory; nothing else — not the data directory, not /etc, not /proc.
5. Seccomp, last: from here no socket, no process, no signal to another process.

Everything the worker's own code needs is imported before it gets here (`function_worker`).
"""

from __future__ import annotations

import ctypes
import errno
import os
import pwd
import struct
import sys
import sysconfig
from dataclasses import dataclass

from seamline.protocols.sandbox import landlock, mounts, seccomp, syscalls
from seamline.protocols.sandbox.errors import SandboxUnavailable

WORKER_USER = "seamline-fn"  # used if it exists; else nobody
_NOBODY = 65534

# The dynamic loader reads these when an extension module (hashlib's, ctypes') loads a library.
_SYSTEM_LIBRARIES = (
    "/lib",
    "/lib64",
    "/usr/lib",
    "/usr/lib64",
    "/usr/local/lib",
    "/etc/ld.so.cache",
)
_DEVICES = {
    "/dev/null": landlock.READ_FILE | landlock.WRITE_FILE,
    "/dev/urandom": landlock.READ_FILE,
}
# In its private directory the worker may do anything but run programs, make devices or sockets.
_PRIVATE = ~(
    landlock.EXECUTE
    | landlock.MAKE_CHAR
    | landlock.MAKE_BLOCK
    | landlock.MAKE_SOCK
    | landlock.IOCTL_DEV
) & landlock.handled_file_access(99)


@dataclass(frozen=True)
class WorkerUser:
    name: str
    uid: int
    gid: int


def worker_user() -> WorkerUser:
    """The user a root server's function workers run as: `seamline-fn` if the system has it (an
    administrator creates it to give functions a uid of their own), else `nobody`."""
    for name in (WORKER_USER, "nobody"):
        try:
            entry = pwd.getpwnam(name)
        except KeyError:
            continue
        if entry.pw_uid == 0 or entry.pw_gid == 0:
            raise SandboxUnavailable(f"user {name} has uid or gid 0; functions cannot run as root")
        return WorkerUser(name, entry.pw_uid, entry.pw_gid)
    return WorkerUser("nobody", _NOBODY, _NOBODY)


def python_roots() -> list[str]:
    """Where this interpreter's standard library and installed packages are."""
    paths = sysconfig.get_paths()
    return [paths[key] for key in ("stdlib", "platstdlib", "purelib", "platlib")]


def readable_roots() -> list[str]:
    """The directories (and files) a confined worker may read, resolved, outermost only."""
    candidates = [
        *python_roots(),
        os.path.join(sys.base_prefix, "lib"),
        *_SYSTEM_LIBRARIES,
        *(sysconfig.get_config_var("TZPATH") or "").split(os.pathsep),
    ]
    resolved = sorted({os.path.realpath(path) for path in candidates if path})
    found = [path for path in resolved if os.path.exists(path)]
    return [path for path in found if not any(_inside(path, other) for other in found)]


def confine(workdir_fd: int, filename: str) -> None:
    """Confine this process for good (see the module's docstring); `workdir_fd` is its private
    directory, `filename` the function's file, which must stay out of reach.
    SandboxUnavailable if any layer cannot be set up."""
    syscalls.table()  # an architecture we have no system call numbers for
    roots = readable_roots()
    real = os.path.realpath(filename)
    for root in roots:
        if _inside(real, root):
            raise SandboxUnavailable(
                f"the function's file {filename} is inside {root}, which functions may read: "
                "keep the data directory outside the Python installation and system libraries"
            )
    abi = _landlock_abi()
    if os.geteuid() == 0:
        user = worker_user()
        _expose(roots, user)
        os.fchown(workdir_fd, user.uid, user.gid)
        _switch_to(user)
    _drop_capabilities()
    unreadable = [path for path in python_roots() if not os.access(path, os.R_OK | os.X_OK)]
    if unreadable:
        raise SandboxUnavailable(
            f"the Python installation ({', '.join(unreadable)}) is not readable by uid "
            f"{os.getuid()}: install Python and Seamline where that user can read them"
        )
    rules: list[tuple[str | int, int]] = [(root, landlock.READ) for root in roots]
    rules += [*_DEVICES.items(), (workdir_fd, _PRIVATE)]
    try:
        landlock.restrict(abi, rules)
    except OSError as error:
        raise SandboxUnavailable(f"Landlock refused the worker's rules: {error}") from None
    try:
        seccomp.install(seccomp.worker_filter(os.getpid()))
    except OSError as error:
        raise SandboxUnavailable(
            f"seccomp filters are not available ({error.strerror}): the kernel needs "
            "CONFIG_SECCOMP_FILTER, and a container runtime must allow the seccomp system call"
        ) from None


def _landlock_abi() -> int:
    try:
        return landlock.abi_version()
    except OSError as error:
        if error.errno == errno.EOPNOTSUPP:
            raise SandboxUnavailable(
                "Landlock is built into this kernel but not enabled: add landlock to the "
                "kernel's lsm= boot parameter"
            ) from None
        raise SandboxUnavailable(
            f"Landlock is not available ({error.strerror}): it needs Linux 5.13 or newer "
            "built with CONFIG_SECURITY_LANDLOCK, and a container runtime must allow its "
            "system calls"
        ) from None


def _expose(roots: list[str], user: WorkerUser) -> None:
    blocking = mounts.blocked(roots, user.uid, user.gid)
    if not blocking:
        return
    if "/" in blocking:
        raise SandboxUnavailable(f"uid {user.uid} ({user.name}) cannot search /")
    try:
        mounts.expose(blocking)
    except OSError as error:
        hidden = ", ".join(path for paths in blocking.values() for path in paths)
        raise SandboxUnavailable(
            f"{hidden} cannot be reached by uid {user.uid} ({user.name}), and no mount namespace "
            f"could expose them ({error.strerror}): install Python and Seamline where other "
            "users can read them, or run Seamline as an unprivileged user"
        ) from None


def _switch_to(user: WorkerUser) -> None:
    try:
        os.setgroups([])
        os.setresgid(user.gid, user.gid, user.gid)
        os.setresuid(user.uid, user.uid, user.uid)
    except OSError as error:
        raise SandboxUnavailable(
            f"cannot switch to user {user.name} (uid {user.uid}): {error.strerror}; a root "
            "server needs CAP_SETUID and CAP_SETGID, or run Seamline as an unprivileged user"
        ) from None
    ids = (os.getresuid(), os.getresgid(), os.getgroups())
    if ids != ((user.uid,) * 3, (user.gid,) * 3, []):
        raise SandboxUnavailable(f"switching to user {user.name} left ids {ids}")
    try:
        os.setuid(0)
    except PermissionError:
        return
    raise SandboxUnavailable(f"as user {user.name} the worker could switch back to root")


_PR_CAP_AMBIENT = 47
_PR_CAP_AMBIENT_CLEAR_ALL = 4
_CAPABILITY_VERSION_3 = 0x20080522


def _drop_capabilities() -> None:
    """Clear every capability set this process holds, and check it with the kernel's account."""
    try:
        syscalls.prctl(_PR_CAP_AMBIENT, _PR_CAP_AMBIENT_CLEAR_ALL)
        header = struct.pack("=Ii", _CAPABILITY_VERSION_3, 0)
        data = bytes(24)  # two of {effective, permitted, inheritable}, all empty
        syscalls.syscall("capset", _buffer(header), _buffer(data))
        with open("/proc/self/status") as status:
            held = {
                key: int(value, 16)
                for key, _, value in (line.partition(":\t") for line in status)
                if key in ("CapInh", "CapPrm", "CapEff", "CapAmb")
            }
    except OSError as error:
        raise SandboxUnavailable(f"cannot drop capabilities: {error}") from None
    if any(held.values()) or len(held) != 4:
        raise SandboxUnavailable(f"capabilities remain after dropping them: {held}")


def _buffer(data: bytes) -> ctypes.Array[ctypes.c_char]:
    return ctypes.create_string_buffer(data, len(data))


def _inside(path: str, root: str) -> bool:
    return path != root and (path + "/").startswith(root.rstrip("/") + "/")
