"""Abuse limits: a cap on each user's pending requests and on commands per minute, each with a clear message."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import timedelta

import pytest

from jit.clock import ManualClock
from jit.model import RequestState
from sandbox.redis_server import RedisServer
from sandbox.slack_workspace import APPROVAL_CHANNEL, APPROVER_1, ENGINEER, ONCALL
from sandbox.stack import Stack, StackOptions
from tests.e2e.flow import driver_of, ephemeral_reply, request_card


@pytest.fixture
async def clock() -> ManualClock:
    return ManualClock()


@pytest.fixture
async def stack(redis_server: RedisServer, clock: ManualClock) -> AsyncIterator[Stack]:
    env = {"JITBOT_MAX_PENDING_PER_USER": "2", "JITBOT_COMMANDS_PER_MINUTE": "6"}
    async with Stack(StackOptions(redis_url=redis_server.url, clock=clock, env=env)) as running:
        yield running


async def test_pending_cap_refuses_with_a_way_out_and_frees_up_after_a_cancel(stack: Stack, clock: ManualClock) -> None:
    _, first = await request_card(stack, ENGINEER, "ssh web-01 1h one")
    await request_card(stack, ENGINEER, "ssh web-01 1h two")

    await driver_of(stack).slash_command(ENGINEER, "ssh web-01 1h three")

    refusal = await ephemeral_reply(stack, ENGINEER, "already have 2 requests waiting")
    assert "/jit cancel" in refusal
    assert len(await stack.runtime.store.by_requester(ENGINEER, [RequestState.PENDING])) == 2
    clock.advance(timedelta(minutes=1))
    await driver_of(stack).slash_command(ENGINEER, f"cancel {first}")
    await _state(stack, first, RequestState.CANCELLED)
    clock.advance(timedelta(minutes=1))
    await request_card(stack, ENGINEER, "ssh web-01 1h three")


async def test_pending_cap_holds_under_concurrent_submissions(stack: Stack) -> None:
    driver = driver_of(stack)
    await asyncio.gather(*(driver.slash_command(ONCALL, f"ssh web-01 1h burst {i}") for i in range(6)))

    await stack.slack.wait_until(
        lambda: len([m for m in stack.slack.ephemerals_for(ONCALL) if m.text]) >= 6 or None, timeout=10
    )
    assert len(await stack.runtime.store.by_requester(ONCALL)) == 2
    refusals = [m for m in stack.slack.ephemerals_for(ONCALL) if "waiting for approval" in m.text + str(m.blocks)]
    assert len(refusals) >= 4


async def test_commands_per_minute_limit_is_per_user_clear_and_audited(stack: Stack, clock: ManualClock) -> None:
    driver = driver_of(stack)
    for _ in range(6):
        await driver.slash_command(ENGINEER, "status")
    await stack.slack.wait_until(lambda: len(stack.slack.ephemerals_for(ENGINEER)) >= 6 or None)

    await driver.slash_command(ENGINEER, "status")

    refusal = await ephemeral_reply(stack, ENGINEER, "more than 6 commands in a minute")
    assert "try again in" in refusal
    await driver.slash_command(APPROVER_1, "status")
    await stack.slack.wait_until(lambda: stack.slack.ephemerals_for(APPROVER_1) or None)
    assert "more than" not in str(stack.slack.ephemerals_for(APPROVER_1)[-1].blocks)
    limited = [r async for r in stack.runtime.audit.entries() if r.event == "rate_limited"]
    assert [r.actor for r in limited] == [ENGINEER]

    clock.advance(timedelta(seconds=61))
    await request_card(stack, ENGINEER, "ssh web-01 1h after the minute")
    assert any(m.buttons() for m in stack.slack.messages_in(APPROVAL_CHANNEL))


async def _state(stack: Stack, request_id: str, state: RequestState) -> None:
    for _ in range(200):
        request = await stack.runtime.store.get(request_id)
        if request is not None and request.state is state:
            return
        await asyncio.sleep(0.02)
    raise AssertionError(f"{request_id} never became {state.value}")
