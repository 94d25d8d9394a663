"""The Resource Graph path: the same answers as the per-subscription lists, for a fixed number of ARM calls."""

from __future__ import annotations

import asyncio
import json
from dataclasses import replace

import pytest

from jit.azure.gateway import AzureGateway, build_gateway
from jit.clock import ManualClock
from jit.model import UnsupportedReason, VirtualMachine, VmJitStatus
from sandbox.arm import ArmEmulator
from sandbox.arm_inventory import Inventory, ManagementGroup, NetworkSecurityGroup, Subscription
from sandbox.arm_inventory import VirtualMachine as ArmVm

from .conftest import LOCATION, SUB_A, SUB_B, SUB_C, TEST_TUNING, make_gateway, settings_for

SPECS = [
    "db-01",
    "rg-app/web-01",
    "rg-other/web-01",
    "mixed-case",
    "bare-01",
    "old-01",
    "svc-01",
    f"{SUB_A}/rg-app/api-01",
]


def rows_of(statuses: list[VmJitStatus]) -> list[VmJitStatus]:
    return sorted(statuses, key=lambda row: row.vm.ref.id.lower())


Found = list[tuple[VirtualMachine, tuple[UnsupportedReason, ...]]]


async def through_lists(arm: ArmEmulator, clock: ManualClock) -> tuple[list[VmJitStatus], Found]:
    """Inventory and lookups as an identity without Resource Graph access gets them."""
    arm.graph_denied = True
    gateway, credential = make_gateway(arm, clock)
    try:
        async with credential, gateway:
            found: Found = []
            for spec in SPECS:
                vm = await gateway.find_vm(spec)
                found.append((vm, await gateway.unsupported_reasons(vm.ref)))
            return rows_of(await gateway.inventory()), found
    finally:
        arm.graph_denied = False


async def test_both_paths_return_the_same_inventory_and_lookups(
    gateway: AzureGateway, arm: ArmEmulator, clock: ManualClock
) -> None:
    graph_rows = rows_of(await gateway.inventory())
    graph_found: Found = []
    for spec in SPECS:
        vm = await gateway.find_vm(spec)
        graph_found.append((vm, await gateway.unsupported_reasons(vm.ref)))
    operations = {call.operation for call in arm.reads()}
    assert "resourcegraph.resources" in operations
    assert operations.isdisjoint({"compute.vm.list_all", "network.nic.list_all", "network.vnet.list_all"})
    arm.reset_calls()

    list_rows, list_found = await through_lists(arm, clock)

    assert "compute.vm.list_all" in {call.operation for call in arm.reads()}
    assert len(graph_rows) == 8
    assert graph_rows == list_rows
    assert graph_found == list_found


