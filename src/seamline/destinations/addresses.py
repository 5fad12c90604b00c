"""Which network addresses destinations may reach.

A destination's URL is chosen by whoever configures it, so without a rule a webhook could be
pointed at the cloud metadata service (169.254.169.254), at an admin port on localhost or at
any host of the private network, and the event tester would show the answer. Destinations
therefore reach only public addresses: loopback, private, shared (CGNAT), link-local,
multicast, unspecified and reserved ranges are refused unless an operator opens a range with
the `destinations_allow_private` setting (an on-premise CRM on 10.0.0.0/8, say).

The ranges are listed here rather than taken from `ipaddress`'s `is_private`/`is_global`,
whose meaning has changed between Python versions; this list is the contract the docs state.
"""

from __future__ import annotations

import ipaddress
import socket
from collections.abc import Iterable
from dataclasses import dataclass
from urllib.parse import urlsplit

Address = ipaddress.IPv4Address | ipaddress.IPv6Address
Network = ipaddress.IPv4Network | ipaddress.IPv6Network

SCHEMES = frozenset({"http", "https"})

_REFUSED: tuple[tuple[str, str], ...] = (
    ("0.0.0.0/8", "unspecified"),
    ("10.0.0.0/8", "private"),
    ("100.64.0.0/10", "shared (carrier-grade NAT)"),
    ("127.0.0.0/8", "loopback"),
    ("169.254.0.0/16", "link-local"),
    ("172.16.0.0/12", "private"),
    ("192.0.0.0/24", "reserved"),
    ("192.0.2.0/24", "reserved"),
    ("192.88.99.0/24", "reserved"),
    ("192.168.0.0/16", "private"),
    ("198.18.0.0/15", "reserved"),
    ("198.51.100.0/24", "reserved"),
    ("203.0.113.0/24", "reserved"),
    ("224.0.0.0/4", "multicast"),
    ("240.0.0.0/4", "reserved"),
    ("::/128", "unspecified"),
    ("::1/128", "loopback"),
    ("::/96", "reserved"),  # IPv4-compatible (deprecated)
    ("64:ff9b:1::/48", "reserved"),  # local-use NAT64
    ("100::/64", "reserved"),  # discard-only
    ("2001::/23", "reserved"),  # IETF protocol assignments, Teredo
    ("2001:db8::/32", "reserved"),
    ("3fff::/20", "reserved"),
    ("fc00::/7", "private"),
    ("fe80::/10", "link-local"),
    ("fec0::/10", "reserved"),  # site-local (deprecated)
    ("ff00::/8", "multicast"),
)
REFUSED: tuple[tuple[Network, str], ...] = tuple(
    (ipaddress.ip_network(cidr), kind) for cidr, kind in _REFUSED
)
_NAT64 = ipaddress.IPv6Network("64:ff9b::/96")


@dataclass(frozen=True)
class AddressPolicy:
    """Public addresses pass; the refused ranges pass only inside an `allowed` network."""

    allowed: tuple[Network, ...] = ()

    @classmethod
    def allowing(cls, networks: Iterable[str]) -> AddressPolicy:
        """A policy opening these CIDRs (`10.0.0.0/8`, `127.0.0.1`, `fd00::/8`)."""
        return cls(tuple(ipaddress.ip_network(n, strict=False) for n in networks))

    def refusal(self, address: str | Address, shown: str | None = None) -> str | None:
        """Why `address` may not be reached (naming it as `shown`, e.g. the host name it was
        written as), or None when it may."""
        ip = ipaddress.ip_address(address) if isinstance(address, str) else address
        refused = self._refused_kind(ip)
        if refused is None:
            return None
        kind, carried = refused
        name = str(ip) if shown is None or shown == str(ip) else f"{shown} ({ip})"
        if carried is not None:
            name = f"{name}, which carries {carried},"
        article = "an" if kind[0] in "aeiou" else "a"
        return (
            f"{name} is {article} {kind} address; destinations reach only public addresses "
            "unless its range is listed in destinations_allow_private"
        )

    def _refused_kind(self, ip: Address) -> tuple[str, Address | None] | None:
        """The refused range's kind, and the IPv4 address judged in its place if any."""
        if self._allowed(ip):
            return None
        if isinstance(ip, ipaddress.IPv6Address):
            # An address that carries an IPv4 address reaches that address: mapped (::ffff:a.b.c.d)
            # on this host, 6to4 and NAT64 through a gateway. Judge the IPv4 address it carries.
            carried = ip.ipv4_mapped or ip.sixtofour or (_nat64(ip) if ip in _NAT64 else None)
            if carried is not None:
                inner = self._refused_kind(carried)
                return None if inner is None else (inner[0], carried)
        for network, kind in REFUSED:
            if ip.version == network.version and ip in network:
                return kind, None
        return None

    def _allowed(self, ip: Address) -> bool:
        return any(ip.version == n.version and ip in n for n in self.allowed)


PUBLIC_ONLY = AddressPolicy()
"""The default: no private range opened."""


def _nat64(ip: ipaddress.IPv6Address) -> ipaddress.IPv4Address:
    return ipaddress.IPv4Address(int(ip) & 0xFFFFFFFF)


def literal_address(host: str) -> Address | None:
    """The address a URL's host names without a DNS look-up: an IP literal (also the legacy
    IPv4 forms the system resolver accepts, `2130706433`, `127.1`, `0x7f.0.0.1`), or loopback
    for `localhost` and `*.localhost` (RFC 6761). None for any other name."""
    host = host.strip("[]").rstrip(".").lower()
    if host == "localhost" or host.endswith(".localhost"):
        return ipaddress.IPv4Address("127.0.0.1")
    try:
        return ipaddress.ip_address(host.split("%", 1)[0])
    except ValueError:
        pass
    try:
        return ipaddress.IPv4Address(socket.inet_aton(host))
    except (OSError, ValueError):
        return None


def scheme_refusal(scheme: str) -> str | None:
    """Why a URL with this scheme may not be sent to, or None for http and https."""
    if scheme.lower() in SCHEMES:
        return None
    shown = f"{scheme}://" if scheme else "a URL without a scheme"
    return f"only http:// and https:// URLs are allowed, not {shown}"


def url_refusal(url: str, policy: AddressPolicy) -> str | None:
    """Why a literal URL may never be reached (scheme, or a host that is a refused address),
    or None. A host name is not resolved here: the connection is checked when it is made."""
    try:
        parts = urlsplit(url.strip())
        host = parts.hostname
    except ValueError as error:
        return f"it is not a valid URL ({error})"
    refused = scheme_refusal(parts.scheme)
    if refused is not None:
        return refused
    if not host:
        return "the URL has no host"
    address = literal_address(host)
    return None if address is None else policy.refusal(address, host)
