"""Destinations cannot be turned into a way into the private network (SSRF): every request of
the destinations' client reaches only public addresses over http(s), checked on the address
actually connected to; redirects are not followed; refused literal URLs are refused on save;
and the event tester says `delivered` only for a 2xx answer.

No test here connects anywhere but loopback: addresses that would leave this machine are given
to a recording network backend that refuses to open anything but 127.0.0.1, so a broken guard
fails the test instead of sending traffic.
"""

from __future__ import annotations

import asyncio
import contextlib
import ssl
import threading
from collections.abc import AsyncIterator, Iterable, Iterator, Sequence
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import httpcore
import httpx
import pytest

from seamline.access.tokens import create_token
from seamline.app import Seamline, bootstrap
from seamline.config import Settings
from seamline.destinations.addresses import AddressPolicy
from seamline.destinations.client import GuardedTransport, NotAllowed, destination_client
from seamline.destinations.errors import PermanentError
from seamline.destinations.http import Http
from tests.destinations.sink import Reply, Sink, sink
from tests.protocols.conftest import Workspace
from tests.test_cli import cli

LOOPBACK = ["127.0.0.0/8"]


class Recording(httpcore.NetworkBackend):
    """httpcore's backend, recording each host it is asked to connect to; it opens only
    127.0.0.1, so nothing leaves the machine whatever the guard lets through."""

    def __init__(self) -> None:
        self.hosts: list[str] = []
        self._backend = httpcore.SyncBackend()

    def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,
        local_address: str | None = None,
        socket_options: Iterable[Any] | None = None,
    ) -> httpcore.NetworkStream:
        self.hosts.append(host)
        if host != "127.0.0.1":
            raise httpcore.ConnectError(f"the test backend does not connect to {host}")
        return self._backend.connect_tcp(host, port, timeout, local_address, socket_options)


class Resolver:
    """A DNS stand-in: each look-up of a name gives its next answer (the last one repeats)."""

    def __init__(self, answers: dict[str, list[list[str]]]) -> None:
        self._answers = answers
        self.lookups: list[str] = []

    def __call__(self, host: str, port: int) -> Sequence[str]:
        self.lookups.append(host)
        answers = self._answers[host]
        return answers.pop(0) if len(answers) > 1 else answers[0]


@contextlib.contextmanager
def guarded(
    allow: Sequence[str] = (), resolver: Resolver | None = None
) -> Iterator[tuple[Http, Recording]]:
    network = Recording()
    kwargs: dict[str, Any] = {"network": network}
    if resolver is not None:
        kwargs["resolver"] = resolver
    with destination_client(allow, **kwargs) as client:
        yield Http(client, timeout=2.0), network


# ---------------------------------------------------------------------------- the ranges


@pytest.mark.parametrize(
    ("address", "kind"),
    [
        ("127.0.0.1", "loopback"),
        ("127.255.255.254", "loopback"),
        ("10.1.2.3", "private"),
        ("172.16.0.1", "private"),
        ("172.31.255.255", "private"),
        ("192.168.1.1", "private"),
        ("100.64.0.1", "carrier-grade NAT"),
        ("169.254.169.254", "link-local"),
        ("0.0.0.0", "unspecified"),
        ("224.0.0.1", "multicast"),
        ("239.255.255.250", "multicast"),
        ("240.0.0.1", "reserved"),
        ("255.255.255.255", "reserved"),
        ("192.0.2.10", "reserved"),
        ("198.18.0.1", "reserved"),
        ("::1", "loopback"),
        ("::", "unspecified"),
        ("fe80::1", "link-local"),
        ("fc00::1", "private"),
        ("fd12:3456::1", "private"),
        ("ff02::1", "multicast"),
        ("2001:db8::1", "reserved"),
        ("::ffff:127.0.0.1", "loopback"),
        ("::ffff:169.254.169.254", "link-local"),
        ("::ffff:10.0.0.1", "private"),
        ("64:ff9b::a9fe:a9fe", "link-local"),  # NAT64 of 169.254.169.254
        ("2002:c0a8:101::1", "private"),  # 6to4 of 192.168.1.1
    ],
)
def test_refused_ranges(address: str, kind: str) -> None:
    refusal = AddressPolicy().refusal(address)
    assert refusal is not None and kind in refusal
    assert "destinations_allow_private" in refusal


@pytest.mark.parametrize(
    "address", ["8.8.8.8", "1.1.1.1", "2606:4700::1111", "::ffff:8.8.8.8", "64:ff9b::808:808"]
)
def test_public_addresses_pass(address: str) -> None:
    assert AddressPolicy().refusal(address) is None


