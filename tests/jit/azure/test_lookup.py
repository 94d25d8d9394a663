"""Finding VMs and their JIT policy through the real SDK against the ARM emulator.

Tests that take ``list_path`` run where the identity has no Resource Graph access, so the gateway lists each
subscription (``test_resource_graph.py`` covers the Resource Graph path).
"""

from __future__ import annotations

import asyncio
from datetime import timedelta

import pytest

from jit.azure.gateway import AzureGateway
from jit.clock import ManualClock
from jit.model import PolicyPort, PortProtocol
from jit.ports.azure_errors import AzureAuthFailed, AzureForbidden, InvalidVmName, VmAmbiguous, VmNotFound
from sandbox.arm import ArmEmulator
from sandbox.arm_inventory import Inventory, VirtualMachine

from .conftest import LOCATION, SUB_A, SUB_B, make_gateway


async def test_find_by_unique_name_fills_addresses(gateway: AzureGateway) -> None:
    vm = await gateway.find_vm("db-01")
    assert vm.ref.subscription_id == SUB_A
    assert vm.ref.resource_group == "rg-data"
    assert vm.ref.location == LOCATION
    assert vm.ref.id.endswith("/Microsoft.Compute/virtualMachines/db-01")
    assert vm.private_ips == ("10.1.0.4",)
    assert vm.os_type == "Linux"


async def test_find_reports_public_ip(gateway: AzureGateway) -> None:
    vm = await gateway.find_vm("rg-app/web-01")
    assert vm.public_ips == ("20.1.2.3",)
    assert vm.private_ips == ("10.0.0.4",)


async def test_find_is_case_insensitive_and_keeps_azure_casing(gateway: AzureGateway) -> None:
    vm = await gateway.find_vm("mixed-CASE")
    assert vm.ref.name == "Mixed-Case"
    assert (await gateway.find_vm("RG-DATA/DB-01")).ref.name == "db-01"


async def test_find_by_resource_group_and_subscription(gateway: AzureGateway) -> None:
    assert (await gateway.find_vm("rg-other/web-01")).ref.subscription_id == SUB_B
    assert (await gateway.find_vm(f"{SUB_A}/rg-app/web-01")).ref.subscription_id == SUB_A
    assert (await gateway.find_vm(f"{SUB_B.upper()}/RG-OTHER/web-01")).ref.subscription_id == SUB_B


async def test_ambiguous_name_lists_every_candidate(gateway: AzureGateway) -> None:
    with pytest.raises(VmAmbiguous) as caught:
        await gateway.find_vm("WEB-01")
    assert {(c.subscription_id, c.resource_group) for c in caught.value.candidates} == {
        (SUB_A, "rg-app"),
        (SUB_B, "rg-other"),
    }
    assert "rg-app" in caught.value.user_message
    assert "rg-other" in caught.value.user_message


async def test_unknown_vm_and_wrong_group_are_not_found(gateway: AzureGateway) -> None:
    with pytest.raises(VmNotFound):
        await gateway.find_vm("nope-01")
    with pytest.raises(VmNotFound):
        await gateway.find_vm("rg-data/web-01")


async def test_unknown_subscription_is_refused_without_calls(gateway: AzureGateway, arm: ArmEmulator) -> None:
    with pytest.raises(VmNotFound) as caught:
        await gateway.find_vm("44444444-4444-4444-8444-444444444444/rg/web-01")
    assert SUB_A in caught.value.user_message
    assert arm.calls == []


@pytest.mark.parametrize("spec", ["web 01", "web-01;ls", "a/b/c/d", "-x", "x" * 70, "rg./vm", ""])
async def test_invalid_names_make_no_azure_call(gateway: AzureGateway, arm: ArmEmulator, spec: str) -> None:
    with pytest.raises(InvalidVmName):
        await gateway.find_vm(spec)
    assert arm.calls == []


async def test_policy_for_reads_ports_sources_and_durations(gateway: AzureGateway) -> None:
    vm = await gateway.find_vm("rg-app/web-01")
    policy = await gateway.policy_for(vm.ref)
    assert policy is not None
    assert (policy.subscription_id, policy.resource_group, policy.location, policy.name) == (
        SUB_A,
        "rg-app",
        LOCATION,
        "default",
    )
    assert policy.vm_id.lower() == vm.ref.id.lower()
    assert policy.ports == (
        PolicyPort(22, PortProtocol.ANY, ("*",), timedelta(hours=3)),
        PolicyPort(3389, PortProtocol.TCP, ("10.20.0.0/16", "192.168.1.10"), timedelta(hours=1)),
    )


async def test_policy_for_unconfigured_vm_is_none(gateway: AzureGateway) -> None:
    vm = await gateway.find_vm("db-01")
    assert await gateway.policy_for(vm.ref) is None


async def test_warm_lookup_makes_no_arm_read(gateway: AzureGateway, arm: ArmEmulator) -> None:
    vm = await gateway.find_vm("rg-app/web-01")
    await gateway.policy_for(vm.ref)
    arm.reset_calls()
    vm = await gateway.find_vm("rg-app/web-01")
    assert await gateway.policy_for(vm.ref) is not None
    assert len(arm.reads()) <= 1
    assert arm.reads() == []


