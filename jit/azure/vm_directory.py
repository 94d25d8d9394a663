"""Where the gateway finds VMs when Resource Graph is available: lookups by name or id in one round of queries
over the whole scope, and the whole inventory, with what they found kept for a short while.

The scope is the management group (``AZURE_MANAGEMENT_GROUP``, sent as Resource Graph's ``managementGroups``, so
no descendants listing is needed) or the configured subscriptions. Every answer is ``None`` when Resource Graph
cannot be used (the identity got a 403): the gateway then uses the per-subscription list calls.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import timedelta

from jit.azure.cache import TtlCache
from jit.azure.graph_assembly import GraphVms
from jit.azure.name_batches import NameBatches
from jit.azure.resource_graph import GraphVmSource
from jit.azure.topology import IndexedVm
from jit.clock import Clock
from jit.vm_names import VmSpec
from jit.vm_security import VmRuntime

INVENTORY_TTL = timedelta(minutes=10)
RUNTIME_TTL = timedelta(minutes=1)
ALL = "all"


def _matches(item: IndexedVm, wanted: VmSpec) -> bool:
    """Resource Graph's ``=~`` on name, resource group and subscription, for VMs found by a shared query."""
    ref = item.vm.ref
    return (
        ref.name.lower() == wanted.name.lower()
        and (not wanted.resource_group or ref.resource_group.lower() == wanted.resource_group.lower())
        and (not wanted.subscription_id or ref.subscription_id.lower() == wanted.subscription_id.lower())
    )


class VmDirectory:
    """Resource Graph lookups with a per-VM cache (``ttl``) and an inventory cache (``inventory_ttl``)."""

    def __init__(
        self,
        source: GraphVmSource,
        clock: Clock,
        *,
        subscriptions: Sequence[str],
        management_group: str | None,
        ttl: timedelta,
        inventory_ttl: timedelta = INVENTORY_TTL,
        runtime_ttl: timedelta = RUNTIME_TTL,
    ):
        self._source = source
        self._subscriptions = tuple(subscriptions)
        self._group = management_group
        self._found: TtlCache[tuple[str, ...], tuple[IndexedVm, ...] | None] = TtlCache(clock, ttl)
        self._vms: TtlCache[str, IndexedVm] = TtlCache(clock, ttl)
        self._subnets: TtlCache[str, str | None] = TtlCache(clock, ttl)
        self._inventory: TtlCache[str, GraphVms | None] = TtlCache(clock, inventory_ttl)
        self._runtimes: TtlCache[str, VmRuntime] = TtlCache(clock, runtime_ttl)
        self._batches = NameBatches(source, self._subscriptions, self._group)

    def _scope(self, subscriptions: Sequence[str] | None) -> tuple[Sequence[str], str | None]:
        if subscriptions is not None:
            return subscriptions, None
        return self._subscriptions, self._group

    def _remember(self, found: GraphVms) -> GraphVms:
        self._vms.put_many((item.vm.ref.id.lower(), item) for item in found.items)
        self._subnets.put_many(found.subnet_nsgs.items())
        self._runtimes.put_many(found.runtimes.items())
        return found

    async def find(self, wanted: VmSpec, subscriptions: Sequence[str] | None = None) -> list[IndexedVm] | None:
        """The VMs matching ``wanted`` in ``subscriptions`` (default: the whole scope), remembered for ``ttl``; a miss
        is not remembered (the VM may be created any moment), and concurrent lookups in the whole scope share
        queries (``NameBatches``), whatever names they ask for."""
        key = (wanted.name.lower(), (wanted.resource_group or "").lower(), *(s.lower() for s in subscriptions or ()))

        async def load() -> tuple[IndexedVm, ...] | None:
            if subscriptions is None:
                found = await self._batches.find(wanted.name)
            else:
                found = await self._source.find(wanted, subscriptions, None)
            if found is None:
                return None
            return tuple(item for item in self._remember(found).items if _matches(item, wanted))

        items = await self._found.get(key, load)
        if not items:
            self._found.invalidate(key)
        return None if items is None else list(items)

    async def indexed(self, vm_id: str) -> IndexedVm | None:
        """The VM with this id, from the cache or one query; None when unknown or Resource Graph is not usable."""
        cached = self._vms.peek(vm_id.lower())
        if cached is not None:
            return cached
        found = await self._source.by_ids([vm_id], *self._scope(None))
        if found is None:
            return None
        self._remember(found)
        return self._vms.peek(vm_id.lower())

    def runtime(self, vm_id: str) -> VmRuntime | None:
        """The VM's power state and reported OS as a lookup read them less than ``runtime_ttl`` ago, else None."""
        return self._runtimes.peek(vm_id.lower())

    def subnet_nsgs(self, item: IndexedVm) -> Mapping[str, str | None] | None:
        """The NSG of each of the VM's subnets, when Resource Graph found the VM recently (else None)."""
        if self._vms.peek(item.vm.ref.id.lower()) is None:
            return None
        return {subnet.lower(): self._subnets.peek(subnet.lower()) for subnet in item.subnet_ids}

    async def everything(self) -> GraphVms | None:
        """Every VM in scope (cached for ``inventory_ttl``: the whole inventory is many pages)."""

        async def load() -> GraphVms | None:
            found = await self._source.everything(*self._scope(None))
            return None if found is None else self._remember(found)

        inventory = await self._inventory.get(ALL, load)
        if inventory is None:
            self._inventory.invalidate(ALL)
        return inventory

    def invalidate(self) -> None:
        """Forget everything (someone changed Azure by hand)."""
        self._found.invalidate()
        for cache in (self._vms, self._subnets, self._inventory, self._runtimes):
            cache.invalidate()
