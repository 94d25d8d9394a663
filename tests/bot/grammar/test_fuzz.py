"""Hostile and random input: only a Command or a friendly GrammarError ever comes out of the parser."""

from __future__ import annotations

import ipaddress
import unicodedata

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bot.grammar import (
    Command,
    GrammarError,
    PolicyCommand,
    RequestAccess,
    parse_command,
)
from bot.grammar.errors import UNPARSEABLE
from jit.model import MIN_ACCESS

TRICKY_CHARS = (
    "\u200b\u200c\u200d\u2060\ufeff\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069\u200e\u200f"
    "\u00a0\u3000\u2028\u2029\x00\x07\x1b\r\n\t"
    "０１２３４５６７８９ＡＢｓｓｈ／：．－٠١٢३४৫"
    "<>&|@!^*`'\"#,;/:.-_()[]{}%\\"
    "аеорсхѕіј"  # Cyrillic look-alikes
    "ﬁﬂ①ⅰ"
)
WORDS = st.sampled_from(
    [
        "ssh", "rdp", "winrm", "SSH", "22", "3389", "0", "65536", "99999999999999999999", "ssh,", ",ssh", "ssh,8080",
        "22-80", "web-01", "rg/web-01", "a/b/c", "a/b/c/d", "0b1f6471-1bf0-4dda-aec3-cb9272f09590/rg/vm", "-x", "x.",
        "2h", "90m", "1h30m", "PT2H", "P1D", "PT", "P", "4m", "25h", "1e9h", "999999999999d", "2", "hours", "h",
        "from", "FROM", "10.0.0.1", "10.1.2.3/24", "10.1.2.0/24", "::/0", "0.0.0.0/0", "fe80::1%eth0", "1.2.3.4/99",
        "*", "--break-glass", "—break-glass", "--break-glas", "--", "help", "list", "status", "enable", "edit",
        "disable", "extend", "revoke", "cancel", "configured", "not-configured", "unsupported", "not", "r-1",
        "<!channel>", "<@U123>", "<https://evil|x>", "&amp;", "`", "```", "\u202e", "\u200b",
    ]
)  # fmt: skip
TOKEN = st.one_of(WORDS, st.text(alphabet=st.sampled_from(TRICKY_CHARS), min_size=1, max_size=8), st.text(max_size=12))
SEPARATOR = st.sampled_from([" ", "  ", "\t", "\n", "\u3000", "\u00a0", ",", ""])


@st.composite
def near_valid_commands(draw: st.DrawFn) -> str:
    """Commands built from plausible pieces, so the fuzzer reaches the deep branches, not just the first check."""
    tokens = draw(st.lists(TOKEN, min_size=0, max_size=7))
    separators = draw(st.lists(SEPARATOR, min_size=len(tokens), max_size=len(tokens)))
    return "".join(t + s for t, s in zip(tokens, separators, strict=True))


ANY_INPUT = st.one_of(
    st.text(max_size=80),
    st.text(alphabet=st.sampled_from(TRICKY_CHARS), max_size=60),
    near_valid_commands(),
    st.binary(max_size=80).map(lambda b: b.decode("utf-8", "surrogateescape")),
)


def _check_result(text: str) -> Command | GrammarError:
    try:
        return parse_command(text)
    except GrammarError as error:
        caught = error
    assert caught.problem.strip()
    assert caught.problem != UNPARSEABLE, f"internal failure hidden behind the fallback for {text!r}"
    assert caught.example.startswith("/jit")
    assert len(caught.example) <= 600
    return caught


@settings(
    max_examples=10_000,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
    database=None,
)
@given(ANY_INPUT)
def test_only_a_command_or_a_friendly_error_ever_comes_out(text: str) -> None:
    result = _check_result(text)
    if isinstance(result, RequestAccess):
        assert result.ports
        assert all(1 <= port <= 65535 for port in result.ports)
        assert len(set(result.ports)) == len(result.ports)
        assert result.vm.isascii()
        assert all(not unicodedata.category(ch).startswith("C") for ch in result.vm)
        assert result.duration >= MIN_ACCESS
        assert result.duration.total_seconds() <= 24 * 3600
        assert len(result.reason) <= 500
        assert "\u202e" not in result.reason
        if result.source not in (None, "*"):
            assert result.source is not None
            assert str(ipaddress.ip_network(result.source, strict=True)) == result.source
    if isinstance(result, PolicyCommand):
        assert result.vm.isascii()


@settings(max_examples=500, deadline=None, database=None)
@given(st.integers(min_value=-(10**6), max_value=10**6))
def test_port_numbers_are_accepted_exactly_in_range(number: int) -> None:
    result = _check_result(f"{number} web-01 2h")
    assert isinstance(result, RequestAccess) == (1 <= number <= 65535)


@settings(max_examples=500, deadline=None, database=None)
@given(st.ip_addresses(), st.integers(min_value=0, max_value=128))
def test_sources_are_canonical_networks_or_a_suggestion(address: ipaddress.IPv4Address, prefix: int) -> None:
    result = _check_result(f"ssh web-01 2h from {address}/{prefix}")
    if prefix > address.max_prefixlen:
        assert isinstance(result, GrammarError)
        return
    network = ipaddress.ip_network(f"{address}/{prefix}", strict=False)
    if network.network_address == address:
        assert isinstance(result, RequestAccess)
        assert result.source == str(network)
    else:
        assert isinstance(result, GrammarError)
        assert str(network) in result.problem
        assert str(network) in result.example
