"""One role in this process: `seamline serve --role R`.

- `collect`: the HTTP server (Tracking API, management API, Profile API) on a socket bound
  with SO_REUSEPORT, so several workers share the port and the kernel spreads connections;
- `pipeline`: reads every partition of the log until SIGTERM, then drains it;
- `deliver`: delivers the outbox until SIGTERM, then delivers what is due;
- `all`: every role in one process (the layout before roles were processes).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
import socket
import sys

from seamline.app import ALL_ROLES, COLLECT, DELIVER, PIPELINE, Seamline, tune_runtime
from seamline.config import Settings
from seamline.errors import Conflict
from seamline.roles import STOP_ASKED
from seamline.roles.pause import pause_requested, wait_while_paused

logger = logging.getLogger(__name__)


def listen(host: str, port: int, *, reuse_port: bool) -> socket.socket:
    """A listening socket; with `reuse_port` other workers may bind the same address."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    if reuse_port:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
    sock.bind((host, port))
    sock.listen(2048)
    return sock


def serve_http(settings: Settings, roles: frozenset[str], *, reuse_port: bool) -> None:
    """Serve HTTP (and any other role in `roles`) until SIGTERM or SIGINT."""
    from seamline import server

    app = Seamline(settings, roles=roles)
    # The log's flusher and the pipeline are threads beside the event loop; a shorter GIL
    # switch interval than the default 5 ms hands the GIL back to a thread whose fsync or
    # DuckDB call has finished sooner. Measured: /v1/batch at 8 connections 979 → 1,213 req/s.
    sys.setswitchinterval(0.001)
    tune_runtime()
    sock = listen(settings.host, settings.port, reuse_port=reuse_port)
    server.run(app, settings, sockets=[sock])


def run_background(settings: Settings, role: str) -> int:
    """Run the pipeline or deliver role until SIGTERM/SIGINT; the exit status."""
    tune_runtime()
    return asyncio.run(_background(settings, role))


async def _background(settings: Settings, role: str) -> int:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for stop_signal in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(stop_signal, stop.set)
    while True:
        # The pipeline pauses for an online rebuild in this process (not by exiting, which
        # the supervisor would count as a crash): it waits before opening anything.
        if role == PIPELINE and not await wait_while_paused(settings.data_dir, stop):
            return 0
        try:
            app = Seamline(settings, roles=frozenset({role}))
        except Conflict:
            if role == PIPELINE and pause_requested(settings.data_dir):
                continue  # the rebuild took `.pipeline.lock` just now
            raise
        if role == DELIVER:
            app.delivery_drain = settings.delivery_drain_seconds
        if STOP_ASKED.is_set():
            stop.set()
        await app.start()
        logger.info("%s role started (pid %d)", role, _pid())
        paused = False
        while not stop.is_set() and app.failure is None:
            if role == PIPELINE and pause_requested(settings.data_dir):
                paused = True
                break
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), 0.5)
        failed = app.failure
        await app.stop()  # the pipeline drains, commits, closes and releases its lock
        if failed is not None:
            logger.error("%s role failed: %s", role, failed)
            return 1
        if not paused:
            logger.info("%s role stopped", role)
            return 0
        logger.info("%s role paused for a rebuild", role)


def _pid() -> int:
    import os

    return os.getpid()


def run_role(settings: Settings, role: str) -> int:
    """`serve --role R`: the exit status."""
    if role == "all":
        serve_http(settings, ALL_ROLES, reuse_port=False)
        return 0
    if role == COLLECT:
        serve_http(settings, frozenset({COLLECT}), reuse_port=True)
        return 0
    if role in (PIPELINE, DELIVER):
        return run_background(settings, role)
    raise ValueError(role)
