"""Checking that `serve` can listen before it prints anything or creates a write key."""

from __future__ import annotations

import errno
import socket

from seamline.errors import InvalidInput

_PORT_FIX = "choose another with --port or SEAMLINE_PORT"
_HOST_FIX = "fix --host or SEAMLINE_HOST"


def ensure_can_listen(host: str, port: int) -> None:
    """Raise InvalidInput, naming the option that fixes it, unless `host:port` can be bound now.

    A bind test, not a connect test: it also catches a port held by a process that does not
    answer, and a host that is not an address of this machine. Port 0 (any free port) always
    works.
    """
    if port == 0:
        return
    try:
        family, kind, proto, _, address = socket.getaddrinfo(
            host, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE
        )[0]
    except socket.gaierror as error:
        raise InvalidInput(f"cannot listen on {host!r}: {error.strerror}; {_HOST_FIX}") from None
    with socket.socket(family, kind, proto) as probe:
        # The server sets SO_REUSEADDR too, so a port left in TIME_WAIT counts as free.
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind(address)
        except OSError as error:
            raise InvalidInput(_explain(error, host, port)) from None


def _explain(error: OSError, host: str, port: int) -> str:
    if error.errno == errno.EADDRINUSE:
        return f"port {port} on {host} is already in use by another program; {_PORT_FIX}"
    if error.errno == errno.EACCES:
        return f"not allowed to listen on port {port} (below 1024 needs privileges); {_PORT_FIX}"
    if error.errno == errno.EADDRNOTAVAIL:
        return f"{host} is not an address of this machine; {_HOST_FIX}"
    return f"cannot listen on {host}:{port}: {error.strerror}; {_PORT_FIX}, or {_HOST_FIX}"
