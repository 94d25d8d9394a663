"""Reading JIT history: every VM's at once (the periodic sync), one VM's from the cache, and the clients' pipelines
staying separate whatever order they are built in."""

from __future__ import annotations

from datetime import timedelta

from jit.azure.gateway import AzureGateway
from jit.clock import ManualClock
from sandbox.arm import ArmEmulator
from tests.jit.azure.conftest import SUB_A


async def test_every_jit_vms_history_costs_one_list_per_subscription(arm: ArmEmulator, gateway: AzureGateway) -> None:
    arm.reset_calls()

    histories = await gateway.all_histories()

    assert {h.vm_id.rsplit("/", 1)[-1] for h in histories} >= {"web-01", "api-01"}
    lists = [c for c in arm.reads() if c.operation.startswith("jit.list")]
    assert len(lists) == len(await gateway.subscription_ids())


async def test_cached_history_needs_no_call_when_warm(
    arm: ArmEmulator, gateway: AzureGateway, clock: ManualClock
) -> None:
    vm = await gateway.find_vm(f"{SUB_A}/rg-app/web-01")
    policy = await gateway.policy_for(vm.ref)
    assert policy is not None
    await gateway.initiate(policy, [22], "10.20.1.1", clock.now() + timedelta(minutes=30), "made by a test")
    first = await gateway.cached_history(vm.ref)
    arm.reset_calls()

    again = await gateway.cached_history(vm.ref)

    assert again == first and any(r.justification == "made by a test" for r in again)
    assert arm.reads() == []


async def test_a_pipeline_built_later_does_not_capture_an_earlier_clients_requests(
    arm: ArmEmulator, gateway: AzureGateway
) -> None:
    """The JIT list (whose pages need the SDK's response hook) keeps working after the plain pipeline exists, and
    the other way round: each pipeline has its own retry policy, so none sends requests down another's chain."""
    await gateway.all_histories()
    await gateway.find_vm(f"{SUB_A}/rg-app/web-01")
    gateway.invalidate()

    assert await gateway.all_histories()
    assert await gateway.find_vm(f"{SUB_A}/rg-app/api-01")
