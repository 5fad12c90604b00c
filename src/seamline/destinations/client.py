"""The httpx client destinations send with: it reaches only the addresses `AddressPolicy`
allows, over http or https, and never follows a redirect.

The check sits where the socket is opened. `GuardedBackend.connect_tcp` resolves the host name
once, refuses the connection if any resolved address is refused, and connects to the checked
addresses themselves, so a DNS answer that changes between a check and the connection (DNS
rebinding) cannot lead anywhere unchecked: there is no second look-up. TLS still verifies the
certificate for the URL's host name, because httpcore passes that name, not the address, to
`start_tls` (as SNI and for hostname verification).

httpx's own `HTTPTransport` takes no network backend, so `GuardedTransport` drives an
`httpcore.ConnectionPool` itself, the same way `HTTPTransport` does.
"""

from __future__ import annotations

import socket
import ssl
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from typing import Any

import httpcore
import httpx

from seamline.destinations.addresses import AddressPolicy, scheme_refusal

Resolver = Callable[[str, int], Sequence[str]]
"""(host, port) → the IP addresses to connect to, in the order to try them."""


class NotAllowed(httpx.TransportError):
    """The request may not leave: its scheme, or an address its host resolves to, is refused.
    Retrying cannot help, so deliveries treat it as permanent."""


def system_resolver(host: str, port: int) -> list[str]:
    """The system resolver's addresses for `host`, each once, in its order."""
    try:
        found = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except (socket.gaierror, UnicodeError) as error:
        raise httpcore.ConnectError(f"cannot resolve {host}: {error}") from None
    return list(dict.fromkeys(str(info[4][0]) for info in found))


class GuardedBackend(httpcore.NetworkBackend):
    """httpcore's synchronous backend, connecting only to checked addresses."""

    def __init__(
        self,
        policy: AddressPolicy,
        resolver: Resolver = system_resolver,
        network: httpcore.NetworkBackend | None = None,
    ) -> None:
        self._policy = policy
        self._resolver = resolver
        self._backend = network or httpcore.SyncBackend()

    def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,
        local_address: str | None = None,
        socket_options: Iterable[Any] | None = None,
    ) -> httpcore.NetworkStream:
        addresses = self._resolver(host, port)
        if not addresses:
            raise httpcore.ConnectError(f"{host} resolves to no address")
        for address in addresses:
            # Any refused address refuses the name: a host that resolves to a public and a
            # private address is someone's way in, not a tool.
            refusal = self._policy.refusal(address, host)
            if refusal is not None:
                raise NotAllowed(refusal)
        failure: Exception | None = None
        for address in addresses:
            try:
                # An IP literal: create_connection looks nothing up, so this is the address
                # checked above.
                return self._backend.connect_tcp(
                    address,
                    port,
                    timeout=timeout,
                    local_address=local_address,
                    socket_options=socket_options,
                )
            except (httpcore.ConnectError, httpcore.ConnectTimeout) as error:
                failure = error
        assert failure is not None
        raise failure

    def connect_unix_socket(
        self,
        path: str,
        timeout: float | None = None,
        socket_options: Iterable[Any] | None = None,
    ) -> httpcore.NetworkStream:
        raise NotAllowed("destinations connect over TCP only")

    def sleep(self, seconds: float) -> None:
        self._backend.sleep(seconds)


class GuardedTransport(httpx.BaseTransport):
    """An httpx transport over a connection pool whose backend is `GuardedBackend`."""

    def __init__(
        self,
        policy: AddressPolicy,
        resolver: Resolver = system_resolver,
        network: httpcore.NetworkBackend | None = None,
        ssl_context: ssl.SSLContext | None = None,
    ) -> None:
        self._policy, self._resolver = policy, resolver
        self._pool = httpcore.ConnectionPool(
            ssl_context=ssl_context or httpx.create_ssl_context(),
            network_backend=GuardedBackend(policy, resolver, network),
        )

    def addresses(self, host: str, port: int) -> list[str]:
        """The addresses `host` resolves to, once all are checked: for a destination that
        speaks another protocol than HTTP (NATS) and must connect to exactly these. Raises
        NotAllowed when one is refused, httpcore.ConnectError when the name does not resolve."""
        found = self._resolver(host, port)
        if not found:
            raise httpcore.ConnectError(f"{host} resolves to no address")
        for address in found:
            refusal = self._policy.refusal(address, host)
            if refusal is not None:
                raise NotAllowed(refusal)
        return list(found)

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        refused = scheme_refusal(request.url.scheme)
        if refused is not None:
            raise NotAllowed(refused, request=request)
        assert isinstance(request.stream, httpx.SyncByteStream)
        core = httpcore.Request(
            method=request.method,
            url=httpcore.URL(
                scheme=request.url.raw_scheme,
                host=request.url.raw_host,
                port=request.url.port,
                target=request.url.raw_path,
            ),
            headers=request.headers.raw,
            content=request.stream,
            extensions=request.extensions,
        )
        with _httpx_errors():
            answer = self._pool.handle_request(core)
        assert isinstance(answer.stream, Iterable)
        return httpx.Response(
            status_code=answer.status,
            headers=answer.headers,
            stream=_Body(answer.stream),
            extensions=answer.extensions,
        )

    def close(self) -> None:
        self._pool.close()


class _Body(httpx.SyncByteStream):
    def __init__(self, stream: Iterable[bytes]) -> None:
        self._stream = stream

    def __iter__(self) -> Iterator[bytes]:
        with _httpx_errors():
            yield from self._stream

    def close(self) -> None:
        close = getattr(self._stream, "close", None)
        if close is not None:
            close()


@contextmanager
def _httpx_errors() -> Iterator[None]:
    """httpcore's exceptions as httpx's of the same name (ConnectTimeout, ReadError …), so
    callers handle one family, as with httpx's own transport."""
    try:
        yield
    except httpcore.TimeoutException as error:
        raise _same_named(error, httpx.TimeoutException)(str(error)) from error
    except (httpcore.NetworkError, httpcore.ProtocolError, httpcore.UnsupportedProtocol) as error:
        raise _same_named(error, httpx.TransportError)(str(error)) from error


def _same_named(error: Exception, fallback: type[httpx.TransportError]) -> type[Any]:
    for kind in type(error).__mro__:
        found = getattr(httpx, kind.__name__, None)
        if isinstance(found, type) and issubclass(found, fallback):
            return found
    return fallback


def destination_client(
    allow_private: Sequence[str] = (),
    *,
    resolver: Resolver = system_resolver,
    network: httpcore.NetworkBackend | None = None,
) -> httpx.Client:
    """The client for destination requests: public addresses only (plus the `allow_private`
    CIDRs), http and https only, redirects not followed, no proxy or credentials taken from
    the environment. `resolver` and `network` (the backend that opens checked connections)
    are the system's unless a test passes its own."""
    transport = GuardedTransport(AddressPolicy.allowing(allow_private), resolver, network)
    return httpx.Client(transport=transport, follow_redirects=False, trust_env=False)
