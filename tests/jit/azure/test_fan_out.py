"""Sweeps over every subscription (the sync's history read, the inventory) keep a bounded number of subscriptions in
flight, shared between sweeps running side by side, and lose no subscription's answer."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from dataclasses import replace

import pytest

from jit.azure.fan_out import FanOut
from jit.azure.gateway import AzureGateway
from jit.clock import ManualClock
from sandbox.arm import ArmEmulator
from tests.jit.azure.conftest import TEST_TUNING, make_gateway

POLICY_LIST = "jit.list_subscription"
SLOW = 0.2


@pytest.fixture
async def one_at_a_time(arm: ArmEmulator, clock: ManualClock, identity_env: None) -> AsyncIterator[AzureGateway]:
    """A gateway that sweeps one subscription at a time."""
    gw, credential = make_gateway(arm, clock, tuning=replace(TEST_TUNING, subscriptions_at_once=1))
    async with credential, gw:
        yield gw


def _slow_policy_lists(arm: ArmEmulator, count: int) -> None:
    arm.faults.add(POLICY_LIST, delay=SLOW, times=count)


async def test_a_sweep_reads_every_subscription_in_parallel_up_to_the_limit(
    arm: ArmEmulator, gateway: AzureGateway
) -> None:
    subscriptions = await gateway.subscription_ids()
    _slow_policy_lists(arm, len(subscriptions))
    arm.reset_calls()

    await gateway.all_histories()

    assert arm.peak_in_flight[POLICY_LIST] == len(subscriptions)


async def test_a_sweep_never_has_more_subscriptions_in_flight_than_the_limit(
    arm: ArmEmulator, one_at_a_time: AzureGateway
) -> None:
    subscriptions = await one_at_a_time.subscription_ids()
    _slow_policy_lists(arm, len(subscriptions))
    arm.reset_calls()

    histories = await one_at_a_time.all_histories()

    assert arm.peak_in_flight[POLICY_LIST] == 1
    assert len([c for c in arm.reads() if c.operation == POLICY_LIST]) == len(subscriptions)
    assert {h.vm_id.rsplit("/", 1)[-1] for h in histories} >= {"web-01", "api-01"}


async def test_sweeps_side_by_side_share_the_limit(arm: ArmEmulator, one_at_a_time: AzureGateway) -> None:
    """The sync's history read and an admin's inventory at the same moment: still one subscription at a time (its
    policy list and Defender plan read together), and both get every subscription's answer."""
    subscriptions = await one_at_a_time.subscription_ids()
    _slow_policy_lists(arm, 2 * len(subscriptions))
    arm.reset_calls()

    histories, inventory = await asyncio.gather(one_at_a_time.all_histories(), one_at_a_time.inventory())

    assert arm.peak_in_flight[POLICY_LIST] == 1
    assert {h.vm_id.rsplit("/", 1)[-1] for h in histories} >= {"web-01", "api-01"}
    assert {row.vm.ref.name for row in inventory} >= {"web-01", "db-01", "svc-01", "Mixed-Case"}


async def test_a_persons_lookup_does_not_wait_behind_a_sweep(arm: ArmEmulator, one_at_a_time: AzureGateway) -> None:
    subscriptions = await one_at_a_time.subscription_ids()
    _slow_policy_lists(arm, len(subscriptions))
    sweep = asyncio.create_task(one_at_a_time.all_histories())
    await asyncio.sleep(SLOW / 4)

    vm = await one_at_a_time.find_vm("db-01")

    assert vm.ref.name == "db-01" and not sweep.done()
    await sweep


async def test_fan_out_keeps_the_order_and_raises_a_failure() -> None:
    gate = FanOut(2)
    running = 0
    peak = 0

    async def read(n: int) -> int:
        nonlocal running, peak
        running += 1
        peak = max(peak, running)
        await asyncio.sleep(0.01 * (5 - n))
        running -= 1
        if n == 9:
            raise LookupError("subscription 9 refused")
        return n * n

    assert await gate.each(range(5), read) == [0, 1, 4, 9, 16]
    assert peak == 2
    with pytest.raises(LookupError, match="subscription 9"):
        await gate.each([1, 9], read)


def test_a_fan_out_needs_room_for_one_read() -> None:
    with pytest.raises(ValueError, match="at least 1"):
        FanOut(0)
