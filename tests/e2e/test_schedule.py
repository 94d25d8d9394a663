"""Time-driven parts of the spine with an injected clock: pending timeout, reminder, expiry, restarts."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import timedelta

import pytest

from jit.clock import ManualClock
from jit.model import RequestState
from sandbox.redis_server import RedisServer
from sandbox.slack_workspace import APPROVER_1, ENGINEER, ONCALL_CHANNEL
from sandbox.stack import Stack, StackOptions
from tests.e2e.flow import dm_to, dms_containing, driver_of, request_card, wait_card_decided


@pytest.fixture
async def clock() -> ManualClock:
    return ManualClock()


@pytest.fixture
async def timed_stack(redis_server: RedisServer, clock: ManualClock) -> AsyncIterator[Stack]:
    options = StackOptions(
        redis_url=redis_server.url,
        clock=clock,
        env={"JITBOT_REMIND_BEFORE": "15m", "JITBOT_REQUEST_TTL": "30m"},
        expire_interval=0.1,
    )
    async with Stack(options) as running:
        yield running


async def _advance(stack: Stack, clock: ManualClock, by: timedelta) -> None:
    clock.advance(by)
    stack.runtime.scheduler.wake()


async def _approved(stack: Stack) -> str:
    card, request_id = await request_card(stack, ENGINEER, "ssh web-01 1h deploy")
    await driver_of(stack).click(APPROVER_1, card, "jit_approve", request_id)
    await wait_card_decided(stack, card)
    await dm_to(stack, ENGINEER, "10.0.1.4")
    return request_id


def _oncall_posts(stack: Stack, contains: str) -> int:
    """On-call posts that said ``contains`` when posted (a later update is not another post)."""
    return sum(contains in m.versions[0].text for m in stack.slack.messages_in(ONCALL_CHANNEL))


async def test_pending_request_times_out(timed_stack: Stack, clock: ManualClock) -> None:
    card, request_id = await request_card(timed_stack, ENGINEER, "ssh web-01 1h")

    await _advance(timed_stack, clock, timedelta(minutes=31))

    decided = await wait_card_decided(timed_stack, card)
    assert "timed out" in str(decided.blocks).lower()
    await dm_to(timed_stack, ENGINEER, "timed out")
    request = await timed_stack.runtime.store.get(request_id)
    assert request is not None and request.state is RequestState.TIMED_OUT
    assert timed_stack.arm.writes() == []


async def test_not_timed_out_before_ttl(timed_stack: Stack, clock: ManualClock) -> None:
    _, request_id = await request_card(timed_stack, ENGINEER, "ssh web-01 1h")

    await _advance(timed_stack, clock, timedelta(minutes=29))
    await timed_stack.runtime.scheduler.tick()

    request = await timed_stack.runtime.store.get(request_id)
    assert request is not None and request.state is RequestState.PENDING


def _jit_allow_rules(stack: Stack) -> list[str]:
    nsg = stack.arm.inventory.nsg(stack.arm.inventory.vm("web-01").subscription_id, "rg-web", "web-nsg")
    assert nsg is not None
    return [str(r) for r in nsg.rules if "203.0.113.10" in str(r) and "Allow" in str(r) and "JIT" in str(r)]


async def test_reminder_then_expiry_each_once(timed_stack: Stack, clock: ManualClock) -> None:
    request_id = await _approved(timed_stack)
    assert _jit_allow_rules(timed_stack), "approval opens an allow rule in the VM's NSG"

    await _advance(timed_stack, clock, timedelta(minutes=44))
    await timed_stack.runtime.scheduler.tick()
    assert dms_containing(timed_stack, ENGINEER, "closes in") == 0

    await _advance(timed_stack, clock, timedelta(minutes=2))
    await dm_to(timed_stack, ENGINEER, "closes in")
    await timed_stack.slack.wait_until(lambda: _oncall_posts(timed_stack, "closes in") == 1)

    await _advance(timed_stack, clock, timedelta(minutes=15))
    await dm_to(timed_stack, ENGINEER, "has ended")
    await timed_stack.slack.wait_until(lambda: _oncall_posts(timed_stack, "has ended") == 1)
    request = await timed_stack.runtime.store.get(request_id)
    assert request is not None and request.state is RequestState.EXPIRED
    await timed_stack.runtime.scheduler.tick()
    assert dms_containing(timed_stack, ENGINEER, "closes in") == 1
    assert dms_containing(timed_stack, ENGINEER, "has ended") == 1
    for _ in range(100):
        if not _jit_allow_rules(timed_stack):
            break
        await asyncio.sleep(0.05)
    else:
        pytest.fail(f"the JIT allow rule is still in the NSG: {_jit_allow_rules(timed_stack)}")


async def test_restart_between_approval_and_reminder_still_reminds_once(timed_stack: Stack, clock: ManualClock) -> None:
    await _approved(timed_stack)

    await timed_stack.restart_bot()
    await _advance(timed_stack, clock, timedelta(minutes=46))

    await dm_to(timed_stack, ENGINEER, "closes in")
    await timed_stack.runtime.scheduler.tick()
    await timed_stack.restart_bot()
    await timed_stack.runtime.scheduler.tick()
    assert dms_containing(timed_stack, ENGINEER, "closes in") == 1
