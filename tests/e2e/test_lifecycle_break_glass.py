"""Break-glass: members of the group are let in at once, loudly, flagged in the audit trail, and someone must
review it in time or it escalates again."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import timedelta
from pathlib import Path

import pytest

from jit.clock import ManualClock
from jit.model import RequestState
from sandbox.redis_server import RedisServer
from sandbox.slack_state import Message
from sandbox.slack_workspace import APPROVAL_CHANNEL, APPROVER_1, ENGINEER, ONCALL, ONCALL_CHANNEL
from sandbox.stack import Stack
from tests.e2e.flow import dm_to, driver_of, ephemeral_reply
from tests.e2e.lifecycle_support import (
    advance,
    current,
    events,
    has_button,
    initiates,
    lifecycle_stack,
    posts,
    wait_post,
    wait_request,
)

RULES = """
rules:
  - name: data
    match: {resource_group: rg-data}
    ticket_pattern: 'INC-\\d+'
    break_glass: {group: [U0ONCALL01], review_within: 30m}
"""


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock()


@pytest.fixture
async def stack(redis_server: RedisServer, clock: ManualClock, tmp_path: Path) -> AsyncIterator[Stack]:
    env = {"JITBOT_BREAK_GLASS_GROUP": ONCALL}
    async with lifecycle_stack(redis_server, clock, tmp_path, rules=RULES, env=env) as running:
        yield running


async def _glass(stack: Stack, text: str = "ssh web-01 1h prod is down --break-glass") -> str:
    await driver_of(stack).slash_command(ONCALL, text)
    await dm_to(stack, ONCALL, "is open")
    request = (await stack.runtime.store.by_requester(ONCALL))[-1]
    await wait_request(stack, request.id, lambda r: bool(r.extra.get("glass_posts")))
    return request.id


async def test_a_member_is_granted_at_once_and_everyone_hears(stack: Stack) -> None:
    request_id = await _glass(stack)

    request = await current(stack, request_id)
    assert request.state is RequestState.ACTIVE and request.extra["break_glass"] == "true"
    assert initiates(stack) == 1
    card = await wait_post(stack, APPROVAL_CHANNEL, lambda m: "Break-glass access: web-01" in str(m.blocks))
    assert not has_button("jit_approve")(card)
    for channel in (APPROVAL_CHANNEL, ONCALL_CHANNEL):
        announcement = await wait_post(stack, channel, has_button("jit_ack_review", request_id))
        assert "prod is down" in str(announcement.blocks) and ONCALL in str(announcement.blocks)
    approved = next(r for r in await stack.runtime.audit.for_request(request_id) if r.event == "approved")
    assert approved.actor == ONCALL and approved.detail["break_glass"] == "true"
    body = next(c for c in stack.arm.calls if c.operation == "jit.initiate").body
    assert "approved by break-glass" in body["justification"]


async def test_outsiders_are_refused_and_audited(stack: Stack) -> None:
    await driver_of(stack).slash_command(ENGINEER, "ssh web-01 1h let me in --break-glass")

    await ephemeral_reply(stack, ENGINEER, "not in the break-glass group")
    assert initiates(stack) == 0
    assert await stack.runtime.store.by_requester(ENGINEER) == []
    refused = [r async for r in stack.runtime.audit.entries() if r.event == "break_glass_refused"]
    assert refused and refused[0].actor == ENGINEER


async def test_a_rule_names_its_own_group_and_skips_the_ticket(stack: Stack) -> None:
    request_id = await _glass(stack, "ssh db-01 1h database on fire --break-glass")

    request = await current(stack, request_id)
    assert request.extra["route"] == "data" and request.state is RequestState.ACTIVE


async def test_an_unreviewed_grant_escalates_again_until_someone_reviews(stack: Stack, clock: ManualClock) -> None:
    request_id = await _glass(stack)

    await advance(stack, clock, timedelta(hours=1))
    await wait_request(stack, request_id, lambda r: r.extra.get("review_rounds") == "1")
    assert len(posts(stack, ONCALL_CHANNEL, "not reviewed")) == 1
    assert len(posts(stack, APPROVAL_CHANNEL, "not reviewed")) == 1
    await advance(stack, clock, timedelta(hours=1))
    await wait_request(stack, request_id, lambda r: r.extra.get("review_rounds") == "2")
    reminder = await wait_post(stack, ONCALL_CHANNEL, lambda m: "reminder 2" in str(m.blocks))

    await driver_of(stack).click(ONCALL, reminder, "jit_ack_review", request_id)
    await ephemeral_reply(stack, ONCALL, "not the person who used it")
    await driver_of(stack).click(APPROVER_1, reminder, "jit_ack_review", request_id)

    await ephemeral_reply(stack, APPROVER_1, "your review")
    await stack.slack.wait_until(
        lambda: (
            all("Reviewed by" in str(m.blocks) and not m.buttons() for m in _announcements(stack, request_id)) or None
        )
    )

    def reviewed_reminders() -> list[Message]:
        return [*posts(stack, ONCALL_CHANNEL, "access reviewed"), *posts(stack, APPROVAL_CHANNEL, "access reviewed")]

    await stack.slack.wait_until(lambda: len(reviewed_reminders()) == 4 or None)
    assert not any(m.buttons() for m in reviewed_reminders()), "reviewed: no reminder asks again"
    await advance(stack, clock, timedelta(hours=2))
    await stack.runtime.scheduler.tick()
    assert posts(stack, ONCALL_CHANNEL, "not reviewed") == []
    audit = await events(stack, request_id)
    assert audit.count("break_glass_reviewed") == 1 and audit.count("break_glass_review_overdue") == 2


async def test_a_prompt_review_stops_the_escalation(stack: Stack, clock: ManualClock) -> None:
    request_id = await _glass(stack)
    announcement = await wait_post(stack, APPROVAL_CHANNEL, has_button("jit_ack_review", request_id))

    await driver_of(stack).click(APPROVER_1, announcement, "jit_ack_review", request_id)
    await ephemeral_reply(stack, APPROVER_1, "your review")
    await driver_of(stack).click(APPROVER_1, announcement, "jit_ack_review", request_id)

    await advance(stack, clock, timedelta(hours=3))
    await stack.runtime.scheduler.tick()
    assert posts(stack, ONCALL_CHANNEL, "not reviewed") == []
    assert (await current(stack, request_id)).extra["reviewed_by"] == APPROVER_1
    assert (await events(stack, request_id)).count("break_glass_reviewed") == 1


def _announcements(stack: Stack, request_id: str) -> list[Message]:
    return [
        m
        for channel in (APPROVAL_CHANNEL, ONCALL_CHANNEL)
        for m in stack.slack.messages_in(channel)
        if "used *break-glass*" in str(m.blocks) and request_id in str(m.blocks)
    ]
