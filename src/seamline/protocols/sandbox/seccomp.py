"""Seccomp filters, written as classic BPF: which system calls a function worker may not make.

The worker's filter allows by default and refuses, with EPERM, what a transformation never
needs and an escape always does: creating sockets (of any family: the worker's pipes are
inherited, it opens none), starting processes (fork, vfork, exec, and clone unless it makes a
thread), signalling or tracing other processes, namespaces and mounts, io_uring (it can open
sockets behind seccomp's back), BPF, keyrings, and changing modes, owners, times or extended
attributes of files (Landlock does not cover those, and an unprivileged server's worker has its
uid). clone3 answers ENOSYS: its flags sit in memory a filter cannot read, and glibc then falls
back to clone, which the filter can check. A system call of another ABI (i386, x32) kills the
process, so numbers cannot be aliased.

The kernel caches the verdict of calls whose answer never depends on their arguments, so the
hot ones (read, write) do not run the filter at all.
"""

from __future__ import annotations

import ctypes
import errno
import struct
from collections.abc import Mapping

from seamline.protocols.sandbox import syscalls

_LOAD_WORD = 0x20  # BPF_LD | BPF_W | BPF_ABS
_JUMP_EQUAL = 0x15  # BPF_JMP | BPF_JEQ | BPF_K
_JUMP_GREATER_EQUAL = 0x35  # BPF_JMP | BPF_JGE | BPF_K
_JUMP_BITS_SET = 0x45  # BPF_JMP | BPF_JSET | BPF_K
_RETURN = 0x06  # BPF_RET | BPF_K

ALLOW = 0x7FFF0000
KILL_PROCESS = 0x80000000
_ERRNO = 0x00050000

# struct seccomp_data: int nr; u32 arch; u64 instruction_pointer; u64 args[6] (both our
# architectures are little-endian, so an argument's low 32 bits are at its own offset).
_NR = 0
_ARCH = 4


def _argument(index: int) -> int:
    return 16 + 8 * index


_AUDIT_ARCH = {"x86_64": 0xC000003E, "aarch64": 0xC00000B7}
_X32_SYSCALL_BIT = 0x40000000

_CLONE_THREAD = 0x00010000
_CLONE_NAMESPACES = 0x7E020080  # NEWNS, NEWCGROUP, NEWUTS, NEWIPC, NEWUSER, NEWPID, NEWNET, NEWTIME
_TIOCSTI = 0x5412  # pushes bytes into a terminal's input: the server's, if it has one
_TIOCLINUX = 0x541C

_REFUSED = (
    # network: no socket of any family
    "socket", "socketpair",
    # processes
    "fork", "vfork", "execve", "execveat",
    # other processes
    "ptrace", "process_vm_readv", "process_vm_writev", "pidfd_open", "pidfd_getfd",
    "pidfd_send_signal", "tkill",
    # namespaces and mounts
    "unshare", "setns", "mount", "umount2", "pivot_root", "chroot", "open_tree", "move_mount",
    "fsopen", "fsconfig", "fsmount", "fspick", "mount_setattr",
    # kernel interfaces a transformation has no use for
    "io_uring_setup", "io_uring_enter", "io_uring_register", "bpf", "perf_event_open",
    "userfaultfd", "keyctl", "add_key", "request_key", "open_by_handle_at",
    # file metadata, which Landlock leaves alone; truncate(path) too (Landlock only has it
    # from ABI 3, and ftruncate needs a file opened for writing, which Landlock does control)
    "chmod", "fchmod", "fchmodat", "fchmodat2", "chown", "fchown", "lchown", "fchownat",
    "setxattr", "lsetxattr", "fsetxattr", "removexattr", "lremovexattr", "fremovexattr",
    "setxattrat", "removexattrat", "utime", "utimes", "utimensat", "futimesat", "truncate",
)  # fmt: skip

Instruction = tuple[int, int, int, int]  # code, jump if true, jump if false, constant


def errno_action(code: int) -> int:
    """The filter's answer that makes a system call fail with `code`."""
    return _ERRNO | code


def deny_filter(refused: Mapping[int, int]) -> bytes:
    """A filter that fails the system calls numbered in `refused` with their errno and allows
    the rest (the tests use it to make a kernel feature look absent)."""
    program = _prologue()
    for nr, code in refused.items():
        program += _refuse(nr, errno_action(code))
    return _assemble([*program, (_RETURN, 0, 0, ALLOW)])


