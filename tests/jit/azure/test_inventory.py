"""The portal's three tabs and activity columns, computed from a bounded number of list calls."""

from __future__ import annotations

from datetime import timedelta

from jit.azure.gateway import AzureGateway
from jit.clock import ManualClock
from jit.model import JitSupport, UnsupportedReason, VmJitStatus
from sandbox.arm import ArmEmulator
from sandbox.arm_inventory import Inventory, VirtualMachine

from .conftest import LOCATION, SUB_A, SUB_B, SUB_C


def by_name(rows: list[VmJitStatus]) -> dict[tuple[str, str], VmJitStatus]:
    return {(row.vm.ref.subscription_id, row.vm.ref.name): row for row in rows}


async def test_every_vm_lands_in_its_tab(gateway: AzureGateway) -> None:
    rows = by_name(await gateway.inventory())
    assert len(rows) == 8
    tabs = {key: (row.support, row.unsupported_reasons) for key, row in rows.items()}
    assert tabs == {
        (SUB_A, "web-01"): (JitSupport.CONFIGURED, ()),
        (SUB_A, "api-01"): (JitSupport.CONFIGURED, ()),
        (SUB_A, "db-01"): (JitSupport.NOT_CONFIGURED, ()),
        (SUB_A, "bare-01"): (JitSupport.UNSUPPORTED, (UnsupportedReason.NO_NSG,)),
        (SUB_A, "old-01"): (JitSupport.UNSUPPORTED, (UnsupportedReason.CLASSIC_VM,)),
        (SUB_B, "web-01"): (JitSupport.NOT_CONFIGURED, ()),
        (SUB_B, "Mixed-Case"): (JitSupport.NOT_CONFIGURED, ()),
        (SUB_C, "svc-01"): (JitSupport.UNSUPPORTED, (UnsupportedReason.DEFENDER_OFF,)),
    }


async def test_configured_rows_carry_policy_and_activity(gateway: AzureGateway, clock: ManualClock) -> None:
    rows = by_name(await gateway.inventory())
    web = rows[(SUB_A, "web-01")]
    assert web.policy is not None
    assert [port.number for port in web.policy.ports] == [22, 3389]
    assert web.policy.ports[1].allowed_sources == ("10.20.0.0/16", "192.168.1.10")
    assert web.activity is not None
    assert web.activity.approved_last_7_days == 3
    assert web.activity.last_access == clock.now() - timedelta(days=0.5)
    assert web.activity.last_user == "U0DAVE"
    api = rows[(SUB_A, "api-01")]
    assert api.activity is not None
    assert (api.activity.approved_last_7_days, api.activity.last_access, api.activity.last_user) == (0, None, None)
    assert rows[(SUB_A, "db-01")].policy is None


async def test_last_user_falls_back_to_azure_requestor(
    gateway: AzureGateway, world: Inventory, clock: ManualClock
) -> None:
    policy = world.policies[0]
    latest = dict(policy.requests[2])
    latest["startTimeUtc"] = clock.now().strftime("%Y-%m-%dT%H:%M:%S.%fZ")
    policy.requests.append(latest)
    rows = by_name(await gateway.inventory())
    activity = rows[(SUB_A, "web-01")].activity
    assert activity is not None
    assert activity.last_user == "carol@contoso.com"
    assert activity.approved_last_7_days == 4


async def grow(world: Inventory) -> None:
    for number in range(30):
        world.vms.append(VirtualMachine(SUB_A, "rg-bulk", f"bulk-{number}", LOCATION, nic_nsg="nsg-app"))


async def test_inventory_cost_does_not_grow_with_vm_count(
    gateway: AzureGateway, arm: ArmEmulator, world: Inventory
) -> None:
    await gateway.inventory()
    small = sorted(call.operation for call in arm.reads())
    gateway.invalidate()
    arm.reset_calls()
    await grow(world)
    rows = await gateway.inventory()
    assert len(rows) == 38
    per_subscription = ["jit.list_subscription", "security.pricing.get"] * 3
    assert sorted(call.operation for call in arm.reads()) == small
    assert small == sorted(["resourcegraph.resources"] * 2 + per_subscription)
    arm.reset_calls()
    await gateway.inventory()
    assert arm.reads() == []


async def test_without_resource_graph_the_list_calls_cost_the_same_whatever_the_vm_count(
    gateway: AzureGateway, arm: ArmEmulator, world: Inventory
) -> None:
    arm.graph_denied = True
    await gateway.inventory()
    small = len([call for call in arm.reads() if call.operation != "resourcegraph.resources"])
    gateway.invalidate()
    arm.reset_calls()
    await grow(world)
    rows = await gateway.inventory()
    assert len(rows) == 38
    assert [call.operation for call in arm.reads()].count("resourcegraph.resources") == 0, "the 403 is remembered"
    assert len(arm.reads()) == small == 7 * 3


async def test_unsupported_reasons_per_vm(gateway: AzureGateway, world: Inventory) -> None:
    for spec, expected in [
        ("db-01", ()),
        ("bare-01", (UnsupportedReason.NO_NSG,)),
        ("old-01", (UnsupportedReason.CLASSIC_VM,)),
        ("svc-01", (UnsupportedReason.DEFENDER_OFF,)),
    ]:
        vm = await gateway.find_vm(spec)
        assert await gateway.unsupported_reasons(vm.ref) == expected, spec


async def test_several_reasons_are_all_reported(gateway: AzureGateway, world: Inventory) -> None:
    world.vms.append(VirtualMachine(SUB_C, "rg-svc", "lonely-01", LOCATION))
    vm = await gateway.find_vm("lonely-01")
    assert await gateway.unsupported_reasons(vm.ref) == (UnsupportedReason.NO_NSG, UnsupportedReason.DEFENDER_OFF)


async def test_classic_vm_is_found_with_its_addresses(gateway: AzureGateway) -> None:
    vm = await gateway.find_vm("old-01")
    assert "/Microsoft.ClassicCompute/" in vm.ref.id
    assert vm.private_ips == ("10.9.0.4",)