async def test_cold_lookup_costs_a_fixed_number_of_list_calls(
    gateway: AzureGateway, arm: ArmEmulator, list_path: None
) -> None:
    vm = await gateway.find_vm("db-01")
    await gateway.policy_for(vm.ref)
    operations = sorted(call.operation for call in arm.reads())
    per_subscription = ["classic.vm.list", "compute.vm.list_all", "network.nic.list_all", "network.public_ip.list_all"]
    refused = ["resourcegraph.resources"]
    assert operations == sorted(per_subscription * 3 + ["jit.list_subscription"] + refused)
    assert [call.status for call in arm.calls if call.operation == "resourcegraph.resources"] == [403]


async def test_burst_of_cold_lookups_shares_one_fetch(gateway: AzureGateway, arm: ArmEmulator, list_path: None) -> None:
    found = await asyncio.gather(*(gateway.find_vm("db-01") for _ in range(25)))
    assert {vm.ref.id for vm in found} == {found[0].ref.id}
    assert len([c for c in arm.reads() if c.operation == "compute.vm.list_all"]) == 3


async def test_cache_expires_after_ttl(
    gateway: AzureGateway, arm: ArmEmulator, clock: ManualClock, list_path: None
) -> None:
    await gateway.find_vm("db-01")
    arm.reset_calls()
    clock.advance(timedelta(seconds=30))
    await gateway.find_vm("db-01")
    assert arm.reads() == []
    clock.advance(timedelta(seconds=31))
    await gateway.find_vm("db-01")
    assert len([c for c in arm.reads() if c.operation == "compute.vm.list_all"]) == 3


async def test_paging_follows_next_link(
    gateway: AzureGateway, arm: ArmEmulator, world: Inventory, list_path: None
) -> None:
    for number in range(7):
        world.vms.append(
            VirtualMachine(SUB_A, "rg-bulk", f"bulk-{number}", LOCATION, nic_nsg=None, private_ip=f"10.5.0.{number}")
        )
    arm.page_size = 2
    for number in range(7):
        assert (await gateway.find_vm(f"bulk-{number}")).private_ips == (f"10.5.0.{number}",)
    pages = [
        c for c in arm.reads() if c.operation == "compute.vm.list_all" and c.path.startswith(f"/subscriptions/{SUB_A}")
    ]
    assert len(pages) == 6  # 11 ARM VMs in SUB_A, two per page
    vm = await gateway.find_vm("rg-app/web-01")
    assert await gateway.policy_for(vm.ref) is not None


async def test_forbidden_read_is_typed(gateway: AzureGateway, arm: ArmEmulator, list_path: None) -> None:
    arm.faults.add("compute.vm.list_all", status=403)
    with pytest.raises(AzureForbidden) as caught:
        await gateway.find_vm("db-01")
    assert "403" in caught.value.user_message


async def test_throttled_read_is_retried_after_retry_after(
    gateway: AzureGateway, arm: ArmEmulator, list_path: None
) -> None:
    arm.faults.add("network.nic.list_all", status=429, retry_after=1)
    loop = asyncio.get_running_loop()
    started = loop.time()
    vm = await gateway.find_vm("db-01")
    assert loop.time() - started >= 1.0
    assert vm.private_ips == ("10.1.0.4",)
    statuses = [c.status for c in arm.calls if c.operation == "network.nic.list_all"]
    assert statuses.count(429) == 1
    assert statuses.count(200) == 3


async def test_miss_relists_a_cache_older_than_the_floor(
    gateway: AzureGateway, arm: ArmEmulator, world: Inventory, clock: ManualClock, list_path: None
) -> None:
    await gateway.find_vm("db-01")
    world.vms.append(VirtualMachine(SUB_B, "rg-other", "fresh-01", "northeurope", nic_nsg="nsg-other"))
    arm.reset_calls()
    with pytest.raises(VmNotFound):
        await gateway.find_vm("fresh-01")
    assert arm.reads() == []
    clock.advance(timedelta(seconds=11))
    assert (await gateway.find_vm("fresh-01")).ref.subscription_id == SUB_B
    assert len([c for c in arm.reads() if c.operation == "compute.vm.list_all"]) == 3


async def test_rejected_token_is_an_auth_failure(gateway: AzureGateway, arm: ArmEmulator, clock: ManualClock) -> None:
    await gateway.find_vm("db-01")
    arm.tokens.revoke_all()
    clock.advance(timedelta(minutes=5))
    with pytest.raises(AzureAuthFailed):
        await gateway.find_vm("db-01")


async def test_identity_endpoint_refusal_is_an_auth_failure(
    arm: ArmEmulator, clock: ManualClock, identity_env: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("IDENTITY_HEADER", "wrong-secret")
    gateway, credential = make_gateway(arm, clock)
    async with credential, gateway:
        with pytest.raises(AzureAuthFailed):
            await gateway.find_vm("db-01")
    assert arm.reads() == []
