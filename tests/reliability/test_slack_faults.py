"""Slack faults: 429 + Retry-After on chat.postMessage and chat.update, errors that outlast the client's retries,
and Slack unreachable for a while. Every card, card update and DM still arrives, once.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest

from jit.model import RequestState
from sandbox.redis_server import RedisServer
from sandbox.slack_state import Message
from sandbox.slack_workspace import APPROVAL_CHANNEL, APPROVER_1, APPROVER_2, ENGINEER
from sandbox.stack import Stack, StackOptions
from tests.e2e.flow import dm_to, dms_containing, driver_of, request_card, wait_card_decided


@pytest.fixture
async def stack(redis_server: RedisServer) -> AsyncIterator[Stack]:
    """Approvers named directly, so approving needs no group lookup in Slack while it is away."""
    options = StackOptions(redis_url=redis_server.url, env={"JITBOT_APPROVERS": f"{APPROVER_1},{APPROVER_2}"})
    async with Stack(options) as running:
        yield running


def _statuses(stack: Stack, method: str) -> list[int]:
    return [call.status for call in stack.slack.calls_to(method)]


async def _decided(stack: Stack, card: Message, seconds: float) -> Message:
    return await stack.slack.wait_until(
        lambda: None if (m := stack.slack.message(card.channel, card.ts)).buttons() else m, timeout=seconds
    )


def _cards(stack: Stack, request_id: str) -> int:
    return sum(request_id in str(m.blocks) for m in stack.slack.messages_in(APPROVAL_CHANNEL))


async def test_rate_limited_card_post_is_retried_after_retry_after(stack: Stack) -> None:
    stack.slack.faults.add("chat.postMessage", status=429, retry_after=1, times=2)

    _, request_id = await request_card(stack, ENGINEER, "ssh web-01 1h throttled card")

    assert _statuses(stack, "chat.postMessage")[:3] == [429, 429, 200]
    calls = stack.slack.calls_to("chat.postMessage")
    assert (calls[1].at - calls[0].at) >= 0.9
    assert _cards(stack, request_id) == 1


async def test_rate_limited_card_update_and_dm_are_retried(stack: Stack) -> None:
    card, request_id = await request_card(stack, ENGINEER, "ssh web-01 1h throttled update")
    stack.slack.faults.add("chat.update", status=429, retry_after=1)
    stack.slack.faults.add("chat.postMessage", status=429, retry_after=1)

    await driver_of(stack).click(APPROVER_1, card, "jit_approve", request_id)

    decided = await wait_card_decided(stack, card)
    assert "access open" in str(decided.blocks).lower()
    await dm_to(stack, ENGINEER, "10.0.1.4")
    assert 429 in _statuses(stack, "chat.update") and 429 in _statuses(stack, "chat.postMessage")
    assert dms_containing(stack, ENGINEER, "10.0.1.4") == 1


@pytest.mark.slow
async def test_throttling_longer_than_client_retries_is_retried_by_the_scheduler(stack: Stack) -> None:
    card, request_id = await request_card(stack, ENGINEER, "ssh web-01 1h long throttle")
    stack.slack.faults.add("chat.update", status=429, retry_after=1, times=5)

    await driver_of(stack).click(APPROVER_1, card, "jit_approve", request_id)

    decided = await _decided(stack, card, 30)
    assert "access open" in str(decided.blocks).lower()
    assert _statuses(stack, "chat.update").count(429) == 5
    assert stack.runtime.scheduler.stats.failed >= 1
    await dm_to(stack, ENGINEER, "10.0.1.4")


@pytest.mark.slow
@pytest.mark.timeout(90)
async def test_slack_unreachable_then_back_delivers_every_notification(stack: Stack) -> None:
    card, request_id = await request_card(stack, ENGINEER, "ssh web-01 1h slack goes away")
    await stack.slack.set_offline(True)

    click = await driver_of(stack).click(APPROVER_1, card, "jit_approve", request_id)
    assert click.acked_in_time

    async def active() -> None:
        while True:
            request = await stack.runtime.store.get(request_id)
            if request is not None and request.state is RequestState.ACTIVE:
                return
            await asyncio.sleep(0.05)

    await asyncio.wait_for(active(), 10)
    await asyncio.sleep(6)
    assert stack.runtime.scheduler.stats.failed >= 1
    await stack.slack.set_offline(False)

    decided = await _decided(stack, card, 45)
    assert "access open" in str(decided.blocks).lower()
    await dm_to(stack, ENGINEER, "10.0.1.4", timeout=45)
    assert dms_containing(stack, ENGINEER, "10.0.1.4") == 1
    assert _cards(stack, request_id) == 1


@pytest.mark.slow
async def test_approval_fails_closed_when_slack_cannot_confirm_group_membership(redis_server: RedisServer) -> None:
    """Approvers given as a user group: while Slack is away nobody can be confirmed, so nothing is granted."""
    async with Stack(StackOptions(redis_url=redis_server.url)) as stack:
        card, request_id = await request_card(stack, ENGINEER, "ssh web-01 1h who approves")
        await stack.slack.set_offline(True)

        await driver_of(stack).click(APPROVER_1, card, "jit_approve", request_id)
        if stack.runtime.in_flight:
            await asyncio.wait(list(stack.runtime.in_flight), timeout=20)

        request = await stack.runtime.store.get(request_id)
        assert request is not None and request.state is RequestState.PENDING
        assert stack.arm.writes() == []
        await stack.slack.set_offline(False)
        await driver_of(stack).click(APPROVER_1, card, "jit_approve", request_id)
        decided = await _decided(stack, card, 15)
        assert "access open" in str(decided.blocks).lower()
