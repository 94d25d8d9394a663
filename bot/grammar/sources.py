"""Where access is opened from: one IP address or strict CIDR range (or ``*``), in canonical form."""

from __future__ import annotations

import ipaddress
import re

from bot.grammar.errors import ExampleFn, GrammarError
from bot.grammar.text import fold, shown

FROM_ME_WORDS = frozenset({"me", "my-ip", "myip"})
_IP_CHARS = re.compile(r"[0-9A-Fa-f.:/]+", re.ASCII)


def parse_source_token(token: str, build: ExampleFn) -> str:
    """One IP address or strict CIDR range (or ``*``) in canonical form; GrammarError with ``build(example)``."""
    folded = fold(token).strip()
    if folded == "*":
        return "*"
    if not folded.isascii() or not _IP_CHARS.fullmatch(folded) or len(folded) > 49:
        raise GrammarError(
            f"{shown(token)} is not an IP address or CIDR range (for example `203.0.113.7` or `10.1.2.0/24`).",
            build("203.0.113.7"),
        )
    if "/" in folded:
        address, _, prefix = folded.partition("/")
        if not re.fullmatch(r"[0-9]{1,3}", prefix, re.ASCII):
            raise GrammarError(f"{shown(token)} has a bad prefix length after `/`.", build(_or_example(address)))
        try:
            network = ipaddress.ip_network(folded, strict=True)
        except ValueError:
            try:
                loose = ipaddress.ip_network(folded, strict=False)
            except ValueError:
                raise GrammarError(
                    f"{shown(token)} is not a valid CIDR range (for example `10.1.2.0/24`).",
                    build("10.1.2.0/24"),
                ) from None
            raise GrammarError(
                f"{shown(token)} has host bits set; did you mean `{loose}`?", build(str(loose))
            ) from None
        return str(network)
    try:
        return str(ipaddress.ip_address(folded))
    except ValueError:
        raise GrammarError(
            f"{shown(token)} is not a valid IP address (for example `203.0.113.7`).", build("203.0.113.7")
        ) from None


def _or_example(address: str) -> str:
    try:
        return str(ipaddress.ip_address(address))
    except ValueError:
        return "203.0.113.7"


def valid_source(token: str) -> str | None:
    """``token`` in canonical form when it is a valid source, else None."""
    try:
        return parse_source_token(token, lambda s: s)
    except GrammarError:
        return None


def means_from_me(token: str) -> bool:
    """``from me``: the requester's own address, confirmed on a web page (``me``, ``my-ip``, ``myip``)."""
    return fold(token).strip().lower() in FROM_ME_WORDS
