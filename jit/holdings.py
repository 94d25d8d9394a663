"""Who holds each port of a VM, read from Azure's JIT request history: the truth about what is open.

Azure keeps one window per VM port. A newer initiate on a port supersedes the open one (its history entry turns
``Revoked``/``NewerRequestInitiated``) and takes its source and end time, whoever made either. So, per port, walk
the history oldest first and keep the chain of entries since the source last changed: the newest entry is what
Azure has open (if it is still ``Initiated`` and not past its end); every entry of the chain whose own end has not
passed is someone still entitled to that port from that source — a *hold*. A holder whose entry was superseded
by a newer one from the same source is still entitled (and still connected, since the source is the same); a
holder whose entry was superseded from another source has lost the port.

Example: alice opens 22 from 203.0.113.10 until 12:00; at 10:00 bob opens 22 from the same address until 11:00
(jitbot sends 12:00 for him, see ``jit.sharing``); at 10:30 carol opens 22 from 198.51.100.7 in the portal. After
10:30 port 22 is open from 198.51.100.7 only, carol is its one holder, and alice and bob have lost it.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime

from jit.model import JitRequestRecord

INITIATED = "initiated"
NEWER_REQUEST = "newerrequestinitiated"


def same_network(left: str, right: str) -> bool:
    """Whether two source prefixes name the same addresses (``10.0.0.1`` equals ``10.0.0.1/32``)."""
    if left.strip().lower() == right.strip().lower():
        return True
    try:
        return ipaddress.ip_network(left.strip(), strict=False) == ipaddress.ip_network(right.strip(), strict=False)
    except ValueError:
        return False


@dataclass(frozen=True)
class Hold:
    """Someone entitled to one port from the port's current source until ``end``.

    ``request_id`` and ``attempt`` are jitbot's (from the justification) when the entry claims to be jitbot's;
    whether it really is, only jitbot's own records can tell (see ``jit.sharing``).
    """

    port: int
    source: str
    end: datetime
    start: datetime
    requestor: str
    justification: str
    request_id: str | None
    attempt: str | None


@dataclass(frozen=True)
class OpenPort:
    """A port Azure has open on a VM now: from ``source`` until ``end``, and everyone entitled to it.

    ``holds`` is oldest first; the last one is the entry Azure's window belongs to.
    """

    port: int
    source: str
    end: datetime
    holds: tuple[Hold, ...]

    @property
    def current(self) -> Hold:
        """The entry Azure's window belongs to (the newest initiate on the port)."""
        return self.holds[-1]


def open_ports(records: Iterable[JitRequestRecord], now: datetime) -> Mapping[int, OpenPort]:
    """Every port of one VM that Azure has open at ``now``, with its holders (``records``: that VM's history)."""
    chains: dict[int, list[tuple[Hold, str, str]]] = {}
    for record in sorted(records, key=lambda r: r.start):
        for granted in record.ports:
            hold = Hold(
                port=granted.number,
                source=granted.source,
                end=granted.end,
                start=record.start,
                requestor=record.requestor,
                justification=record.justification,
                request_id=record.request_id,
                attempt=record.attempt,
            )
            chain = chains.setdefault(granted.number, [])
            if chain and not same_network(chain[-1][0].source, granted.source):
                chain.clear()
            chain.append((hold, granted.status.lower(), granted.status_reason.lower()))
    opened: dict[int, OpenPort] = {}
    for number, chain in chains.items():
        newest, status, _ = chain[-1]
        if status != INITIATED or newest.end <= now:
            continue
        holds = tuple(
            hold
            for index, (hold, hold_status, reason) in enumerate(chain)
            if hold.end > now and (index == len(chain) - 1 or (hold_status != INITIATED and reason == NEWER_REQUEST))
        )
        opened[number] = OpenPort(number, newest.source, newest.end, holds)
    return opened