def test_the_allow_list_opens_only_the_named_ranges() -> None:
    policy = AddressPolicy.allowing(["10.0.0.0/8", "127.0.0.1"])
    assert policy.refusal("10.200.0.1") is None
    assert policy.refusal("127.0.0.1") is None
    assert policy.refusal("::ffff:10.0.0.1") is None  # the IPv4 address it carries is allowed
    assert policy.refusal("127.0.0.2") is not None
    assert policy.refusal("192.168.0.1") is not None
    assert policy.refusal("169.254.169.254") is not None


def test_settings_validate_the_allow_list() -> None:
    with pytest.raises(ValueError, match="destinations_allow_private"):
        Settings(destinations_allow_private=["not-a-network"])


# ---------------------------------------------------------------------- the connection


@pytest.mark.parametrize(
    "url",
    [
        "http://127.0.0.1:9/hook",
        "http://10.1.2.3/hook",
        "http://169.254.169.254/latest/meta-data/",
        "http://[::1]:9/hook",
        "http://[fd00::1]/hook",
        "http://[::ffff:127.0.0.1]:9/hook",
        "http://[::ffff:169.254.169.254]/latest/meta-data/",
        "http://0.0.0.0:9/hook",
        "http://2130706433:9/hook",  # 127.0.0.1 as one number
        "http://localhost:9/hook",
    ],
)
def test_literal_refused_addresses_are_never_connected(url: str) -> None:
    with guarded() as (http, network), pytest.raises(PermanentError) as refused:
        http.post(url, json={"a": 1})
    assert "was not sent" in refused.value.message
    assert "destinations_allow_private" in refused.value.message
    assert network.hosts == []


def test_a_name_that_resolves_to_loopback_is_refused_when_connecting(tool: Sink) -> None:
    port = tool.url.rsplit(":", 1)[1]
    resolver = Resolver({"tool.example": [["127.0.0.1"]]})
    with guarded(resolver=resolver) as (http, network), pytest.raises(PermanentError) as refused:
        http.post(f"http://tool.example:{port}/hook", json={})
    assert "tool.example (127.0.0.1) is a loopback address" in refused.value.message
    assert network.hosts == [] and tool.received == []
    # The system resolver too: `localhost` is a name like any other here.
    with destination_client() as client, pytest.raises(NotAllowed, match="loopback"):
        client.post(f"http://localhost:{port}/hook", json={})
    assert tool.received == []


def test_every_resolved_address_must_pass(tool: Sink) -> None:
    port = tool.url.rsplit(":", 1)[1]
    resolver = Resolver({"mixed.example": [["127.0.0.1", "169.254.169.254"]]})
    with guarded(LOOPBACK, resolver) as (http, network), pytest.raises(PermanentError) as refused:
        http.post(f"http://mixed.example:{port}/hook", json={})
    assert "mixed.example (169.254.169.254) is a link-local" in refused.value.message
    assert network.hosts == [] and tool.received == []


def test_dns_rebinding_cannot_reach_an_unchecked_address(tool: Sink) -> None:
    """The name answers an allowed address, then (rebound) a refused one. Each connection
    resolves once and connects to the address it checked, never to the name (which the
    system would look up again)."""
    port = tool.url.rsplit(":", 1)[1]
    resolver = Resolver({"rebind.example": [["127.0.0.1"], ["169.254.169.254"]]})
    url = f"http://rebind.example:{port}/hook"
    with guarded(["127.0.0.1/32"], resolver) as (http, network):
        http.post(url, json={"n": 1}, headers={"Connection": "close"})
        assert network.hosts == ["127.0.0.1"] and resolver.lookups == ["rebind.example"]
        with pytest.raises(PermanentError, match=r"\(169.254.169.254\) is a link-local address"):
            http.post(url, json={"n": 2})
    assert resolver.lookups == ["rebind.example", "rebind.example"]
    assert network.hosts == ["127.0.0.1"]
    assert [r.json() for r in tool.received] == [{"n": 1}]
    assert tool.received[0].headers["host"] == f"rebind.example:{port}"


@pytest.mark.parametrize(
    "url", ["file:///etc/passwd", "gopher://127.0.0.1:9/_x", "ftp://example.com/x", "//x/y"]
)
def test_only_http_and_https_are_sent(url: str) -> None:
    with guarded(LOOPBACK) as (http, network), pytest.raises(PermanentError) as refused:
        http.post(url, json={})
    assert "only http:// and https://" in refused.value.message
    assert network.hosts == []
    # The transport refuses them too, whoever calls it.
    with destination_client(LOOPBACK) as client, pytest.raises(NotAllowed):
        client.send(httpx.Request("GET", url if "//" in url[:8] else "gopher://x/"))


