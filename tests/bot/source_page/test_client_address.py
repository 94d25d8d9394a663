"""The client's address: the peer, or X-Forwarded-For read from the right only behind a trusted proxy."""

from __future__ import annotations

import ipaddress

import pytest

from bot.source_page.client_address import (
    AddressKind,
    TrustedProxies,
    client_address,
    kind_of,
    parse_address,
)

PROXIES = TrustedProxies.of(["10.0.0.0/8", "2001:db8:ffff::/48"])


def seen(peer: str | None, *forwarded: str) -> str | None:
    address = client_address(peer, list(forwarded), PROXIES)
    return None if address is None else str(address)


def test_an_untrusted_peer_is_the_client_whatever_it_forwards() -> None:
    assert seen("198.51.100.7", "203.0.113.9") == "198.51.100.7"
    assert seen("198.51.100.7") == "198.51.100.7"


def test_no_trusted_proxies_means_the_header_is_never_read() -> None:
    assert str(client_address("10.1.2.3", ["203.0.113.9"], TrustedProxies())) == "10.1.2.3"


def test_behind_a_trusted_proxy_the_right_most_untrusted_entry_is_the_client() -> None:
    assert seen("10.0.0.5", "203.0.113.9") == "203.0.113.9"
    assert seen("10.0.0.5", "6.6.6.6, 203.0.113.9, 10.0.0.4") == "203.0.113.9", "the client wrote 6.6.6.6 itself"
    assert seen("10.0.0.5", "6.6.6.6", "203.0.113.9, 10.0.0.4") == "203.0.113.9", "repeated headers join in order"


def test_when_every_hop_is_trusted_the_left_most_is_the_originator() -> None:
    assert seen("10.0.0.5", "10.9.9.9, 10.0.0.4") == "10.9.9.9"


def test_what_cannot_be_told_is_none() -> None:
    assert seen("10.0.0.5") is None, "a trusted proxy that names nobody"
    assert seen("10.0.0.5", "203.0.113.9, unknown") is None, "garbage before an untrusted hop"
    assert seen(None, "203.0.113.9") is None
    assert seen("not-an-address") is None


def test_garbage_left_of_the_client_does_not_matter() -> None:
    assert seen("10.0.0.5", "<script>, 203.0.113.9") == "203.0.113.9"


def test_ports_brackets_and_mapped_addresses_are_read_as_the_address() -> None:
    assert seen("10.0.0.5", "203.0.113.9:51234") == "203.0.113.9"
    assert seen("10.0.0.5", "[2001:db8:1::7]:443") == "2001:db8:1::7"
    assert seen("::ffff:198.51.100.7") == "198.51.100.7"
    assert seen("2001:db8:ffff::1", "2001:db8:1::7") == "2001:db8:1::7", "IPv6 proxies are trusted too"
    assert parse_address(" 203.0.113.9 ") == ipaddress.ip_address("203.0.113.9")


@pytest.mark.parametrize(
    ("address", "kind"),
    [
        ("203.0.113.9", AddressKind.PRIVATE),  # documentation range: not global
        ("8.8.8.8", AddressKind.PUBLIC_V4),
        ("100.64.0.1", AddressKind.CGNAT),
        ("100.127.255.254", AddressKind.CGNAT),
        ("100.128.0.1", AddressKind.PUBLIC_V4),
        ("2001:4860::8888", AddressKind.IPV6),
        ("127.0.0.1", AddressKind.PRIVATE),
        ("10.1.2.3", AddressKind.PRIVATE),
    ],
)
def test_each_kind_of_address_gets_its_explanation(address: str, kind: AddressKind) -> None:
    assert kind_of(ipaddress.ip_address(address)) is kind
