"""Finding VMs with Azure Resource Graph: one query over every subscription (or the management group) instead of
seven list calls per subscription.

A lookup by name is two queries whatever the number of subscriptions: the VMs with that name, then the NICs of
those candidates only, joined with their public IPs and their subnets' NSGs. The whole inventory is the same two
queries without the filters (the NICs first), paged with ``$skipToken`` (1,000 rows a page, Resource Graph's
maximum) and assembled a page at a time (``jit.azure.graph_assembly``). A lookup also reads each candidate's power
state and reported OS from Resource Graph's copy of its instance view (``properties.extended.instanceView``), so
the approval card need not read the instance view itself; the inventory leaves them out (nobody reads them there).
Rows come back with only the columns jitbot reads, and are turned into the same ``IndexedVm`` values the
per-subscription list path builds (``jit.azure.topology``), so both paths answer alike.

Resource Graph needs ``Microsoft.ResourceGraph/resources/read`` and returns only the resources the identity may
read (``Microsoft.Compute/virtualMachines/read``, ``Microsoft.Network/networkInterfaces/read``,
``Microsoft.Network/publicIPAddresses/read``, ``Microsoft.Network/virtualNetworks/read``). An identity without
the first gets a 403: ``GraphAccess`` remembers that, and the gateway falls back to the list calls.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from datetime import datetime, timedelta
from typing import Any

from azure.mgmt.resourcegraph.models import QueryRequest, QueryRequestOptions

from jit.azure.clients import ArmClients
from jit.azure.failures import azure_errors
from jit.azure.graph_assembly import CLASSIC_VM, GraphAssembly, GraphVms, assemble, nic_ids_of
from jit.clock import Clock
from jit.ports.azure_errors import AzureForbidden
from jit.vm_names import VmSpec

RawJson = dict[str, Any]
PAGE = 1000
ARM_VM = "microsoft.compute/virtualmachines"
DENIED_RETRY = timedelta(minutes=10)

_VM_COLUMNS = (
    "| project id, name, type, location, subscriptionId, tags,"
    " osType = tostring(properties.storageProfile.osDisk.osType),"
    " nics = properties.networkProfile.networkInterfaces,"
    " classicOs = tostring(properties.storageProfile.operatingSystemDisk.operatingSystem),"
    " classicView = properties.instanceView"
)
_RUNTIME_COLUMNS = (
    ", powerState = tostring(properties.extended.instanceView.powerState.code),"
    " osName = tostring(properties.extended.instanceView.osName),"
    " osVersion = tostring(properties.extended.instanceView.osVersion)"
)
_WIRING = (
    "| mv-expand ipconfig = properties.ipConfigurations"
    " | project id, nsgId = tostring(properties.networkSecurityGroup.id),"
    " privateIp = tostring(ipconfig.properties.privateIPAddress),"
    " subnetId = tolower(tostring(ipconfig.properties.subnet.id)),"
    " pipId = tolower(tostring(ipconfig.properties.publicIPAddress.id))"
    " | join kind=leftouter (Resources | where type =~ 'microsoft.network/publicipaddresses'"
    " | project pipId = tolower(id), publicIp = tostring(properties.ipAddress)) on pipId"
    " | join kind=leftouter (Resources | where type =~ 'microsoft.network/virtualnetworks'"
    " | mv-expand subnet = properties.subnets"
    " | project subnetId = tolower(tostring(subnet.id)),"
    " subnetNsgId = tostring(subnet.properties.networkSecurityGroup.id)) on subnetId"
)


def _literal(value: str) -> str:
    return "'" + value.replace("\\", "\\\\").replace("'", "\\'") + "'"


def vm_query(wanted: VmSpec | None = None, ids: Sequence[str] = (), names: Sequence[str] = ()) -> str:
    """The VMs (Resource Manager and classic) named like ``wanted``, with these ids or names, or all of them."""
    where = [f"type in~ ('{ARM_VM}', '{CLASSIC_VM}')"]
    if names:
        where.append(f"name in~ ({', '.join(_literal(n) for n in names)})")
    if wanted is not None:
        where.append(f"name =~ {_literal(wanted.name)}")
        if wanted.resource_group:
            where.append(f"resourceGroup =~ {_literal(wanted.resource_group)}")
        if wanted.subscription_id:
            where.append(f"subscriptionId =~ {_literal(wanted.subscription_id)}")
    if ids:
        where.append(f"id in~ ({', '.join(_literal(i) for i in ids)})")
    runtime = _RUNTIME_COLUMNS if len(where) > 1 else ""
    return f"Resources | where {' and '.join(where)} {_VM_COLUMNS}{runtime}"


def wiring_query(nic_ids: Sequence[str] | None = None) -> str:
    """One row per NIC IP configuration (of these NICs, or all): its NSG, address, subnet's NSG and public IP."""
    where = "type =~ 'microsoft.network/networkinterfaces'"
    if nic_ids is not None:
        where += f" and id in~ ({', '.join(_literal(i) for i in nic_ids)})"
    return f"Resources | where {where} {_WIRING}"