def test_redirects_are_not_followed(tool: Sink) -> None:
    tool.replies.append(Reply(302, headers={"Location": f"{tool.url}/inner"}))
    with guarded(LOOPBACK) as (http, _), pytest.raises(PermanentError) as refused:
        http.post(f"{tool.url}/outer", json={})
    assert "redirects are not followed" in refused.value.message
    assert refused.value.status == 302
    assert [r.path for r in tool.received] == ["/outer"]
    # Not even with a client told to follow them: Http decides.
    tool.replies.append(Reply(307, headers={"Location": f"{tool.url}/inner"}))
    with httpx.Client(follow_redirects=True) as client, pytest.raises(PermanentError):
        Http(client).post(f"{tool.url}/outer", json={})
    assert [r.path for r in tool.received] == ["/outer", "/outer"]


def test_the_allow_list_opens_loopback_and_delivery_works(tool: Sink) -> None:
    with guarded(LOOPBACK) as (http, network):
        assert http.post(f"{tool.url}/hook", json={"a": 1}).status_code == 200
    assert network.hosts == ["127.0.0.1"]
    assert tool.received[0].json() == {"a": 1}


# ------------------------------------------------------------- saving and delivering


@contextlib.asynccontextmanager
async def running(tmp_path: Path, allow: Sequence[str] = ()) -> AsyncIterator[Workspace]:
    settings = Settings(
        data_dir=tmp_path / "data",
        delivery_poll=0.05,
        delivery_timeout=0.5,
        destinations_allow_private=list(allow),
    )
    source = bootstrap(settings)
    app = Seamline(settings)
    await app.start()
    _, token = create_token(app.tokens, "default", "tests")
    transport = httpx.ASGITransport(app=app)
    try:
        async with httpx.AsyncClient(transport=transport, base_url="http://t") as client:
            yield Workspace(app, source, client, token, {})
    finally:
        if app.accepting:
            await app.stop()


def subscription(url: Any) -> dict[str, Any]:
    return {
        "destination": "hook",
        "action": "send",
        "trigger": 'type = "track"',
        "mapping": {"url": url, "method": "POST", "data": {"@path": "$."}},
    }


def track(message_id: str, **properties: Any) -> dict[str, Any]:
    return {
        "type": "track",
        "userId": "ada",
        "event": "Order Completed",
        "properties": properties,
        "messageId": message_id,
    }


@pytest.mark.anyio
@pytest.mark.parametrize(
    "url",
    [
        "file:///etc/passwd",
        "gopher://example.com/_x",
        "http://169.254.169.254/latest/meta-data/",
        "http://localhost/hook",
        "http://10.1.2.3/hook",
        "http://[::ffff:127.0.0.1]/hook",
        "http://[fe80::1]/hook",
    ],
)
async def test_saving_a_subscription_to_a_refused_url_fails(tmp_path: Path, url: str) -> None:
    async with running(tmp_path) as workspace:
        await workspace.put("destinations", "hook", {"type": "webhook"})
        answer = await workspace.client.put(
            "/api/v1/subscriptions/hook-all", json=subscription(url), headers=workspace.headers
        )
        assert answer.status_code == 400, answer.text
        body = answer.json()
        assert body["code"] == "url_not_allowed"
        assert body["message"].startswith("subscription 'hook-all': mapping.url: ")
        assert body["details"] == {"field": "mapping.url"}
        gone = await workspace.client.get(
            "/api/v1/subscriptions/hook-all", headers=workspace.headers
        )
        assert gone.status_code == 404


@pytest.mark.anyio
async def test_the_setting_opens_a_range_for_saving_and_a_secret_url_is_not_repeated(
    tmp_path: Path,
) -> None:
    async with running(tmp_path, ["10.0.0.0/8"]) as workspace:
        await workspace.put("destinations", "hook", {"type": "webhook"})
        await workspace.put("subscriptions", "hook-all", subscription("http://10.1.2.3/hook"))
        # A name is not looked up when saving (it is checked when connecting).
        await workspace.put("subscriptions", "hook-all", subscription("https://hooks.example"))
        secret = "http://169.254.169.254/services/T000/B000/s3cret"
        answer = await workspace.client.put(
            "/api/v1/destinations/team",
            json={"type": "slack", "settings": {"webhook_url": secret}},
            headers=workspace.headers,
        )
        assert answer.status_code == 400 and answer.json()["code"] == "url_not_allowed"
        assert "settings.webhook_url" in answer.text and "s3cret" not in answer.text


