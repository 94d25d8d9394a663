"""Acks first, through the real HTTP stack: work behind an ack waits while other Slack requests are answered."""

from __future__ import annotations

import asyncio

import aiohttp

from sandbox.slack_workspace import APPROVAL_CHANNEL, ENGINEER
from sandbox.stack import Stack
from tests.e2e.flow import driver_of, ephemeral_reply


async def _metrics(stack: Stack) -> str:
    url = f"http://127.0.0.1:{stack.ops_port}/metrics"
    async with aiohttp.ClientSession() as session, session.get(url) as response:
        return await response.text()


async def test_a_command_is_acked_at_once_and_worked_on_once_other_answers_are_out(stack: Stack) -> None:
    work = stack.runtime.background_work
    work.max_defer = 30.0
    cards_before = len(stack.slack.messages_in(APPROVAL_CHANNEL))
    with work.answering():  # stands for another Slack request still being answered
        response = await driver_of(stack).slash_command(ENGINEER, "ssh web-01 2h deferred behind an ack")
        assert response.status == 200
        await asyncio.sleep(0.3)
        assert work.waiting == 1
        assert not stack.slack.ephemerals_for(ENGINEER)
        assert len(stack.slack.messages_in(APPROVAL_CHANNEL)) == cards_before
        assert await stack.runtime.store.count_pending(ENGINEER) == 0
        assert "jitbot_background_waiting 1.0" in await _metrics(stack)
    await ephemeral_reply(stack, ENGINEER, "web-01")
    await stack.slack.wait_until(lambda: len(stack.slack.messages_in(APPROVAL_CHANNEL)) > cards_before or None)
    text = await _metrics(stack)
    assert "jitbot_background_waiting 0.0" in text
    assert "jitbot_background_deferred_total 1.0" in text


async def test_deferred_work_still_starts_within_max_defer_when_answers_never_stop(stack: Stack) -> None:
    stack.runtime.background_work.max_defer = 0.3
    cards_before = len(stack.slack.messages_in(APPROVAL_CHANNEL))
    with stack.runtime.background_work.answering():
        response = await driver_of(stack).slash_command(ENGINEER, "ssh web-01 2h under endless load")
        assert response.status == 200
        await ephemeral_reply(stack, ENGINEER, "web-01")
        await stack.slack.wait_until(lambda: len(stack.slack.messages_in(APPROVAL_CHANNEL)) > cards_before or None)
