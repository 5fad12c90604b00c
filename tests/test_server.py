"""Slow clients against a real `seamline serve`, over raw sockets on loopback.

Before, a client sending its headers or its body one byte every few seconds was never cut
off, and nothing capped the connections a worker took. The server here runs with half-second
timeouts and room for two connections; every loop below is bounded, so a server that does not
cut a client off fails the test instead of hanging it.
"""

from __future__ import annotations

import json
import socket
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.e2e.server import Server

pytestmark = pytest.mark.slow
PAUSE = 0.1  # between the bytes a slow client sends; 200 bytes take 20 s, the timeouts 0.5 s


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    data_dir: Path = tmp_path_factory.mktemp("slow-clients") / "data"
    with Server(
        data_dir,
        SEAMLINE_HTTP_HEADER_TIMEOUT="0.5",
        SEAMLINE_HTTP_BODY_TIMEOUT="0.5",
        SEAMLINE_HTTP_MAX_CONNECTIONS="2",
    ) as running:
        yield running


def connect(server: Server) -> socket.socket:
    sock = socket.create_connection(("127.0.0.1", server.port), timeout=5)
    sock.settimeout(PAUSE)
    return sock


def trickle(sock: socket.socket, data: bytes) -> bytes:
    """Send `data` a byte at a time, PAUSE apart, until the server answers or closes; what
    it said. Fails when the server let every byte through."""
    for byte in data:
        try:
            sock.sendall(bytes([byte]))
            first = sock.recv(65536)
        except TimeoutError:
            continue
        except (BrokenPipeError, ConnectionResetError):
            return b""
        return first + read_to_close(sock)
    pytest.fail(f"the server took all {len(data)} bytes, {PAUSE} s apart, without cutting off")


def read_to_close(sock: socket.socket, polls: int = 50) -> bytes:
    received = b""
    for _ in range(polls):
        try:
            chunk = sock.recv(65536)
        except TimeoutError:
            continue
        except ConnectionResetError:
            break
        if not chunk:
            break
        received += chunk
    return received


def response(raw: bytes) -> tuple[int, dict[str, str], Any]:
    head, _, body = raw.partition(b"\r\n\r\n")
    status_line, *header_lines = head.decode("latin-1").split("\r\n")
    headers = dict(line.lower().split(": ", 1) for line in header_lines)
    return int(status_line.split()[1]), headers, json.loads(body) if body else None


def request(path: str, body: bytes = b"", method: str = "POST") -> bytes:
    return (
        f"{method} {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
        f"Content-Length: {len(body)}\r\n\r\n"
    ).encode() + body


def test_headers_sent_too_slowly_are_cut_off_with_a_408(server: Server) -> None:
    padded = request("/v1/track").replace(b"\r\n\r\n", b"\r\nX-Slow: " + b"a" * 150 + b"\r\n\r\n")
    with connect(server) as sock:
        status, headers, body = response(trickle(sock, padded))
    assert status == 408
    assert headers["content-type"] == "application/json"
    assert body["code"] == "request_timeout"


def test_a_connection_that_never_sends_a_byte_is_closed(server: Server) -> None:
    with connect(server) as sock:
        assert closed_within(sock, polls=100)  # 10 s at most; the timeout is 0.5 s


def closed_within(sock: socket.socket, polls: int) -> bool:
    """True once the server closes the connection (end of stream), False after `polls`."""
    for _ in range(polls):
        try:
            if not sock.recv(65536):
                return True
        except TimeoutError:
            continue
        except ConnectionResetError:
            return True
    return False


@pytest.mark.parametrize("path", ["/v1/track", "/v1/batch", "/api/v1/held/rerun"])
def test_a_body_sent_too_slowly_gets_a_408_json(server: Server, path: str) -> None:
    body = json.dumps({"userId": "u1", "event": "Slow", "properties": {"x": "y" * 150}})
    head, _, rest = request(path, body.encode()).partition(b"\r\n\r\n")
    with connect(server) as sock:
        sock.sendall(head + b"\r\n\r\n")  # the headers at once: only the body is slow
        status, headers, answer = response(trickle(sock, rest))
    assert status == 408
    assert headers["connection"] == "close"
    assert answer == {"code": "request_timeout", "message": answer["message"]}


def test_past_the_connection_cap_a_request_gets_503_json(server: Server) -> None:
    healthz = request("/healthz", method="GET")
    first, second = connect(server), connect(server)
    try:
        for sock in (first, second):  # both served, and kept alive afterwards
            sock.sendall(healthz)
            assert response(read_until_body(sock))[0] == 200
        with connect(server) as third:
            third.sendall(healthz)
            status, headers, body = response(read_to_close(third))
        assert status == 503
        assert headers["retry-after"] == "1"
        assert body["code"] == "unavailable"
    finally:
        first.close()
        second.close()
    statuses = []
    for _ in range(20):  # the server sees the two closes within a moment
        with connect(server) as again:
            again.sendall(healthz)
            statuses.append(response(read_until_body(again))[0])
        if statuses[-1] == 200:
            break
    assert statuses[-1] == 200


def read_until_body(sock: socket.socket) -> bytes:
    received = b""
    for _ in range(50):
        try:
            received += sock.recv(65536)
        except TimeoutError:
            continue
        head, found, body = received.partition(b"\r\n\r\n")
        if found and len(body) >= int(response(head + b"\r\n\r\n")[1]["content-length"]):
            return received
    pytest.fail(f"no complete answer: {received!r}")
