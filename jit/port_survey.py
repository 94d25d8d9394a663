"""Who holds each port of a VM right now, per Azure's history and jitbot's records, and how one viewer sees it.

Reading goes through the gateway's short-lived cache unless a write is about to be made (``fresh``). Viewers see
the details of other people's grants (who, from which source) only if they approve for the VM or are admins;
anyone sees that a port is in use and until when, and their own grants in full.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from jit.clock import Clock
from jit.holdings import open_ports
from jit.model import HeldPort, HolderView, JitPolicy, JitRequestRecord, VmRef
from jit.ports import AzureJit
from jit.ports.records import RequestRecords
from jit.sharing import Holder, PortHolders, port_holders


@dataclass(frozen=True)
class Survey:
    """A VM's policy and who holds its open ports right now (per Azure, filtered by jitbot's records)."""

    policy: JitPolicy | None
    holders: Mapping[int, PortHolders]
    records: tuple[JitRequestRecord, ...]


class Surveyor:
    """Reads a VM's holders through the Azure port and the request store."""

    def __init__(self, azure: AzureJit, store: RequestRecords, clock: Clock):
        self.azure = azure
        self.store = store
        self.clock = clock

    async def survey(self, vm: VmRef, *, fresh: bool) -> Survey:
        """Who holds the VM's ports: ``fresh`` reads Azure now (before a write), else the short-lived cache."""
        policy = await self.azure.policy_for(vm)
        if policy is None:
            return Survey(None, {}, ())
        records = await (self.azure.request_history(policy) if fresh else self.azure.cached_history(vm))
        return await self.holders_in(policy, records)

    async def holders_in(self, policy: JitPolicy | None, records: Sequence[JitRequestRecord]) -> Survey:
        """``survey`` for history already read (the periodic sync reads every VM's at once)."""
        return (await self.holders_of_many([(policy, records)]))[0]

    async def holders_of_many(
        self, histories: Sequence[tuple[JitPolicy | None, Sequence[JitRequestRecord]]]
    ) -> list[Survey]:
        """``holders_in`` for several VMs with one round trip to Redis (the inventory)."""
        now = self.clock.now()
        opened = [open_ports(records, now) for _, records in histories]
        ids = {hold.request_id for each in opened for port in each.values() for hold in port.holds if hold.request_id}
        known = await self.store.get_many(ids)
        return [
            Survey(policy, port_holders(windows, known, now), tuple(records))
            for (policy, records), windows in zip(histories, opened, strict=True)
        ]


def held_ports(holders: Mapping[int, PortHolders], *, viewer: str, detailed: bool) -> tuple[HeldPort, ...]:
    """The ports someone holds, as ``viewer`` may see them (ports nobody is entitled to any more are closed)."""
    return tuple(
        HeldPort(number, held.end, tuple(_view(h, viewer, detailed) for h in held.holders))
        for number, held in sorted(holders.items())
        if held.holders
    )


def _view(holder: Holder, viewer: str, detailed: bool) -> HolderView:
    mine = holder.request is not None and holder.request.requester == viewer
    if not (detailed or mine):
        return HolderView(until=holder.end)
    return HolderView(
        until=holder.end,
        who=holder.who,
        slack=holder.request is not None,
        source=holder.source,
        mine=mine,
        request_id=holder.request.id if holder.request is not None else None,
    )
