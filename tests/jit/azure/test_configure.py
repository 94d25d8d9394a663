"""Enabling, changing and disabling JIT on a VM, and closing access early, against the ARM emulator."""

from __future__ import annotations

import json
from datetime import timedelta

import pytest

from jit.azure.gateway import AzureGateway
from jit.clock import ManualClock
from jit.model import RECOMMENDED_PORTS, PolicyPort, PortProtocol, UnsupportedReason
from jit.ports.azure_errors import InvalidPolicyPorts, PolicyNameTooLong, VmUnsupported
from sandbox.arm import ArmEmulator
from sandbox.arm_inventory import Inventory, VirtualMachine

from .conftest import LOCATION, SUB_A

RECOMMENDED = [PolicyPort(number) for number in RECOMMENDED_PORTS]


def entry_json(world: Inventory, name: str) -> str:
    vm = world.vm(name)
    policy = world.policy_covering(vm)
    assert policy is not None
    return json.dumps(next(e for e in policy.virtual_machines if e["id"].lower() == vm.id.lower()))


async def test_enable_creates_default_policy_in_vm_group_and_region(
    gateway: AzureGateway, arm: ArmEmulator, world: Inventory
) -> None:
    vm = await gateway.find_vm("db-01")
    assert await gateway.policy_for(vm.ref) is None
    policy = await gateway.configure(vm.ref, RECOMMENDED)
    assert (policy.resource_group, policy.location, policy.name) == ("rg-data", LOCATION, "default")
    assert [p.number for p in policy.ports] == [22, 3389, 5985, 5986]
    assert all(p.max_duration == timedelta(hours=3) for p in policy.ports)
    put = [c for c in arm.writes() if c.operation == "jit.put"]
    assert len(put) == 1
    assert put[0].body["properties"]["virtualMachines"][0]["ports"][0] == {
        "number": 22,
        "protocol": "*",
        "allowedSourceAddressPrefix": "*",
        "maxRequestAccessDuration": "PT3H",
    }
    arm.reset_calls()
    assert await gateway.policy_for(vm.ref) == policy
    assert [c.operation for c in arm.reads()] == ["jit.list_subscription"]


async def test_customising_one_vm_resends_the_others_byte_for_byte(
    gateway: AzureGateway, arm: ArmEmulator, world: Inventory
) -> None:
    before = entry_json(world, "web-01")
    vm = await gateway.find_vm("api-01")
    ports = [
        PolicyPort(3389, PortProtocol.TCP, ("10.30.0.0/16",), timedelta(hours=1)),
        PolicyPort(8443, PortProtocol.TCP, ("10.30.0.0/16", "10.31.0.0/16"), timedelta(minutes=45)),
    ]
    policy = await gateway.configure(vm.ref, ports)
    assert entry_json(world, "web-01") == before
    assert policy.ports == tuple(ports)
    sent = next(c for c in arm.writes() if c.operation == "jit.put").body["properties"]["virtualMachines"]
    assert [json.dumps(e) for e in sent if e["id"].endswith("/web-01")] == [before]
    assert len(world.policies[0].requests) == 4


async def test_configure_adds_a_vm_to_an_existing_default_policy(gateway: AzureGateway, world: Inventory) -> None:
    world.vms.append(VirtualMachine(SUB_A, "rg-app", "new-01", LOCATION, nic_nsg="nsg-app", private_ip="10.0.0.20"))
    web_before = entry_json(world, "web-01")
    vm = await gateway.find_vm("new-01")
    policy = await gateway.configure(vm.ref, [PolicyPort(22)])
    assert policy.id == world.policies[0].id
    assert len(world.policies) == 1
    assert [e["id"].rsplit("/", 1)[-1] for e in world.policies[0].virtual_machines] == ["web-01", "api-01", "new-01"]
    assert entry_json(world, "web-01") == web_before


async def test_name_limit_is_checked_before_writing(gateway: AzureGateway, arm: ArmEmulator, world: Inventory) -> None:
    long_name = "v" * 50
    world.vms.append(VirtualMachine(SUB_A, "rg-app", long_name, LOCATION, nic_nsg="nsg-app"))
    vm = await gateway.find_vm(long_name)
    with pytest.raises(PolicyNameTooLong) as caught:
        await gateway.configure(vm.ref, RECOMMENDED)
    assert "57" in caught.value.user_message
    assert arm.writes() == []
    world.vms.append(VirtualMachine(SUB_A, "rg-app", "w" * 49, LOCATION, nic_nsg="nsg-app"))
    gateway.invalidate()
    fits = await gateway.find_vm("w" * 49)
    assert (await gateway.configure(fits.ref, [PolicyPort(22)])).name == "default"


