"""An enterprise's Azure for the emulator: hundreds of subscriptions and tens of thousands of VMs, generated.

Deterministic (one seeded ``random.Random``): the same arguments give the same world. Per subscription, VMs sit in
resource groups of ``vms_per_group``; each group has an NSG (on the NICs in most groups, on the subnet in the rest,
none in a few), a share of VMs has a public IP, a share of groups has a JIT policy covering its VMs, a few
subscriptions have Defender for Servers off, and the subscriptions hang under a management group per business
unit below one root group. VM names are unique (``<app>-<subscription>-<n>``) so a benchmark can ask for any one.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from typing import Any

from sandbox.arm_inventory import (
    Inventory,
    JitPolicy,
    ManagementGroup,
    NetworkSecurityGroup,
    Subscription,
    VirtualMachine,
)

ROOT_GROUP = "mg-enterprise"
REGIONS = ("westeurope", "northeurope", "eastus", "westus2", "southeastasia")
APPS = ("web", "api", "db", "cache", "batch", "jump", "etl", "ml")
UNITS = ("retail", "finance", "logistics", "research", "platform")


@dataclass(frozen=True)
class Shape:
    """How big and how varied the generated world is."""

    subscriptions: int = 500
    vms_per_subscription: int = 100
    vms_per_group: int = 10
    public_ip_share: float = 0.1
    jit_group_share: float = 0.3
    subnet_nsg_share: float = 0.2
    no_nsg_share: float = 0.05
    defender_off_share: float = 0.02
    seed: int = 19


def subscription_id(number: int) -> str:
    """The id of the ``number``-th generated subscription."""
    return f"5e000000-0000-4000-8000-{number:012d}"


def vm_name(subscription: int, number: int) -> str:
    """The name of VM ``number`` of subscription ``subscription`` (unique in the world)."""
    return f"{APPS[number % len(APPS)]}-{subscription:03d}-{number:03d}"


def _port(number: int) -> dict[str, Any]:
    return {"number": number, "protocol": "*", "allowedSourceAddressPrefix": "*", "maxRequestAccessDuration": "PT3H"}


def enterprise_inventory(shape: Shape | None = None) -> Inventory:
    """The generated world (see the module docstring)."""
    shape = shape or Shape()
    rng = random.Random(shape.seed)  # noqa: S311 (a deterministic world, not a secret)
    inventory = Inventory(management_groups=[ManagementGroup(ROOT_GROUP, "Enterprise")])
    units = {unit: ManagementGroup(f"mg-{unit}", unit.title(), ROOT_GROUP) for unit in UNITS}
    inventory.management_groups += list(units.values())
    for sub in range(shape.subscriptions):
        sub_id = subscription_id(sub)
        defender = rng.random() >= shape.defender_off_share
        inventory.subscriptions.append(Subscription(sub_id, f"Enterprise {sub:03d}", defender_for_servers=defender))
        units[UNITS[sub % len(UNITS)]].subscriptions.append(sub_id)
        region = REGIONS[sub % len(REGIONS)]
        for first in range(0, shape.vms_per_subscription, shape.vms_per_group):
            group = f"rg-{first // shape.vms_per_group:02d}"
            wiring = rng.random()
            nsg = f"nsg-{group}"
            on_subnet = wiring < shape.subnet_nsg_share
            no_nsg = shape.subnet_nsg_share <= wiring < shape.subnet_nsg_share + shape.no_nsg_share
            if not no_nsg:
                inventory.nsgs.append(NetworkSecurityGroup(sub_id, group, nsg, region))
            members = []
            for number in range(first, min(first + shape.vms_per_group, shape.vms_per_subscription)):
                vm = VirtualMachine(
                    sub_id,
                    group,
                    vm_name(sub, number),
                    region,
                    os_type="Windows" if number % 7 == 0 else "Linux",
                    nic_nsg=None if no_nsg or on_subnet else nsg,
                    subnet_nsg=nsg if on_subnet else None,
                    private_ip=f"10.{sub % 250}.{first // shape.vms_per_group}.{4 + number % 250}",
                    public_ip=f"20.{sub % 250}.{number // 250}.{number % 250}"
                    if rng.random() < shape.public_ip_share
                    else None,
                    tags={"env": "prod" if sub % 3 else "dev", "unit": UNITS[sub % len(UNITS)]},
                )
                inventory.vms.append(vm)
                members.append(vm)
            if not no_nsg and rng.random() < shape.jit_group_share:
                ports = [_port(3389 if vm.os_type == "Windows" else 22) for vm in members]
                inventory.policies.append(
                    JitPolicy(
                        sub_id,
                        group,
                        region,
                        virtual_machines=[
                            {"id": vm.id, "ports": [port]} for vm, port in zip(members, ports, strict=True)
                        ],
                    )
                )
    return inventory


def first_jit_vm(inventory: Inventory) -> VirtualMachine:
    """A VM covered by a JIT policy with an NSG and Defender on: one anybody may ask for (``ssh`` or ``rdp``)."""
    defended = {s.id for s in inventory.subscriptions if s.defender_for_servers}
    for policy in inventory.policies:
        if policy.subscription_id in defended:
            vm_id = str(policy.virtual_machines[0]["id"])
            return next(
                vm for vm in inventory.in_group(policy.subscription_id, policy.resource_group) if vm.id == vm_id
            )
    raise LookupError("the world has no JIT-enabled VM")
