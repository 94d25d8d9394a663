"""How jitbot shares a VM's ports with everyone else who opens them, as pure decisions over Azure's holdings.

Azure keeps one window per VM port, from one source, until one end; whoever initiates last sets both. jitbot's
promise is per grant ("that port, from that source, until that time"), so every write it makes to a port is
planned against everyone entitled to that port now (``jit.holdings``):

- **Same source** (the common case: a VPN or office egress). Opening sends the later of this grant's end and
  every other holder's end, so nobody's access gets shorter; each grant keeps its own reminder and expiry.
- **Another source.** Azure cannot keep both: opening closes the port for the current holders (they are
  *displaced*). The rule's ``on_conflict`` (``jit.routing.ConflictChoice``) decides whether that happens
  (``supersede``, the default), waits for the port to free up (``queue``), or is refused (``refuse``).
- **Closing one grant early** never closes another holder's access: with nobody else entitled the allow rule is
  deleted; otherwise the port is re-opened from the same source until the latest remaining end (which can only
  shorten the window) or left as it is.

Who counts as a holder: an entry jitbot made (its justification names a request and carries an attempt marker
that request recorded) counts while that request is active and still holds the port, until the request's own
end; any other entry (the portal, the CLI, another tool, or text imitating jitbot's) counts until its end.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime

from jit.holdings import OpenPort, same_network
from jit.model import AccessRequest, RequestState


@dataclass(frozen=True)
class Holder:
    """Someone entitled to a VM port now: a jitbot grant (``request``) or someone outside jitbot."""

    port: int
    source: str
    end: datetime
    since: datetime
    requestor: str
    request: AccessRequest | None

    @property
    def who(self) -> str:
        """The Slack user of a jitbot grant, else Azure's ``requestor`` (a UPN or an identity)."""
        return self.request.requester if self.request is not None else self.requestor


@dataclass(frozen=True)
class PortHolders:
    """One open port of a VM: Azure's window (source, end) and the holders entitled to it."""

    port: int
    source: str
    end: datetime
    holders: tuple[Holder, ...]
    jitbot_window: bool


@dataclass(frozen=True)
class OpeningPlan:
    """What to send for each port, whose windows it keeps open, and whose it closes."""

    ends: Mapping[int, datetime]
    sharing: tuple[Holder, ...]
    displaced: tuple[Holder, ...]

    @property
    def free_at(self) -> datetime | None:
        """When every displaced holder's access ends anyway (what a queued grant waits for)."""
        return max((holder.end for holder in self.displaced), default=None)


@dataclass(frozen=True)
class ClosingPlan:
    """How to end one grant's access without ending anyone else's.

    ``delete``: ports whose JIT allow rule for the grant's source goes (nobody else holds them). ``shorten``:
    ports re-opened from the same source until the latest end of the remaining holders. ``lost``: ports another
    source already took (nothing to close). Ports in none of them stay as they are.
    """

    delete: tuple[int, ...]
    shorten: Mapping[int, datetime]
    lost: tuple[int, ...]


def is_jitbot_entry(request_id: str | None, attempt: str | None, known: Mapping[str, AccessRequest]) -> bool:
    """Whether a history entry is one jitbot made: it names a request whose recorded attempts include its marker."""
    request = known.get(request_id or "")
    return request is not None and attempt is not None and attempt in request.attempts


def port_holders(
    opened: Mapping[int, OpenPort], known: Mapping[str, AccessRequest], now: datetime
) -> dict[int, PortHolders]:
    """Everyone entitled to each open port, one holder per jitbot request (until its own end), oldest first."""
    result: dict[int, PortHolders] = {}
    for number, window in opened.items():
        holders: list[Holder] = []
        counted: set[str] = set()
        for hold in window.holds:
            if not is_jitbot_entry(hold.request_id, hold.attempt, known):
                holders.append(Holder(number, window.source, hold.end, hold.start, hold.requestor, None))
                continue
            request = known[hold.request_id or ""]
            end = _entitled_until(request, number, hold.end, now)
            if end is not None and request.id not in counted:
                counted.add(request.id)
                holders.append(Holder(number, window.source, end, hold.start, hold.requestor, request))
        current = window.current
        result[number] = PortHolders(
            number,
            window.source,
            window.end,
            tuple(holders),
            is_jitbot_entry(current.request_id, current.attempt, known),
        )
    return result


def _entitled_until(request: AccessRequest, port: int, entry_end: datetime, now: datetime) -> datetime | None:
    """Until when a jitbot grant is entitled to a port: its own end while it is open and still holds the port.

    An approved grant whose activation is still being saved (after a crash) counts until its entry's end.
    """
    if request.state not in (RequestState.ACTIVE, RequestState.APPROVED) or port in request.lost_ports:
        return None
    end = request.ends_at or entry_end
    return end if end > now else None


def others(holders: Mapping[int, PortHolders], request_id: str) -> dict[int, PortHolders]:
    """The same holdings without one request's own holds (a grant is never its own neighbour)."""
    return {
        number: PortHolders(
            held.port,
            held.source,
            held.end,
            tuple(h for h in held.holders if h.request is None or h.request.id != request_id),
            held.jitbot_window,
        )
        for number, held in holders.items()
    }


def plan_opening(
    ports: Iterable[int],
    source: str,
    own_end: datetime,
    holders: Mapping[int, PortHolders],
    limits: Mapping[int, datetime],
) -> OpeningPlan:
    """Per port: the end to send (never shortening a same-source holder, never past ``limits``), and whom it
    displaces. ``holders`` must not contain the grant being opened (see ``others``)."""
    ends: dict[int, datetime] = {}
    sharing: list[Holder] = []
    displaced: list[Holder] = []
    for number in ports:
        held = holders.get(number)
        end = own_end
        if held is not None and same_network(held.source, source):
            sharing += held.holders
            end = max([own_end, *(h.end for h in held.holders)])
        elif held is not None:
            displaced += held.holders
        limit = limits.get(number)
        ends[number] = min(end, limit) if limit is not None else end
    return OpeningPlan(ends, tuple(sharing), tuple(displaced))


def plan_closing(request: AccessRequest, holders: Mapping[int, PortHolders]) -> ClosingPlan:
    """How to close ``request``'s ports; ``holders`` are everyone else's (see ``others``)."""
    delete: list[int] = []
    shorten: dict[int, datetime] = {}
    lost: list[int] = []
    for number in request.open_ports:
        held = holders.get(number)
        if held is None:
            delete.append(number)
        elif not same_network(held.source, request.source):
            lost.append(number)
        elif not held.holders:
            delete.append(number)
        else:
            keep_until = max(h.end for h in held.holders)
            if held.end > keep_until:
                shorten[number] = keep_until
    return ClosingPlan(tuple(delete), shorten, tuple(lost))


def displaced_requests(plan: OpeningPlan) -> dict[str, tuple[AccessRequest, tuple[int, ...]]]:
    """The jitbot grants an opening displaces, with the ports each of them loses."""
    found: dict[str, tuple[AccessRequest, list[int]]] = {}
    for holder in plan.displaced:
        if holder.request is not None:
            found.setdefault(holder.request.id, (holder.request, []))[1].append(holder.port)
    return {key: (request, tuple(sorted(set(ports)))) for key, (request, ports) in found.items()}


def outside_holders(holders: Sequence[Holder]) -> tuple[Holder, ...]:
    """The holders that are not jitbot grants."""
    return tuple(h for h in holders if h.request is None)
