"""Initiating access: one ARM write when all is well, typed errors for each refusal, and never a double grant."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import timedelta

import pytest

from jit.azure.gateway import AzureGateway
from jit.clock import ManualClock
from jit.justification import Justification
from jit.model import JitPolicy
from jit.ports.azure_errors import (
    AzureConflict,
    AzureForbidden,
    AzureJitError,
    AzureNotFound,
    AzureThrottled,
    AzureTimeout,
    AzureUnavailable,
    NotSubsetOfPolicy,
)
from sandbox.arm import ArmEmulator
from sandbox.arm_inventory import Inventory

from .conftest import make_gateway

JUSTIFICATION = Justification("req-42", "U0ERIN", "U0BOB", "debug the login issue").render()


async def warm_policy(gateway: AzureGateway, arm: ArmEmulator, spec: str = "rg-app/web-01") -> JitPolicy:
    vm = await gateway.find_vm(spec)
    policy = await gateway.policy_for(vm.ref)
    assert policy is not None
    arm.reset_calls()
    return policy


def initiates(arm: ArmEmulator) -> list[int]:
    return [call.status for call in arm.calls if call.operation == "jit.initiate"]


def our_requests(world: Inventory, justification: str = JUSTIFICATION) -> int:
    return sum(1 for r in world.policies[0].requests if r.get("justification") == justification)


@pytest.fixture
async def short_timeout_gateway(
    arm: ArmEmulator, clock: ManualClock, identity_env: None
) -> AsyncIterator[AzureGateway]:
    """A gateway whose Azure calls time out after half a second."""
    gateway, credential = make_gateway(arm, clock, azure_timeout=0.5)
    async with credential, gateway:
        yield gateway


async def test_approval_is_exactly_one_write_and_no_read(
    gateway: AzureGateway, arm: ArmEmulator, world: Inventory, clock: ManualClock
) -> None:
    policy = await warm_policy(gateway, arm)
    end = clock.now() + timedelta(hours=2)
    result = await gateway.initiate(policy, [22], "203.0.113.7", end, JUSTIFICATION)
    assert [c.operation for c in arm.writes()] == ["jit.initiate"]
    assert arm.reads() == []
    assert result.start == clock.now()
    assert result.end == end
    assert [(p.number, p.source, p.end) for p in result.ports] == [(22, "203.0.113.7", end)]
    assert arm.writes()[0].body["virtualMachines"][0]["ports"][0]["allowedSourceAddressPrefix"] == "203.0.113.7"
    assert our_requests(world) == 1
    rules = world.nsg(policy.subscription_id, "rg-app", "nsg-app").rules  # type: ignore[union-attr]
    allow = [r for r in rules if r["properties"]["access"] == "Allow"]
    assert [(r["properties"]["destinationPortRange"], r["properties"]["sourceAddressPrefix"]) for r in allow] == [
        ("22", "203.0.113.7")
    ]


async def test_history_shows_the_grant_with_the_person(
    gateway: AzureGateway, arm: ArmEmulator, clock: ManualClock
) -> None:
    policy = await warm_policy(gateway, arm)
    await gateway.initiate(policy, [22, 3389], "10.20.1.1", clock.now() + timedelta(minutes=30), JUSTIFICATION)
    history = await gateway.request_history(policy)
    assert [c.operation for c in arm.reads()] == ["jit.get"]
    latest = history[-1]
    assert latest.justification == JUSTIFICATION
    assert latest.requester_person == "U0ERIN"
    assert latest.request_id == "req-42"
    assert latest.requestor == arm.identity_name
    assert sorted(p.number for p in latest.ports) == [22, 3389]


async def test_initiate_invalidates_the_cached_policy(
    gateway: AzureGateway, arm: ArmEmulator, clock: ManualClock
) -> None:
    policy = await warm_policy(gateway, arm)
    await gateway.initiate(policy, [22], "10.20.1.1", clock.now() + timedelta(minutes=30), JUSTIFICATION)
    rows = {
        row.vm.ref.name: row
        for row in await gateway.inventory()
        if row.vm.ref.subscription_id == policy.subscription_id
    }
    activity = rows["web-01"].activity
    assert activity is not None
    assert activity.last_user == "U0ERIN"
    assert activity.last_access == clock.now()


@pytest.mark.parametrize(
    ("ports", "source", "duration", "what"),
    [
        ([8080], "10.20.1.1", timedelta(minutes=30), "port"),
        ([3389], "10.20.1.1", timedelta(hours=2), "duration"),
        ([3389], "172.16.0.1", timedelta(minutes=30), "source"),
    ],
)
async def test_out_of_policy_request_is_not_subset(
    gateway: AzureGateway,
    arm: ArmEmulator,
    world: Inventory,
    clock: ManualClock,
    ports: list[int],
    source: str,
    duration: timedelta,
    what: str,
) -> None:
    policy = await warm_policy(gateway, arm)
    with pytest.raises(NotSubsetOfPolicy) as caught:
        await gateway.initiate(policy, ports, source, clock.now() + duration, JUSTIFICATION)
    assert "is not a subset of policy" in caught.value.detail, what
    assert caught.value.detail in caught.value.user_message
    assert caught.value.status == 400
    assert initiates(arm) == [400]
    assert arm.reads() == []
    assert our_requests(world) == 0


@pytest.mark.parametrize(
    ("status", "error"),
    [(403, AzureForbidden), (404, AzureNotFound), (409, AzureConflict)],
)
async def test_client_errors_are_typed_and_not_retried(
    gateway: AzureGateway, arm: ArmEmulator, clock: ManualClock, status: int, error: type[AzureJitError]
) -> None:
    policy = await warm_policy(gateway, arm)
    arm.faults.add("jit.initiate", status=status)
    with pytest.raises(error) as caught:
        await gateway.initiate(policy, [22], "10.20.1.1", clock.now() + timedelta(minutes=30), JUSTIFICATION)
    assert caught.value.status == status
    assert caught.value.user_message
    assert initiates(arm) == [status]


async def test_throttling_is_retried_after_retry_after(
    gateway: AzureGateway, arm: ArmEmulator, world: Inventory, clock: ManualClock
) -> None:
    policy = await warm_policy(gateway, arm)
    arm.faults.add("jit.initiate", status=429, retry_after=1, times=2)
    loop = asyncio.get_running_loop()
    started = loop.time()
    result = await gateway.initiate(policy, [22], "10.20.1.1", clock.now() + timedelta(minutes=30), JUSTIFICATION)
    assert loop.time() - started >= 2.0
    assert initiates(arm) == [429, 429, 202]
    assert [c.operation for c in arm.reads()] == ["jit.get", "jit.get"]
    assert result.ports[0].number == 22
    assert our_requests(world) == 1


async def test_persistent_throttling_gives_up_as_throttled(
    gateway: AzureGateway, arm: ArmEmulator, world: Inventory, clock: ManualClock
) -> None:
    policy = await warm_policy(gateway, arm)
    arm.faults.add("jit.initiate", status=429, retry_after=0.5, times=5)
    loop = asyncio.get_running_loop()
    started = loop.time()
    with pytest.raises(AzureThrottled):
        await gateway.initiate(policy, [22], "10.20.1.1", clock.now() + timedelta(minutes=30), JUSTIFICATION)
    assert loop.time() - started >= 1.0
    assert initiates(arm) == [429, 429, 429]
    assert our_requests(world) == 0


async def test_persistent_server_errors_give_up_as_unavailable(
    gateway: AzureGateway, arm: ArmEmulator, world: Inventory, clock: ManualClock
) -> None:
    policy = await warm_policy(gateway, arm)
    arm.faults.add("jit.initiate", status=500, times=5)
    with pytest.raises(AzureUnavailable) as caught:
        await gateway.initiate(policy, [22], "10.20.1.1", clock.now() + timedelta(minutes=30), JUSTIFICATION)
    assert caught.value.status == 500
    assert initiates(arm) == [500, 500, 500]
    assert our_requests(world) == 0


async def test_one_server_error_then_success(
    gateway: AzureGateway, arm: ArmEmulator, world: Inventory, clock: ManualClock
) -> None:
    policy = await warm_policy(gateway, arm)
    arm.faults.add("jit.initiate", status=503)
    await gateway.initiate(policy, [22], "10.20.1.1", clock.now() + timedelta(minutes=30), JUSTIFICATION)
    assert initiates(arm) == [503, 202]
    assert our_requests(world) == 1


async def test_timeouts_give_up_as_timeout(
    short_timeout_gateway: AzureGateway, arm: ArmEmulator, world: Inventory, clock: ManualClock
) -> None:
    policy = await warm_policy(short_timeout_gateway, arm)
    arm.faults.add("jit.initiate", status=503, delay=1.0, times=3)
    with pytest.raises(AzureTimeout):
        await short_timeout_gateway.initiate(
            policy, [22], "10.20.1.1", clock.now() + timedelta(minutes=30), JUSTIFICATION
        )
    assert len(initiates(arm)) <= 3
    assert our_requests(world) == 0


async def test_timeout_after_azure_applied_it_is_success_without_second_initiate(
    short_timeout_gateway: AzureGateway, arm: ArmEmulator, world: Inventory, clock: ManualClock
) -> None:
    policy = await warm_policy(short_timeout_gateway, arm)
    arm.faults.add("jit.initiate", delay=1.5, after_commit=True)
    end = clock.now() + timedelta(minutes=30)
    result = await short_timeout_gateway.initiate(policy, [22], "10.20.1.1", end, JUSTIFICATION)
    assert result.start == clock.now()
    assert result.end == end
    assert [c.operation for c in arm.reads()] == ["jit.get"]
    await asyncio.sleep(1.2)
    assert len(initiates(arm)) == 1
    assert our_requests(world) == 1


async def test_server_error_after_commit_is_success_without_second_initiate(
    gateway: AzureGateway, arm: ArmEmulator, world: Inventory, clock: ManualClock
) -> None:
    policy = await warm_policy(gateway, arm)
    arm.faults.add("jit.initiate", status=500, after_commit=True)
    result = await gateway.initiate(policy, [22], "10.20.1.1", clock.now() + timedelta(minutes=30), JUSTIFICATION)
    assert [p.number for p in result.ports] == [22]
    assert initiates(arm) == [500]
    assert our_requests(world) == 1


async def test_unverifiable_failure_is_not_retried(
    gateway: AzureGateway, arm: ArmEmulator, world: Inventory, clock: ManualClock
) -> None:
    policy = await warm_policy(gateway, arm)
    arm.faults.add("jit.initiate", status=500)
    arm.faults.add("jit.get", status=403)
    with pytest.raises(AzureUnavailable):
        await gateway.initiate(policy, [22], "10.20.1.1", clock.now() + timedelta(minutes=30), JUSTIFICATION)
    assert initiates(arm) == [500]
