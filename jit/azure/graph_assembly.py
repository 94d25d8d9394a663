"""Turning Resource Graph's rows into ``IndexedVm`` values, a page at a time.

The whole inventory is tens of pages of rows. Each page is reduced to what jitbot reads as it arrives: a wiring
page to one small ``NicWiring`` per NIC and the NSG of each subnet, a VM page (once every wiring page is in) to
``IndexedVm`` values built by ``jit.azure.topology`` like the per-subscription list path's, with repeated values
shared (``SharedValues``). No page's raw rows outlive it, so the rows of the whole inventory are never held at once.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from jit.azure.security_shapes import graph_runtime
from jit.azure.shared_values import SharedValues
from jit.azure.topology import IndexedVm, NicWiring, index_arm_vm, index_classic_vm
from jit.vm_security import VmRuntime

RawJson = dict[str, Any]
CLASSIC_VM = "microsoft.classiccompute/virtualmachines"


@dataclass(frozen=True)
class GraphVms:
    """VMs found with Resource Graph, per subscription, the NSG of every subnet they sit in, and (for a lookup)
    each VM's power state and reported OS by lower-cased VM id."""

    by_subscription: Mapping[str, tuple[IndexedVm, ...]]
    subnet_nsgs: Mapping[str, str | None]
    runtimes: Mapping[str, VmRuntime] = field(default_factory=dict)

    @property
    def items(self) -> list[IndexedVm]:
        """Every VM found."""
        return [item for items in self.by_subscription.values() for item in items]


def _ref_list(value: Any) -> list[RawJson]:
    """The objects of a JSON list (a VM's ``networkInterfaces``); empty for anything else."""
    return [v for v in value if isinstance(v, dict)] if isinstance(value, list) else []


def _vm_json(row: Mapping[str, Any]) -> RawJson:
    """A VM row in the shape of ARM's VM JSON, which ``jit.azure.topology`` reads."""
    base: RawJson = {"id": row["id"], "name": row["name"], "location": row.get("location"), "tags": row.get("tags")}
    if str(row.get("type", "")).lower() == CLASSIC_VM:
        view = row.get("classicView") if isinstance(row.get("classicView"), dict) else {}
        os_name = row.get("classicOs") or None
        disk = {"operatingSystemDisk": {"operatingSystem": os_name}} if os_name else {}
        return {**base, "properties": {"instanceView": view, "storageProfile": disk}}
    os_disk = {"osDisk": {"osType": row["osType"]}} if row.get("osType") else {}
    network = {"networkInterfaces": _ref_list(row.get("nics"))}
    return {**base, "properties": {"storageProfile": os_disk, "networkProfile": network}}


class GraphAssembly:
    """Collects the wiring query's pages, then the VM query's pages, into a ``GraphVms``.

    Every wiring row must be in before the first VM row: a VM's addresses and NSGs come from its NICs' rows.
    """

    def __init__(self) -> None:
        self._shared = SharedValues()
        self._nics: dict[str, NicWiring] = {}
        self._subnets: dict[str, str | None] = {}
        self._arm: dict[str, list[IndexedVm]] = {}
        self._classic: dict[str, list[IndexedVm]] = {}
        self._runtimes: dict[str, VmRuntime] = {}

    def add_wiring(self, rows: Iterable[Mapping[str, Any]]) -> None:
        """One row per NIC IP configuration, in order: the NIC's NSG, the address, subnet (and its NSG), public IP."""
        for row in rows:
            key = str(row["id"]).lower()
            nic = self._nics.get(key) or NicWiring()
            subnet = str(row["subnetId"]) if row.get("subnetId") else None
            if subnet:
                self._subnets[self._shared.text(subnet.lower())] = row.get("subnetNsgId") or None
            public = str(row["publicIp"]) if row.get("pipId") and row.get("publicIp") else None
            self._nics[key] = NicWiring(
                nsg_id=str(row["nsgId"]) if row.get("nsgId") else nic.nsg_id,
                private_ips=(*nic.private_ips, str(row["privateIp"])) if row.get("privateIp") else nic.private_ips,
                subnet_ids=(*nic.subnet_ids, subnet) if subnet else nic.subnet_ids,
                public_ips=(*nic.public_ips, public) if public else nic.public_ips,
            )

    def add_vms(self, rows: Iterable[Mapping[str, Any]]) -> None:
        """VM rows (Resource Manager and classic), each built at once against the wiring collected so far."""
        for row in rows:
            subscription = self._shared.text(str(row.get("subscriptionId") or ""))
            if row.get("powerState"):
                reported = (str(row.get(k) or "") for k in ("powerState", "osName", "osVersion"))
                self._runtimes[str(row["id"]).lower()] = graph_runtime(*reported)
            raw = _vm_json(row)
            if str(row.get("type", "")).lower() == CLASSIC_VM:
                self._classic.setdefault(subscription, []).append(index_classic_vm(raw, subscription, self._shared))
            else:
                self._arm.setdefault(subscription, []).append(index_arm_vm(raw, subscription, self._nics, self._shared))

    def result(self) -> GraphVms:
        """The VMs per subscription (in the order subscriptions first appeared, Resource Manager VMs first, then
        classic) and the subnets' NSGs."""
        by_subscription = {
            sub: (*self._arm.get(sub, ()), *self._classic.get(sub, ()))
            for sub in dict.fromkeys([*self._arm, *self._classic])
        }
        return GraphVms(by_subscription, self._subnets, self._runtimes)


def assemble(vm_rows: Iterable[Mapping[str, Any]], wiring_rows: Iterable[Mapping[str, Any]]) -> GraphVms:
    """The ``GraphVms`` of the two queries' rows when all are at hand (lookups: a page or two)."""
    assembly = GraphAssembly()
    assembly.add_wiring(wiring_rows)
    assembly.add_vms(vm_rows)
    return assembly.result()


def nic_ids_of(vm_rows: Iterable[Mapping[str, Any]]) -> list[str]:
    """The NICs the VM rows point at, without repeats."""
    found: dict[str, str] = {}
    for row in vm_rows:
        for nic in _ref_list(row.get("nics")):
            if nic.get("id"):
                found.setdefault(str(nic["id"]).lower(), str(nic["id"]))
    return list(found.values())
