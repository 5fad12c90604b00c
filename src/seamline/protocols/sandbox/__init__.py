"""The function sandbox: what confines a custom function's worker process (Linux only).

`confine` is called by the worker itself, before it loads the user's code; see its module for
the layers and their order, and docs/protocols.md for what holds on which kernel.
"""

from seamline.protocols.sandbox.confine import WorkerUser, confine, worker_user
from seamline.protocols.sandbox.errors import SandboxUnavailable

__all__ = ["SandboxUnavailable", "WorkerUser", "confine", "worker_user"]