async def dead_letters(workspace: Workspace, count: int) -> list[dict[str, Any]]:
    for _ in range(300):
        letters: list[dict[str, Any]] = (await workspace.get("destinations/hook/dead-letters"))[
            "data"
        ]
        if len(letters) >= count:
            return letters
        await asyncio.sleep(0.05)
    raise AssertionError("no dead letter")


@pytest.mark.anyio
async def test_a_refused_address_is_a_permanent_failure_with_the_reason(
    tmp_path: Path, tool: Sink
) -> None:
    """The URL comes from the event (a mapping may take it from there), so only the
    connection-time check can refuse it: the delivery becomes a dead letter at once."""
    port = tool.url.rsplit(":", 1)[1]
    async with running(tmp_path, LOOPBACK) as workspace:
        await workspace.put("destinations", "hook", {"type": "webhook"})
        await workspace.put(
            "subscriptions", "hook-all", subscription({"@path": "$.properties.target"})
        )
        await workspace.send(
            [
                track("ok", target=f"{tool.url}/hook"),
                track("v6", target=f"http://[::1]:{port}/hook"),
            ]
        )
        (letter,) = await dead_letters(workspace, 1)
        assert letter["message_id"] == "v6" and letter["attempts"] == 1
        assert "::1 is a loopback address" in letter["error"]
        assert "destinations_allow_private" in letter["error"]
        await asyncio.sleep(0.3)
        status = await workspace.get("destinations/hook/status")
        assert status["pending"] == 0
        outcomes = {c["outcome"] for c in status["counts"]}
        assert {"delivered", "failed"} <= outcomes and "retried" not in outcomes
    assert [r.json()["messageId"] for r in tool.received] == ["ok"]


async def try_event(workspace: Workspace, event: dict[str, Any]) -> dict[str, Any]:
    answer = await workspace.client.post(
        "/api/v1/destinations/hook/test", json={"event": event}, headers=workspace.headers
    )
    assert answer.status_code == 200, answer.text
    (result,) = answer.json()["data"]
    assert result["triggered"]
    return dict(result)


@pytest.mark.anyio
async def test_the_event_tester_reports_delivered_only_for_a_2xx(
    tmp_path: Path, tool: Sink
) -> None:
    async with running(tmp_path) as workspace:
        await workspace.put("destinations", "hook", {"type": "webhook"})
        await workspace.put(
            "subscriptions", "hook-all", subscription({"@path": "$.properties.target"})
        )
        refused = await try_event(workspace, track("t1", target=f"{tool.url}/hook"))
        assert refused["delivered"] is False and refused["retryable"] is False
        assert "127.0.0.1 is a loopback address" in refused["error"]
        assert tool.received == []
        local_file = await try_event(workspace, track("t2", target="file:///etc/passwd"))
        assert local_file["delivered"] is False
        assert "only http:// and https://" in local_file["error"]
    async with running(tmp_path / "open", LOOPBACK) as workspace:
        await workspace.put("destinations", "hook", {"type": "webhook"})
        await workspace.put("subscriptions", "hook-all", subscription(f"{tool.url}/hook"))
        tool.replies.append(Reply(405, body={"error": "method not allowed"}))
        not_allowed = await try_event(workspace, track("t3"))
        assert not_allowed["delivered"] is False and not_allowed["status"] == 405
        assert "answered 405" in not_allowed["error"]
        assert "method not allowed" in not_allowed["response"]
        assert not_allowed["requests"][0]["status"] == 405
        ok = await try_event(workspace, track("t4"))
        assert ok["delivered"] is True and "error" not in ok
        await workspace.put("subscriptions", "hook-all", subscription("http://127.0.0.1:9/closed"))
        closed = await try_event(workspace, track("t5"))
        assert closed["delivered"] is False and closed["retryable"] is True
        assert "failed" in closed["error"]


APPLY = """
destinations:
  hook: {type: webhook}
subscriptions:
  hook-all:
    destination: hook
    action: send
    mapping: {url: "http://169.254.169.254/latest/meta-data/"}
"""


