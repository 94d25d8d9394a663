"""When a newer grant from another source takes a port: the previous holders lose it, in jitbot's records too.

A jitbot grant that loses some of its ports stays active on the others (``lost_ports``) and its holder is told
which ports closed and which stay open; one that loses all of them moves to ``superseded``: its reminder and
expiry are cancelled and its holder is told, with a one-click way to ask again. Holders outside jitbot (the
portal, the CLI) are announced to on-call. Every loss is audited with who took the port, from where and when.

Each loss is one compare-and-set step on the request (guarded by ``extra.lost_seq``), so a loss found by the
approval that caused it and the same loss found again by the periodic sync with Azure are recorded once.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime

from jit.clock import Clock
from jit.flows import LOST_PORTS
from jit.model import AccessRequest, RequestState
from jit.ports.records import RequestRecords
from jit.request_extras import Extra, extra_field, extras_of
from jit.schedule_items import Kind, ended_items, item
from jit.sharing import Holder, OpeningPlan, displaced_requests, outside_holders

MAX_ATTEMPTS = 10


@dataclass(frozen=True)
class Taker:
    """Who took a port: a jitbot grant (``request_id``) or someone outside jitbot (``who`` is Azure's requestor)."""

    who: str
    source: str
    at: datetime
    request_id: str | None = None


class Displacement:
    """Records lost ports and superseded grants, and queues the notices about them."""

    def __init__(self, store: RequestRecords, clock: Clock, wake: Callable[[], None]):
        self.store = store
        self.clock = clock
        self._wake = wake

    async def apply(self, taker: AccessRequest, plan: OpeningPlan) -> None:
        """Record what ``taker``'s opening took from others (jitbot grants and outside holders)."""
        now = self.clock.now()
        took = Taker(taker.requester, taker.source, now, taker.id)
        for request_id, (_, ports) in displaced_requests(plan).items():
            await self.lose(request_id, ports, took)
        outside = outside_holders(plan.displaced)
        if outside:
            await self.store.update_fields(
                taker.id,
                {extra_field(Extra.DISPLACED_OUTSIDE): _outside_json(outside)},
                actor="jitbot",
                event="outside_access_closed",
                audit={
                    "closed": ", ".join(f"{h.requestor} port {h.port} from {h.source}" for h in outside)[:900],
                },
                schedule={item(Kind.DISPLACED, taker.id): now},
            )
            self._wake()

    async def lose(self, request_id: str, ports: Sequence[int], taker: Taker) -> AccessRequest | None:
        """``request_id`` no longer holds ``ports``: superseded when that was all it held. None if it is gone or no
        longer active; else the request as now stored."""
        for _ in range(MAX_ATTEMPTS):
            request = await self.store.get(request_id)
            if request is None or request.state is not RequestState.ACTIVE:
                return request
            lost = tuple(sorted(set(request.lost_ports) | set(ports)))
            if lost == tuple(sorted(set(request.lost_ports))):
                return request
            step = LOST_PORTS.step(extras_of(request).losses)
            fields: dict[str, object] = {
                **step.fields,
                "lost_ports": lost,
                extra_field(Extra.SUPERSEDED_BY): taker.who,
                extra_field(Extra.SUPERSEDED_SOURCE): taker.source,
                extra_field(Extra.SUPERSEDED_REQUEST): taker.request_id,
                extra_field(Extra.SUPERSEDED_AT): taker.at.isoformat(),
            }
            audit = {
                "ports": ",".join(map(str, sorted(set(ports)))),
                "taken_by": taker.who,
                "taken_from": taker.source,
                "taker_request": taker.request_id or "outside jitbot",
            }
            if set(lost) >= set(request.ports):
                result = await self.store.transition(
                    request.id,
                    RequestState.SUPERSEDED,
                    actor="jitbot",
                    fields={**fields, "decided_at": taker.at},
                    schedule={item(Kind.OUTCOME, request.id): self.clock.now()},
                    unschedule=ended_items(request.id),
                    audit=audit,
                    expect_fields=step.expect,
                )
                ok, stored = result.ok, result.request
            else:
                updated = await self.store.update_fields(
                    request.id,
                    fields,
                    actor="jitbot",
                    event="ports_lost",
                    audit=audit,
                    expect_states={RequestState.ACTIVE},
                    expect_fields=step.expect,
                    schedule={item(Kind.LOST, request.id): self.clock.now()},
                )
                ok, stored = updated.ok and updated.changed, updated.request
            if ok:
                self._wake()
                return stored
        return await self.store.get(request_id)


def _outside_json(holders: Sequence[Holder]) -> str:
    return json.dumps(
        [{"who": h.requestor, "port": h.port, "source": h.source, "until": h.end.isoformat()} for h in holders],
        separators=(",", ":"),
    )