class ResourceGraphReader:
    """Runs queries with azure-mgmt-resourcegraph over the gateway's shared pipeline settings, every page."""

    def __init__(self, clients: ArmClients):
        self._clients = clients

    async def pages(
        self, query: str, *, subscriptions: Sequence[str] = (), management_group: str | None = None
    ) -> AsyncIterator[list[RawJson]]:
        """The rows of ``query`` over the management group (when given) or the subscriptions, a page at a time."""
        client = self._clients.resource_graph()
        request = QueryRequest(
            query=query,
            management_groups=[management_group] if management_group else None,
            subscriptions=None if management_group else list(subscriptions),
            options=QueryRequestOptions(top=PAGE, result_format="objectArray"),
        )
        while True:
            with azure_errors():
                answer = await client.resources(request)
            yield [row for row in answer.data or [] if isinstance(row, dict)]
            if not answer.skip_token:
                return
            assert request.options is not None
            request.options.skip_token = answer.skip_token

    async def rows(
        self, query: str, *, subscriptions: Sequence[str] = (), management_group: str | None = None
    ) -> list[RawJson]:
        """Every row of ``query`` at once (lookups: a page or two)."""
        pages = self.pages(query, subscriptions=subscriptions, management_group=management_group)
        return [row async for page in pages for row in page]


class GraphAccess:
    """Whether to try Resource Graph: yes, unless it answered 403 less than ``retry_after`` ago."""

    def __init__(self, clock: Clock, retry_after: timedelta = DENIED_RETRY):
        self._clock = clock
        self._retry_after = retry_after
        self._denied_at: datetime | None = None

    @property
    def usable(self) -> bool:
        """True when Resource Graph may be asked."""
        return self._denied_at is None or self._clock.now() - self._denied_at >= self._retry_after

    def denied(self) -> None:
        """Resource Graph refused this identity: use the list calls for a while."""
        self._denied_at = self._clock.now()


class GraphVmSource:
    """VM lookups and the whole inventory through Resource Graph; ``None`` answers mean "use the list calls"."""

    def __init__(self, reader: ResourceGraphReader, clock: Clock):
        self._reader = reader
        self.access = GraphAccess(clock)

    async def _rows(self, query: str, subscriptions: Sequence[str], group: str | None) -> list[RawJson] | None:
        if not self.access.usable:
            return None
        try:
            return await self._reader.rows(query, subscriptions=subscriptions, management_group=group)
        except AzureForbidden:
            self.access.denied()
            return None

    async def find(self, wanted: VmSpec, subscriptions: Sequence[str], group: str | None) -> GraphVms | None:
        """The VMs matching ``wanted`` with their wiring: two queries, whatever the number of subscriptions."""
        return await self._vms(vm_query(wanted), subscriptions, group)

    async def find_names(
        self, names: Sequence[str], subscriptions: Sequence[str], group: str | None
    ) -> GraphVms | None:
        """Every VM called any of ``names`` with its wiring: two queries, whatever the number of names."""
        return await self._vms(vm_query(names=names), subscriptions, group)

    async def by_ids(self, ids: Sequence[str], subscriptions: Sequence[str], group: str | None) -> GraphVms | None:
        """These VMs (by resource id) with their wiring."""
        return await self._vms(vm_query(ids=ids), subscriptions, group)

    async def everything(self, subscriptions: Sequence[str], group: str | None) -> GraphVms | None:
        """Every VM in scope with its wiring: the wiring query's pages, then the VM query's, each page reduced to what
        jitbot keeps as it arrives (``GraphAssembly``), so the whole inventory's rows are never held at once."""
        if not self.access.usable:
            return None
        assembly = GraphAssembly()
        try:
            async for page in self._reader.pages(wiring_query(), subscriptions=subscriptions, management_group=group):
                assembly.add_wiring(page)
            async for page in self._reader.pages(vm_query(), subscriptions=subscriptions, management_group=group):
                assembly.add_vms(page)
        except AzureForbidden:
            self.access.denied()
            return None
        return assembly.result()

    async def _vms(self, query: str, subscriptions: Sequence[str], group: str | None) -> GraphVms | None:
        vms = await self._rows(query, subscriptions, group)
        if vms is None:
            return None
        nic_ids = nic_ids_of(vms)
        wiring = await self._rows(wiring_query(nic_ids), subscriptions, group) if nic_ids else []
        return None if wiring is None else assemble(vms, wiring)