@pytest.mark.parametrize(
    ("spec", "reason"),
    [
        ("bare-01", UnsupportedReason.NO_NSG),
        ("old-01", UnsupportedReason.CLASSIC_VM),
        ("svc-01", UnsupportedReason.DEFENDER_OFF),
    ],
)
async def test_unsupported_vms_are_refused_with_reasons(
    gateway: AzureGateway, arm: ArmEmulator, spec: str, reason: UnsupportedReason
) -> None:
    vm = await gateway.find_vm(spec)
    with pytest.raises(VmUnsupported) as caught:
        await gateway.configure(vm.ref, RECOMMENDED)
    assert caught.value.reasons == (reason,)
    assert vm.ref.short in caught.value.user_message
    assert arm.writes() == []


@pytest.mark.parametrize(
    "ports",
    [
        [],
        [PolicyPort(22), PolicyPort(22)],
        [PolicyPort(0)],
        [PolicyPort(22, max_duration=timedelta(minutes=4))],
        [PolicyPort(22, max_duration=timedelta(hours=25))],
        [PolicyPort(22, allowed_sources=())],
    ],
)
async def test_invalid_port_rules_make_no_call(
    gateway: AzureGateway, arm: ArmEmulator, ports: list[PolicyPort]
) -> None:
    vm = await gateway.find_vm("db-01")
    arm.reset_calls()
    with pytest.raises(InvalidPolicyPorts):
        await gateway.configure(vm.ref, ports)
    assert arm.calls == []


async def test_disable_keeps_other_vms_then_deletes_the_empty_policy(
    gateway: AzureGateway, arm: ArmEmulator, world: Inventory
) -> None:
    api_before = entry_json(world, "api-01")
    web = await gateway.find_vm("rg-app/web-01")
    assert await gateway.policy_for(web.ref) is not None
    await gateway.disable(web.ref)
    assert await gateway.policy_for(web.ref) is None
    assert entry_json(world, "api-01") == api_before
    api = await gateway.find_vm("api-01")
    await gateway.disable(api.ref)
    assert world.policies == []
    assert [c.operation for c in arm.writes()] == ["jit.put", "jit.delete"]
    assert await gateway.policy_for(api.ref) is None
    arm.reset_calls()
    await gateway.disable(api.ref)
    assert arm.writes() == []


async def test_close_access_removes_only_the_matching_jit_rules(
    gateway: AzureGateway, arm: ArmEmulator, world: Inventory, clock: ManualClock
) -> None:
    vm = await gateway.find_vm("rg-app/web-01")
    policy = await gateway.policy_for(vm.ref)
    assert policy is not None
    end = clock.now() + timedelta(minutes=30)
    await gateway.initiate(policy, [22], "10.20.1.1", end, "first")
    await gateway.initiate(policy, [3389], "10.20.1.1", end, "second")
    api_policy = await gateway.policy_for((await gateway.find_vm("api-01")).ref)
    assert api_policy is not None
    await gateway.initiate(api_policy, [3389], "10.20.1.1", end, "api")
    nsg = world.nsg(SUB_A, "rg-app", "nsg-app")
    assert nsg is not None
    hand_made = {
        "name": "allow-ssh-from-office",
        "properties": {
            "protocol": "Tcp",
            "sourcePortRange": "*",
            "destinationPortRange": "22",
            "sourceAddressPrefix": "10.20.1.1",
            "destinationAddressPrefix": "10.0.0.4",
            "access": "Allow",
            "priority": 300,
            "direction": "Inbound",
        },
    }
    nsg.rules.append(hand_made)
    before = {r["name"]: json.dumps(r) for r in nsg.rules}
    arm.reset_calls()
    assert await gateway.close_access(vm.ref, [22], "10.99.9.9") == 0
    assert await gateway.close_access(vm.ref, [22], "10.20.1.1") == 1
    deleted = [c.path.rsplit("/", 1)[-1] for c in arm.writes()]
    assert len(deleted) == 1
    assert deleted[0].startswith("SecurityCenter-JITRule")
    after = {r["name"]: json.dumps(r) for r in nsg.rules}
    assert set(before) - set(after) == set(deleted)
    assert all(after[name] == before[name] for name in after)
    remaining_allow = sorted(
        (
            r["properties"]["destinationPortRange"],
            r["properties"]["destinationAddressPrefix"],
            r["name"].startswith("Sec"),
        )
        for r in nsg.rules
        if r["properties"]["access"] == "Allow"
    )
    assert remaining_allow == [("22", "10.0.0.4", False), ("3389", "10.0.0.4", True), ("3389", "10.0.0.5", True)]
