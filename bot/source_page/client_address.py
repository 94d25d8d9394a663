"""Whose address a request to the "from me" page comes from: the TCP peer, or what trusted proxies say it is.

``X-Forwarded-For`` is a list anyone can write to: a client sends any value it likes, and each proxy appends the
address it received the request from. So it is read only when the direct peer is a proxy jitbot was told to trust
(``JITBOT_TRUSTED_PROXIES``), and then from the right: the right-most address that is not a trusted proxy is the
client, because everything to its left was written by the client itself. Nothing else (``Forwarded``,
``X-Real-IP``, ``CF-Connecting-IP``) is read.
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from enum import StrEnum

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network

CGNAT = ipaddress.IPv4Network("100.64.0.0/10")
_WITH_PORT_V4 = re.compile(r"^([0-9.]+):[0-9]{1,5}$", re.ASCII)
_BRACKETED_V6 = re.compile(r"^\[([0-9A-Fa-f:.]+)\](?::[0-9]{1,5})?$", re.ASCII)


class AddressKind(StrEnum):
    """What kind of address the page saw, for the explanation shown beside it."""

    PUBLIC_V4 = "public_v4"
    CGNAT = "cgnat"
    IPV6 = "ipv6"
    PRIVATE = "private"


@dataclass(frozen=True)
class TrustedProxies:
    """The networks whose ``X-Forwarded-For`` is believed (``JITBOT_TRUSTED_PROXIES``)."""

    networks: tuple[IPNetwork, ...] = ()

    @classmethod
    def of(cls, ranges: Iterable[str]) -> TrustedProxies:
        """From canonical IP/CIDR strings (validated by the settings)."""
        return cls(tuple(ipaddress.ip_network(text, strict=True) for text in ranges))

    def trusts(self, address: IPAddress) -> bool:
        """True when ``address`` is one of the trusted proxies."""
        return any(address.version == network.version and address in network for network in self.networks)


def parse_address(text: str) -> IPAddress | None:
    """One address as proxies and servers write it (``1.2.3.4``, ``1.2.3.4:5678``, ``[2001:db8::1]:443``), with
    IPv4-mapped IPv6 read as the IPv4 address; None when it is not an address."""
    value = text.strip()
    for pattern in (_WITH_PORT_V4, _BRACKETED_V6):
        matched = pattern.match(value)
        if matched:
            value = matched.group(1)
            break
    try:
        address = ipaddress.ip_address(value)
    except ValueError:
        return None
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        return address.ipv4_mapped
    return address


def forwarded_chain(headers: Sequence[str]) -> list[str]:
    """Every ``X-Forwarded-For`` header, in order, as one list of entries (repeated headers join with commas)."""
    return [entry.strip() for header in headers for entry in header.split(",")]


def client_address(peer: str | None, forwarded_for: Sequence[str], proxies: TrustedProxies) -> IPAddress | None:
    """The client's address: the peer, unless the peer is a trusted proxy; then the right-most entry of
    ``X-Forwarded-For`` that is not a trusted proxy (the left-most entry when all are trusted).

    None when it cannot be told: no peer address, a trusted proxy that sent no ``X-Forwarded-For``, or an entry
    that is not an address before an untrusted one was found.
    """
    direct = parse_address(peer or "")
    if direct is None:
        return None
    if not proxies.trusts(direct):
        return direct
    chain = forwarded_chain(forwarded_for)
    found: IPAddress | None = None
    for entry in reversed(chain):
        hop = parse_address(entry)
        if hop is None:
            return None
        found = hop
        if not proxies.trusts(hop):
            return hop
    return found


def kind_of(address: IPAddress) -> AddressKind:
    """Which explanation the page shows beside ``address``."""
    if isinstance(address, ipaddress.IPv6Address):
        return AddressKind.IPV6
    if address in CGNAT:
        return AddressKind.CGNAT
    if not address.is_global:
        return AddressKind.PRIVATE
    return AddressKind.PUBLIC_V4