def test_apply_refuses_a_refused_url_unless_the_setting_opens_it(tmp_path: Path) -> None:
    data = tmp_path / "data"
    bootstrap(Settings(data_dir=data))
    file = tmp_path / "workspace.yaml"
    file.write_text(APPLY)
    refused = cli("--data-dir", str(data), "apply", "-f", str(file), "--yes")
    assert refused.returncode == 2
    (line,) = refused.stderr.strip().splitlines()
    assert "hook-all" in line and "mapping.url" in line
    assert "169.254.169.254 is a link-local address" in line
    opened = {"SEAMLINE_DESTINATIONS_ALLOW_PRIVATE": '["169.254.0.0/16"]'}
    applied = cli("--data-dir", str(data), "apply", "-f", str(file), "--yes", env=opened)
    assert applied.returncode == 0, applied.stderr
    assert "+ create subscription 'hook-all'" in applied.stdout


# ------------------------------------------------------------------------------- TLS


def certificate_files(directory: Path, host: str) -> tuple[Path, Path, Path]:
    """A CA and a server certificate for `host` signed by it: (ca.pem, cert.pem, key.pem)."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    now = datetime.now(UTC)

    def made(
        subject: str, key: Any, issuer: str, signer: Any, ca: bool, names: list[str]
    ) -> x509.Certificate:
        builder = (
            x509.CertificateBuilder()
            .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, subject)]))
            .issuer_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, issuer)]))
            .public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - timedelta(minutes=5))
            .not_valid_after(now + timedelta(hours=1))
            .add_extension(x509.BasicConstraints(ca=ca, path_length=None), critical=True)
        )
        if names:
            alt = x509.SubjectAlternativeName([x509.DNSName(n) for n in names])
            builder = builder.add_extension(alt, critical=False)
        return builder.sign(signer, hashes.SHA256())

    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca = made("Test CA", ca_key, "Test CA", ca_key, True, [])
    key = ec.generate_private_key(ec.SECP256R1())
    cert = made(host, key, "Test CA", ca_key, False, [host])
    pem = serialization.Encoding.PEM
    paths = directory / "ca.pem", directory / "cert.pem", directory / "key.pem"
    paths[0].write_bytes(ca.public_bytes(pem))
    paths[1].write_bytes(cert.public_bytes(pem))
    paths[2].write_bytes(
        key.private_bytes(pem, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    )
    return paths


@contextlib.contextmanager
def https_tool(cert: Path, key: Path, names: list[str | None]) -> Iterator[int]:
    """An HTTPS server on 127.0.0.1 answering 200, recording the SNI name of each handshake."""

    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *_args: Any) -> None:
            pass

        def do_POST(self) -> None:
            self.rfile.read(int(self.headers.get("content-length") or 0))
            self.send_response(200)
            self.send_header("content-length", "0")
            self.end_headers()

    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(cert, key)
    context.sni_callback = lambda _sock, name, _ctx: names.append(name)
    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.socket = context.wrap_socket(server.socket, server_side=True)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05})
    thread.start()
    try:
        yield int(server.server_address[1])
    finally:
        server.shutdown()
        server.server_close()
        thread.join()


def test_tls_verifies_the_url_host_name_not_the_address(tmp_path: Path) -> None:
    """The connection goes to the checked IP, yet SNI and certificate verification use the
    name in the URL: a certificate for tool.example passes for tool.example only."""
    ca, cert, key = certificate_files(tmp_path, "tool.example")
    names: list[str | None] = []
    resolver = Resolver({"tool.example": [["127.0.0.1"]], "other.example": [["127.0.0.1"]]})
    transport = GuardedTransport(
        AddressPolicy.allowing(["127.0.0.1/32"]),
        resolver,
        ssl_context=ssl.create_default_context(cafile=str(ca)),
    )
    with https_tool(cert, key, names) as port, httpx.Client(transport=transport) as client:
        answer = client.post(f"https://tool.example:{port}/hook", json={})
        assert answer.status_code == 200
        with pytest.raises(httpx.ConnectError, match="CERTIFICATE_VERIFY_FAILED"):
            client.post(f"https://other.example:{port}/hook", json={})
    assert names == ["tool.example", "other.example"]


def test_a_proxy_from_the_environment_is_not_used(
    tool: Sink, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A proxy would make the connection, and the guard would see only its address."""
    with sink() as proxy:
        monkeypatch.setenv("HTTP_PROXY", proxy.url)
        monkeypatch.setenv("ALL_PROXY", proxy.url)
        with guarded(LOOPBACK) as (http, network):
            http.post(f"{tool.url}/hook", json={})
        assert proxy.received == [] and len(tool.received) == 1
        assert network.hosts == ["127.0.0.1"]
