"""The VMs of a subscription and how they are wired (NICs, subnets, NSGs, public IPs), from ARM's list-all JSON.

Built from a handful of subscription-wide list calls so that finding a VM or classifying all of them costs
the same few ARM reads whether a subscription has three VMs or three thousand.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from jit.model import UnsupportedReason, VirtualMachine, VmRef
from jit.resource_ids import id_segments

RawJson = dict[str, Any]


@dataclass(frozen=True)
class IndexedVm:
    """A VM plus the wiring facts that decide whether JIT can protect it."""

    vm: VirtualMachine
    classic: bool = False
    nic_ids: tuple[str, ...] = ()
    nic_nsg_ids: tuple[str, ...] = ()
    subnet_ids: tuple[str, ...] = ()


def _props(raw: Mapping[str, Any]) -> Mapping[str, Any]:
    props = raw.get("properties")
    return props if isinstance(props, Mapping) else {}


def _ref_id(value: Any) -> str | None:
    if isinstance(value, Mapping) and isinstance(value.get("id"), str):
        return str(value["id"])
    return None


def _vm_ref(raw: Mapping[str, Any], subscription_id: str) -> VmRef:
    resource_id = str(raw.get("id", ""))
    segments = id_segments(resource_id)
    return VmRef(
        id=resource_id,
        subscription_id=segments.get("subscriptions", subscription_id),
        resource_group=segments.get("resourcegroups", ""),
        name=str(raw.get("name") or segments.get("virtualmachines", "")),
        location=str(raw.get("location", "")).replace(" ", "").lower(),
    )


def _tags(raw: Mapping[str, Any]) -> dict[str, str]:
    tags = raw.get("tags")
    return {str(k): str(v) for k, v in tags.items()} if isinstance(tags, Mapping) else {}


def _nic_order(raw_vm: Mapping[str, Any]) -> list[str]:
    interfaces = (_props(raw_vm).get("networkProfile") or {}).get("networkInterfaces") or []
    ordered = sorted(
        (nic for nic in interfaces if isinstance(nic, Mapping) and nic.get("id")),
        key=lambda nic: not bool(_props(nic).get("primary") or nic.get("primary")),
    )
    return [str(nic["id"]) for nic in ordered]


def _arm_vm(
    raw: Mapping[str, Any],
    subscription_id: str,
    nics: Mapping[str, Mapping[str, Any]],
    public_ips: Mapping[str, str],
) -> IndexedVm:
    nic_ids = _nic_order(raw)
    private: list[str] = []
    public: list[str] = []
    nsgs: list[str] = []
    subnets: list[str] = []
    for nic_id in nic_ids:
        nic = nics.get(nic_id.lower())
        if nic is None:
            continue
        nsg = _ref_id(_props(nic).get("networkSecurityGroup"))
        if nsg:
            nsgs.append(nsg)
        for config in _props(nic).get("ipConfigurations") or []:
            config_props = _props(config) if isinstance(config, Mapping) else {}
            if config_props.get("privateIPAddress"):
                private.append(str(config_props["privateIPAddress"]))
            subnet = _ref_id(config_props.get("subnet"))
            if subnet:
                subnets.append(subnet)
            pip = _ref_id(config_props.get("publicIPAddress"))
            if pip and public_ips.get(pip.lower()):
                public.append(public_ips[pip.lower()])
    os_disk = (_props(raw).get("storageProfile") or {}).get("osDisk") or {}
    vm = VirtualMachine(
        ref=_vm_ref(raw, subscription_id),
        os_type=str(os_disk["osType"]) if os_disk.get("osType") else None,
        private_ips=tuple(dict.fromkeys(private)),
        public_ips=tuple(dict.fromkeys(public)),
        tags=_tags(raw),
    )
    return IndexedVm(
        vm=vm,
        nic_ids=tuple(nic_ids),
        nic_nsg_ids=tuple(dict.fromkeys(nsgs)),
        subnet_ids=tuple(dict.fromkeys(subnets)),
    )


def _classic_vm(raw: Mapping[str, Any], subscription_id: str) -> IndexedVm:
    props = _props(raw)
    view = props.get("instanceView") or {}
    os_disk = (props.get("storageProfile") or {}).get("operatingSystemDisk") or {}
    private = view.get("privateIpAddress")
    public = [str(ip) for ip in view.get("publicIpAddresses") or [] if ip]
    vm = VirtualMachine(
        ref=_vm_ref(raw, subscription_id),
        os_type=str(os_disk["operatingSystem"]) if os_disk.get("operatingSystem") else None,
        private_ips=(str(private),) if private else (),
        public_ips=tuple(public),
        tags=_tags(raw),
    )
    return IndexedVm(vm=vm, classic=True)


def build_index(
    subscription_id: str,
    vms: Iterable[Mapping[str, Any]],
    classic_vms: Iterable[Mapping[str, Any]],
    nics: Iterable[Mapping[str, Any]],
    public_ips: Iterable[Mapping[str, Any]],
) -> tuple[IndexedVm, ...]:
    """Join the subscription's list-all results into one entry per VM (ARM VMs first, then classic)."""
    nic_by_id = {str(nic.get("id", "")).lower(): nic for nic in nics}
    address_by_id = {
        str(pip.get("id", "")).lower(): str(_props(pip).get("ipAddress") or "")
        for pip in public_ips
        if _props(pip).get("ipAddress")
    }
    indexed = [_arm_vm(raw, subscription_id, nic_by_id, address_by_id) for raw in vms]
    indexed += [_classic_vm(raw, subscription_id) for raw in classic_vms]
    return tuple(indexed)


def subnet_nsgs(virtual_networks: Iterable[Mapping[str, Any]]) -> dict[str, str | None]:
    """Each subnet id (lower-cased) and the NSG attached to it, if any."""
    result: dict[str, str | None] = {}
    for vnet in virtual_networks:
        for subnet in _props(vnet).get("subnets") or []:
            if isinstance(subnet, Mapping) and subnet.get("id"):
                result[str(subnet["id"]).lower()] = _ref_id(_props(subnet).get("networkSecurityGroup"))
    return result


def reasons_for(
    item: IndexedVm,
    subnet_nsg_by_id: Mapping[str, str | None],
    defender_for_servers: bool,
) -> tuple[UnsupportedReason, ...]:
    """Why JIT cannot protect this VM, in the order the portal explains them; empty when it can."""
    reasons: list[UnsupportedReason] = []
    if item.classic:
        reasons.append(UnsupportedReason.CLASSIC_VM)
    elif not item.nic_nsg_ids and not any(subnet_nsg_by_id.get(s.lower()) for s in item.subnet_ids):
        reasons.append(UnsupportedReason.NO_NSG)
    if not defender_for_servers:
        reasons.append(UnsupportedReason.DEFENDER_OFF)
    return tuple(reasons)


def nsg_ids_for(item: IndexedVm, subnet_nsg_by_id: Mapping[str, str | None]) -> tuple[str, ...]:
    """The NSGs guarding the VM: the NIC's first (where JIT puts its rules), then the subnets'."""
    subnet_nsgs_found = [subnet_nsg_by_id.get(s.lower()) for s in item.subnet_ids]
    ordered = [*item.nic_nsg_ids, *(nsg for nsg in subnet_nsgs_found if nsg)]
    seen: dict[str, str] = {}
    for nsg in ordered:
        seen.setdefault(nsg.lower(), nsg)
    return tuple(seen.values())


def matching(index: Sequence[IndexedVm], vm_id: str) -> IndexedVm | None:
    """The indexed VM with that resource id."""
    return next((item for item in index if item.vm.ref.same_vm(vm_id)), None)