def worker_filter(pid: int) -> bytes:
    """The function worker's filter (see the module's docstring); `pid` is the worker's own,
    the only process it may signal."""
    numbers = syscalls.table()
    eperm = errno_action(errno.EPERM)
    program = _prologue()
    for name in _REFUSED:
        if name in numbers:  # aarch64 lacks the old calls; glibc uses the *at ones there
            program += _refuse(numbers[name], eperm)
    program += _refuse(numbers["clone3"], errno_action(errno.ENOSYS))
    program += _threads_only(numbers["clone"], eperm)
    for name in ("kill", "rt_sigqueueinfo", "tgkill", "rt_tgsigqueueinfo"):
        # The first argument is the target process (tgkill: its thread group).
        program += _by_argument(numbers[name], 0, (pid,), on_match=ALLOW, otherwise=eperm)
    program += _by_argument(
        numbers["ioctl"], 1, (_TIOCSTI, _TIOCLINUX), on_match=eperm, otherwise=ALLOW
    )
    return _assemble([*program, (_RETURN, 0, 0, ALLOW)])


def install(program: bytes) -> None:
    """Apply `program` to every thread of this process and to whatever it starts; it cannot be
    removed. Sets no_new_privs first, as an unprivileged process must. OSError if refused."""
    syscalls.prctl(_PR_SET_NO_NEW_PRIVS, 1)
    buffer = ctypes.create_string_buffer(program, len(program))
    prog = _SockFprog(len(program) // 8, ctypes.cast(buffer, ctypes.c_void_p))
    syscalls.syscall(
        "seccomp", _SECCOMP_SET_MODE_FILTER, _SECCOMP_FILTER_FLAG_TSYNC, ctypes.byref(prog)
    )


_PR_SET_NO_NEW_PRIVS = 38
_SECCOMP_SET_MODE_FILTER = 1
_SECCOMP_FILTER_FLAG_TSYNC = 1


class _SockFprog(ctypes.Structure):
    _fields_ = (("len", ctypes.c_ushort), ("filter", ctypes.c_void_p))


def _prologue() -> list[Instruction]:
    """Kill a call of a foreign ABI, then load the system call number for the rules."""
    syscalls.table()  # SandboxUnavailable on a machine we have no numbers for
    program: list[Instruction] = [
        (_LOAD_WORD, 0, 0, _ARCH),
        (_JUMP_EQUAL, 1, 0, _AUDIT_ARCH[syscalls.MACHINE]),
        (_RETURN, 0, 0, KILL_PROCESS),
        (_LOAD_WORD, 0, 0, _NR),
    ]
    if syscalls.MACHINE == "x86_64":
        program += [(_JUMP_GREATER_EQUAL, 0, 1, _X32_SYSCALL_BIT), (_RETURN, 0, 0, KILL_PROCESS)]
    return program


def _refuse(nr: int, action: int) -> list[Instruction]:
    return [(_JUMP_EQUAL, 0, 1, nr), (_RETURN, 0, 0, action)]


def _threads_only(nr: int, refusal: int) -> list[Instruction]:
    """clone may make a thread of this process (CLONE_THREAD), in no new namespace."""
    return [
        (_JUMP_EQUAL, 0, 5, nr),
        (_LOAD_WORD, 0, 0, _argument(0)),
        (_JUMP_BITS_SET, 0, 2, _CLONE_THREAD),
        (_JUMP_BITS_SET, 1, 0, _CLONE_NAMESPACES),
        (_RETURN, 0, 0, ALLOW),
        (_RETURN, 0, 0, refusal),
    ]


def _by_argument(
    nr: int, index: int, values: tuple[int, ...], *, on_match: int, otherwise: int
) -> list[Instruction]:
    """`on_match` when argument `index` (its low 32 bits: these are ints) is one of `values`.
    Every path through the block returns, so skipping it leaves the number loaded."""
    count = len(values)
    block: list[Instruction] = [(_LOAD_WORD, 0, 0, _argument(index))]
    block += [(_JUMP_EQUAL, count - i, 0, value) for i, value in enumerate(values)]
    block += [(_RETURN, 0, 0, otherwise), (_RETURN, 0, 0, on_match)]
    return [(_JUMP_EQUAL, 0, len(block), nr), *block]


def _assemble(program: list[Instruction]) -> bytes:
    return b"".join(struct.pack("=HBBI", *instruction) for instruction in program)
