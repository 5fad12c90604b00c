"""A process beside the test session that SIGKILLs every process with a pid file in a directory
(and may remove the directory) once the session's end of its pipe closes: at a normal stop, and
also when pytest is killed and no teardown runs."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

_SCRIPT = """
import os, shutil, signal, sys
root, remove = sys.argv[1], sys.argv[2] == "remove"
sys.stdin.buffer.read()
for name in os.listdir(root):
    if name.endswith(".pid"):
        try:
            with open(os.path.join(root, name)) as f:
                os.kill(int(f.read().strip()), signal.SIGKILL)
        except (OSError, ValueError):
            pass
if remove:
    shutil.rmtree(root, ignore_errors=True)
"""


def start(root: Path, *, remove: bool) -> subprocess.Popen[bytes]:
    """Watch `root`'s `*.pid` files; with `remove`, delete `root` afterwards too."""
    return subprocess.Popen(
        [sys.executable, "-c", _SCRIPT, str(root), "remove" if remove else "keep"],
        stdin=subprocess.PIPE,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )


def stop(watchdog: subprocess.Popen[bytes]) -> None:
    """Let it do its work now and wait for it."""
    assert watchdog.stdin is not None
    watchdog.stdin.close()
    try:
        watchdog.wait(timeout=30)
    except subprocess.TimeoutExpired:
        watchdog.kill()
        watchdog.wait()
