"""While a request waits: reminders to approvers with backoff in the card's thread, then escalation to a second
group and channel — all from the durable schedule, so each happens once, across restarts."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import timedelta
from pathlib import Path

import pytest

from jit.clock import ManualClock
from jit.model import RequestState
from sandbox.redis_server import RedisServer
from sandbox.slack_state import Message
from sandbox.slack_workspace import ADMIN, APPROVAL_CHANNEL, APPROVER_GROUP, ENGINEER, ONCALL_CHANNEL
from sandbox.stack import Stack
from tests.e2e.flow import card_now, dm_to, driver_of, ephemeral_reply, wait_card_decided
from tests.e2e.lifecycle_support import (
    advance,
    current,
    events,
    has_button,
    lifecycle_stack,
    posted_card,
    wait_post,
    wait_request,
)

RULES = """
default:
  remind_approvers: [5m, 10m, 20m]
rules:
  - name: web
    match: {resource_group: rg-web}
    escalation:
      after: 15m
      to: [U0ADMIN001]
      channel: C0ONCALL01
"""


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock()


@pytest.fixture
async def stack(redis_server: RedisServer, clock: ManualClock, tmp_path: Path) -> AsyncIterator[Stack]:
    async with lifecycle_stack(redis_server, clock, tmp_path, rules=RULES) as running:
        yield running


def _nudges(stack: Stack, card: Message) -> list[Message]:
    return [
        m for m in stack.slack.messages_in(APPROVAL_CHANNEL) if m.thread_ts == card.ts and "has waited" in str(m.blocks)
    ]


async def _nudged(stack: Stack, card: Message, count: int, request_id: str) -> None:
    await stack.slack.wait_until(lambda: len(_nudges(stack, card)) == count or None)
    await wait_request(stack, request_id, lambda r: r.extra.get("nudges") == str(count))
    await stack.runtime.scheduler.tick()
    assert len(_nudges(stack, card)) == count


async def test_approvers_are_reminded_with_backoff_in_the_thread(stack: Stack, clock: ManualClock) -> None:
    card, request_id = await posted_card(stack, ENGINEER, "ssh web-01 1h")

    await advance(stack, clock, timedelta(minutes=4))
    await stack.runtime.scheduler.tick()
    assert _nudges(stack, card) == []
    await advance(stack, clock, timedelta(minutes=1))
    await _nudged(stack, card, 1, request_id)
    assert f"<!subteam^{APPROVER_GROUP}>" in str(_nudges(stack, card)[0].blocks)
    await advance(stack, clock, timedelta(minutes=9))
    await stack.runtime.scheduler.tick()
    assert len(_nudges(stack, card)) == 1
    await advance(stack, clock, timedelta(minutes=1))
    await _nudged(stack, card, 2, request_id)
    await advance(stack, clock, timedelta(minutes=20))
    await _nudged(stack, card, 3, request_id)
    await advance(stack, clock, timedelta(minutes=20))
    await _nudged(stack, card, 3, request_id)
    assert (await events(stack, request_id)).count("approvers_reminded") == 3


async def test_escalation_brings_in_a_second_group_in_a_second_channel(stack: Stack, clock: ManualClock) -> None:
    card, request_id = await posted_card(stack, ENGINEER, "ssh web-01 1h")
    await driver_of(stack).click(ADMIN, card, "jit_approve", request_id)
    await ephemeral_reply(stack, ADMIN, "not one of the approvers")

    await advance(stack, clock, timedelta(minutes=15))

    copy = await wait_post(stack, ONCALL_CHANNEL, lambda m: "Escalated" in str(m.blocks))
    assert copy.buttons() == [], "the on-call channel (where the requester looks too) gets no decision buttons"
    assert f"<@{ADMIN}>" in str(copy.blocks) and "in a DM with Approve / Deny" in str(copy.blocks)
    dm = await wait_post(stack, ADMIN, has_button("jit_approve", request_id))
    assert "escalated to you" in str(dm.blocks)
    assert not any(has_button("jit_approve", request_id)(m) for m in stack.slack.dms_with(ENGINEER))
    await wait_post(stack, APPROVAL_CHANNEL, lambda m: m.thread_ts == card.ts and "Escalated to" in str(m.blocks))
    assert "escalated" in await events(stack, request_id)

    await driver_of(stack).click(ADMIN, dm, "jit_approve", request_id)

    await wait_card_decided(stack, card)
    await dm_to(stack, ENGINEER, "is open")
    request = await current(stack, request_id)
    assert request.state is RequestState.ACTIVE and request.approver == ADMIN
    await stack.slack.wait_until(lambda: stack.slack.message(ADMIN, dm.ts).buttons() == [] or None)
    assert "now decided" in str(stack.slack.message(ONCALL_CHANNEL, copy.ts).blocks)
    assert "now decided" in str(stack.slack.message(ADMIN, dm.ts).blocks)
    assert card_now(stack, card).buttons() == []


async def test_reminders_and_escalation_survive_a_restart_and_happen_once(stack: Stack, clock: ManualClock) -> None:
    card, request_id = await posted_card(stack, ENGINEER, "ssh web-01 1h restart")
    await advance(stack, clock, timedelta(minutes=5))
    await _nudged(stack, card, 1, request_id)

    await stack.restart_bot()
    await advance(stack, clock, timedelta(minutes=10))
    await _nudged(stack, card, 2, request_id)
    await wait_post(stack, ADMIN, has_button("jit_approve", request_id))
    await stack.restart_bot()
    await stack.runtime.scheduler.tick()

    copies = [m for m in stack.slack.messages_in(ONCALL_CHANNEL) if "Escalated" in str(m.blocks)]
    assert len(copies) == 1
    assert len([m for m in stack.slack.dms_with(ADMIN) if has_button("jit_approve", request_id)(m)]) == 1
    assert len(_nudges(stack, card)) == 2
    assert (await events(stack, request_id)).count("escalated") == 1


async def test_a_decided_request_is_neither_reminded_nor_escalated(stack: Stack, clock: ManualClock) -> None:
    card, request_id = await posted_card(stack, ENGINEER, "ssh web-01 1h quick")
    await driver_of(stack).click(ADMIN, card, "jit_deny", request_id)
    await ephemeral_reply(stack, ADMIN, "not one of the approvers")
    await driver_of(stack).slash_command(ENGINEER, f"cancel {request_id}")
    await wait_card_decided(stack, card)

    await advance(stack, clock, timedelta(minutes=40))
    await stack.runtime.scheduler.tick()

    assert _nudges(stack, card) == []
    assert not any("Escalated" in str(m.blocks) for m in stack.slack.messages_in(ONCALL_CHANNEL))
    assert not any(has_button("jit_approve", request_id)(m) for m in stack.slack.dms_with(ADMIN))


async def test_env_only_configuration_reminds_approvers_by_default(
    redis_server: RedisServer, clock: ManualClock, tmp_path: Path
) -> None:
    async with lifecycle_stack(redis_server, clock, tmp_path) as stack:
        card, request_id = await posted_card(stack, ENGINEER, "ssh web-01 1h")

        await advance(stack, clock, timedelta(minutes=5))

        await _nudged(stack, card, 1, request_id)