async def test_an_inventory_of_many_pages_is_the_same_as_the_lists(
    gateway: AzureGateway, arm: ArmEmulator, clock: ManualClock, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("jit.azure.resource_graph.PAGE", 2)
    graph_rows = rows_of(await gateway.inventory())
    assert [call.operation for call in arm.reads()].count("resourcegraph.resources") >= 6, "several pages each"
    arm.reset_calls()

    list_rows, _ = await through_lists(arm, clock)

    assert len(graph_rows) == 8
    assert graph_rows == list_rows


def add_subscriptions(world: Inventory, count: int) -> None:
    for number in range(count):
        sub = f"99999999-0000-4000-8000-{number:012d}"
        world.subscriptions.append(Subscription(sub, f"extra {number}"))
        world.nsgs.append(NetworkSecurityGroup(sub, "rg-x", "nsg-x", LOCATION))
        world.vms.append(ArmVm(sub, "rg-x", f"x-{number}", LOCATION, nic_nsg="nsg-x"))


async def test_a_cold_lookup_costs_the_same_whatever_the_number_of_subscriptions(
    arm: ArmEmulator, clock: ManualClock, world: Inventory, identity_env: None
) -> None:
    add_subscriptions(world, 40)
    settings = replace(settings_for(arm), azure_subscription_ids=tuple(s.id for s in world.subscriptions))
    async with build_gateway(settings, clock, connection_verify=str(arm.ca_file), tuning=TEST_TUNING) as gateway:
        vm = await gateway.find_vm("db-01")
        assert await gateway.policy_for(vm.ref) is None
        assert sorted(call.operation for call in arm.reads()) == [
            "jit.list_subscription",
            "resourcegraph.resources",
            "resourcegraph.resources",
        ]
        queries = [
            json.loads(json.dumps(call.body)) for call in arm.calls if call.operation == "resourcegraph.resources"
        ]
        assert all(len(query["subscriptions"]) == 43 for query in queries)
        arm.reset_calls()
        found = await asyncio.gather(*(gateway.find_vm("x-7") for _ in range(20)))
        assert {vm.ref.subscription_id for vm in found} == {"99999999-0000-4000-8000-000000000007"}
        assert len(arm.reads()) == 2, "concurrent lookups of one name share one round of queries"
        arm.reset_calls()
        await gateway.find_vm("x-7")
        assert arm.reads() == [], "warm"


async def test_a_management_group_is_the_query_scope_without_listing_it(
    arm: ArmEmulator, clock: ManualClock, world: Inventory, identity_env: None
) -> None:
    world.management_groups = [
        ManagementGroup("mg-root", "root", None, [SUB_A]),
        ManagementGroup("mg-child", "child", "mg-root", [SUB_B]),
    ]
    settings = replace(settings_for(arm), azure_subscription_ids=(), azure_management_group="mg-root")
    async with build_gateway(settings, clock, connection_verify=str(arm.ca_file), tuning=TEST_TUNING) as gateway:
        assert (await gateway.find_vm("mixed-case")).ref.subscription_id == SUB_B
        with pytest.raises(Exception, match="No VM called"):
            await gateway.find_vm("svc-01")
        rows = await gateway.inventory()
    assert {row.vm.ref.subscription_id for row in rows} == {SUB_A, SUB_B}
    assert SUB_C not in {row.vm.ref.subscription_id for row in rows}
    queries = [call.body for call in arm.calls if call.operation == "resourcegraph.resources"]
    assert queries and all(query["managementGroups"] == ["mg-root"] for query in queries)
    assert "management.descendants" not in {call.operation for call in arm.calls}


async def test_a_throttled_query_waits_for_the_quota_window(
    gateway: AzureGateway, arm: ArmEmulator, clock: ManualClock
) -> None:
    arm.graph_quota.limit = 2
    arm.graph_quota.window = 1.0
    loop = asyncio.get_running_loop()
    started = loop.time()
    await gateway.find_vm("db-01")
    await gateway.find_vm("mixed-case")
    assert loop.time() - started >= 0.5, "the third query had to wait for the next window"
    statuses = [call.status for call in arm.calls if call.operation == "resourcegraph.resources"]
    assert statuses.count(429) >= 1
    assert statuses.count(200) == 4
    throttled = next(call for call in arm.calls if call.status == 429)
    assert throttled.operation == "resourcegraph.resources"


async def test_concurrent_lookups_of_different_names_share_a_round_of_queries(
    arm: ArmEmulator, clock: ManualClock, world: Inventory, identity_env: None
) -> None:
    add_subscriptions(world, 30)
    settings = replace(settings_for(arm), azure_subscription_ids=tuple(s.id for s in world.subscriptions))
    async with build_gateway(settings, clock, connection_verify=str(arm.ca_file), tuning=TEST_TUNING) as gateway:
        found = await asyncio.gather(*(gateway.find_vm(f"x-{number}") for number in range(30)))
        missing = await asyncio.gather(
            gateway.find_vm("rg-app/web-01"), gateway.find_vm("nobody"), return_exceptions=True
        )
    assert [vm.ref.name for vm in found] == [f"x-{number}" for number in range(30)]
    assert [vm.ref.subscription_id for vm in found] == [f"99999999-0000-4000-8000-{n:012d}" for n in range(30)]
    assert not isinstance(missing[0], BaseException) and missing[0].ref.resource_group == "rg-app"
    assert isinstance(missing[1], Exception) and "No VM called" in str(missing[1])
    queries = [call for call in arm.calls if call.operation == "resourcegraph.resources"]
    assert len(queries) <= 4 + 4, "two rounds for the 30 names, two for the last two: never a round per name"
    assert all(call.status == 200 for call in queries), "within Resource Graph's quota"
