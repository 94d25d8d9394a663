"""The VMs of a subscription and how they are wired (NICs, subnets, NSGs, public IPs), from ARM's list-all JSON.

Built from a handful of subscription-wide list calls so that finding a VM or classifying all of them costs
the same few ARM reads whether a subscription has three VMs or three thousand.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from jit.azure.shared_values import SharedValues
from jit.model import UnsupportedReason, VirtualMachine, VmRef
from jit.resource_ids import id_segments

RawJson = dict[str, Any]


@dataclass(frozen=True, slots=True)
class IndexedVm:
    """A VM plus the wiring facts that decide whether JIT can protect it."""

    vm: VirtualMachine
    classic: bool = False
    nic_nsg_ids: tuple[str, ...] = ()
    subnet_ids: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class NicWiring:
    """What jitbot reads of a NIC: its NSG and, per IP configuration in order, its private address, its subnet and
    its public address (when the configuration has them)."""

    nsg_id: str | None = None
    private_ips: tuple[str, ...] = ()
    subnet_ids: tuple[str, ...] = ()
    public_ips: tuple[str, ...] = ()


def _props(raw: Mapping[str, Any]) -> Mapping[str, Any]:
    props = raw.get("properties")
    return props if isinstance(props, Mapping) else {}


def _ref_id(value: Any) -> str | None:
    if isinstance(value, Mapping) and isinstance(value.get("id"), str):
        return str(value["id"])
    return None


def _vm_ref(raw: Mapping[str, Any], subscription_id: str, shared: SharedValues) -> VmRef:
    resource_id = str(raw.get("id", ""))
    segments = id_segments(resource_id)
    return VmRef(
        id=resource_id,
        subscription_id=shared.text(segments.get("subscriptions", subscription_id)),
        resource_group=shared.text(segments.get("resourcegroups", "")),
        name=str(raw.get("name") or segments.get("virtualmachines", "")),
        location=shared.text(str(raw.get("location", "")).replace(" ", "").lower()),
    )


def _tags(raw: Mapping[str, Any], shared: SharedValues) -> Mapping[str, str]:
    tags = raw.get("tags")
    return shared.tags({str(k): str(v) for k, v in tags.items()} if isinstance(tags, Mapping) else {})


def _nic_order(raw_vm: Mapping[str, Any]) -> list[str]:
    interfaces = (_props(raw_vm).get("networkProfile") or {}).get("networkInterfaces") or []
    ordered = sorted(
        (nic for nic in interfaces if isinstance(nic, Mapping) and nic.get("id")),
        key=lambda nic: not bool(_props(nic).get("primary") or nic.get("primary")),
    )
    return [str(nic["id"]) for nic in ordered]


def wire_nics(nics: Iterable[Mapping[str, Any]], public_ips: Iterable[Mapping[str, Any]]) -> dict[str, NicWiring]:
    """Each NIC (by lower-cased id; the last of a repeated id wins) from ARM's NIC and public IP JSON."""
    address_by_id = {
        str(pip.get("id", "")).lower(): str(_props(pip).get("ipAddress") or "")
        for pip in public_ips
        if _props(pip).get("ipAddress")
    }
    wiring: dict[str, NicWiring] = {}
    for nic in nics:
        private: list[str] = []
        subnets: list[str] = []
        public: list[str] = []
        for config in _props(nic).get("ipConfigurations") or []:
            config_props = _props(config) if isinstance(config, Mapping) else {}
            if config_props.get("privateIPAddress"):
                private.append(str(config_props["privateIPAddress"]))
            subnet = _ref_id(config_props.get("subnet"))
            if subnet:
                subnets.append(subnet)
            pip = _ref_id(config_props.get("publicIPAddress"))
            if pip and address_by_id.get(pip.lower()):
                public.append(address_by_id[pip.lower()])
        nsg = _ref_id(_props(nic).get("networkSecurityGroup"))
        wiring[str(nic.get("id", "")).lower()] = NicWiring(nsg, tuple(private), tuple(subnets), tuple(public))
    return wiring


def index_arm_vm(
    raw: Mapping[str, Any], subscription_id: str, wiring: Mapping[str, NicWiring], shared: SharedValues
) -> IndexedVm:
    """A Resource Manager VM from its JSON and the wiring of its NICs (primary NIC first; unknown NICs skipped)."""
    wired = [nic for nic in (wiring.get(nic_id.lower()) for nic_id in _nic_order(raw)) if nic is not None]
    os_disk = (_props(raw).get("storageProfile") or {}).get("osDisk") or {}
    vm = VirtualMachine(
        ref=_vm_ref(raw, subscription_id, shared),
        os_type=shared.text(str(os_disk["osType"])) if os_disk.get("osType") else None,
        private_ips=tuple(dict.fromkeys(ip for nic in wired for ip in nic.private_ips)),
        public_ips=tuple(dict.fromkeys(ip for nic in wired for ip in nic.public_ips)),
        tags=_tags(raw, shared),
    )
    return IndexedVm(
        vm=vm,
        nic_nsg_ids=shared.texts(tuple(dict.fromkeys(nic.nsg_id for nic in wired if nic.nsg_id))),
        subnet_ids=shared.texts(tuple(dict.fromkeys(subnet for nic in wired for subnet in nic.subnet_ids))),
    )


def index_classic_vm(raw: Mapping[str, Any], subscription_id: str, shared: SharedValues) -> IndexedVm:
    """A classic (Azure Service Manager) VM from its JSON; its addresses are in its instance view."""
    props = _props(raw)
    view = props.get("instanceView") or {}
    os_disk = (props.get("storageProfile") or {}).get("operatingSystemDisk") or {}
    private = view.get("privateIpAddress")
    public = [str(ip) for ip in view.get("publicIpAddresses") or [] if ip]
    vm = VirtualMachine(
        ref=_vm_ref(raw, subscription_id, shared),
        os_type=shared.text(str(os_disk["operatingSystem"])) if os_disk.get("operatingSystem") else None,
        private_ips=(str(private),) if private else (),
        public_ips=tuple(public),
        tags=_tags(raw, shared),
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
    wiring = wire_nics(nics, public_ips)
    shared = SharedValues()
    indexed = [index_arm_vm(raw, subscription_id, wiring, shared) for raw in vms]
    indexed += [index_classic_vm(raw, subscription_id, shared) for raw in classic_vms]
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
