"""Auto-approval (every condition must hold, deny beats allow) and quorum (N distinct approvers, one Deny ends it)."""

from __future__ import annotations

import asyncio
from datetime import timedelta
from pathlib import Path

from jit.clock import ManualClock
from jit.model import RequestState
from sandbox.redis_server import RedisServer
from sandbox.slack_workspace import APPROVAL_CHANNEL, APPROVER_1, APPROVER_2, ENGINEER, ONCALL
from sandbox.stack import Stack
from tests.e2e.flow import card_now, deny, dm_to, driver_of, ephemeral_reply, request_card, wait_card_decided
from tests.e2e.lifecycle_support import current, events, has_button, initiates, lifecycle_stack, wait_post, wait_request

AUTO = """
rules:
  - name: web-oncall
    match: {resource_group: rg-web}
    auto_approve:
      requesters: [U0ENGINE01, S0APPROVRS, U0ONCALL01]
      deny: [U0ONCALL01]
      max_duration: 1h
      ports: [ssh]
      business_hours: {timezone: Europe/Berlin, days: mon-fri, start: "09:00", end: "18:00"}
"""
QUORUM = """
rules:
  - name: web-two-keys
    match: {resource_group: rg-web}
    quorum: 2
"""


async def _pending(stack: Stack, user: str, text: str) -> str:
    _, request_id = await request_card(stack, user, text)
    request = await current(stack, request_id)
    assert request.state is RequestState.PENDING and "auto_approved" not in request.extra
    return request_id


async def test_a_rule_approves_within_its_conditions(redis_server: RedisServer, tmp_path: Path) -> None:
    clock = ManualClock()
    async with lifecycle_stack(redis_server, clock, tmp_path, rules=AUTO) as stack:
        await driver_of(stack).slash_command(ENGINEER, "ssh web-01 1h deploy")

        await dm_to(stack, ENGINEER, "is open")
        card = await wait_post(stack, APPROVAL_CHANNEL, lambda m: "Auto-approved" in str(m.blocks))
        assert "web-oncall" in str(card.blocks) and card.buttons() == []
        request = (await stack.runtime.store.by_requester(ENGINEER))[-1]
        assert request.state is RequestState.ACTIVE and request.extra["auto_approved"] == "web-oncall"
        assert initiates(stack) == 1
        approved = next(r for r in await stack.runtime.audit.for_request(request.id) if r.event == "approved")
        assert approved.actor == "jitbot" and approved.detail["auto_approved_by_rule"] == "web-oncall"

        await driver_of(stack).slash_command(APPROVER_1, "ssh web-01 30m group member")
        await dm_to(stack, APPROVER_1, "is open")


async def test_deny_beats_allow_and_every_condition_must_hold(redis_server: RedisServer, tmp_path: Path) -> None:
    clock = ManualClock()
    async with lifecycle_stack(redis_server, clock, tmp_path, rules=AUTO) as stack:
        await _pending(stack, ONCALL, "ssh web-01 1h on the deny list")
        await _pending(stack, ENGINEER, "ssh web-01 2h too long")
        await _pending(stack, ENGINEER, "ssh,8080 web-01 1h a port outside the list")
        clock.advance(timedelta(hours=9))
        await _pending(stack, ENGINEER, "ssh web-01 1h after hours")
        assert initiates(stack) == 0


async def test_a_quorum_needs_distinct_approvers(redis_server: RedisServer, tmp_path: Path) -> None:
    async with lifecycle_stack(redis_server, ManualClock(), tmp_path, rules=QUORUM) as stack:
        card, request_id = await request_card(stack, ENGINEER, "ssh web-01 1h two keys")
        assert "0 of 2" in str(card.blocks)

        await driver_of(stack).click(APPROVER_1, card, "jit_approve", request_id)
        await ephemeral_reply(stack, APPROVER_1, "1 of 2")
        await driver_of(stack).click(APPROVER_1, card, "jit_approve", request_id)
        await stack.slack.wait_until(lambda: len(stack.slack.ephemerals_for(APPROVER_1)) == 2 or None)
        assert "1 of 2" in str(stack.slack.ephemerals_for(APPROVER_1)[-1].blocks)
        await stack.slack.wait_until(lambda: "1 of 2" in str(card_now(stack, card).blocks) or None)
        assert card_now(stack, card).buttons()
        assert initiates(stack) == 0
        assert (await current(stack, request_id)).state is RequestState.PENDING

        await driver_of(stack).click(APPROVER_2, card, "jit_approve", request_id)

        decided = await wait_card_decided(stack, card)
        assert APPROVER_1 in str(decided.blocks) and APPROVER_2 in str(decided.blocks)
        await dm_to(stack, ENGINEER, "is open")
        assert initiates(stack) == 1
        request = await current(stack, request_id)
        assert sorted(request.approvals) == sorted([APPROVER_1, APPROVER_2])
        assert (await events(stack, request_id)).count("approval_recorded") == 2


async def test_the_requester_never_counts_toward_a_quorum(redis_server: RedisServer, tmp_path: Path) -> None:
    async with lifecycle_stack(redis_server, ManualClock(), tmp_path, rules=QUORUM) as stack:
        card, request_id = await request_card(stack, APPROVER_1, "ssh web-01 1h mine")

        await driver_of(stack).click(APPROVER_1, card, "jit_approve", request_id)

        await ephemeral_reply(stack, APPROVER_1, "own request")
        assert (await current(stack, request_id)).approvals == ()


async def test_a_single_deny_ends_a_quorum(redis_server: RedisServer, tmp_path: Path) -> None:
    async with lifecycle_stack(redis_server, ManualClock(), tmp_path, rules=QUORUM) as stack:
        card, request_id = await request_card(stack, ENGINEER, "ssh web-01 1h")
        await driver_of(stack).click(APPROVER_1, card, "jit_approve", request_id)
        await ephemeral_reply(stack, APPROVER_1, "1 of 2")

        await deny(stack, APPROVER_2, card, request_id)

        await wait_card_decided(stack, card)
        await dm_to(stack, ENGINEER, "denied")
        assert (await current(stack, request_id)).state is RequestState.DENIED
        assert initiates(stack) == 0


async def test_concurrent_approvals_meeting_a_quorum_make_one_initiate(
    redis_server: RedisServer, tmp_path: Path
) -> None:
    async with lifecycle_stack(redis_server, ManualClock(), tmp_path, rules=QUORUM) as stack:
        card, request_id = await request_card(stack, ENGINEER, "ssh web-01 1h race")
        stack.arm.reset_calls()

        await asyncio.gather(
            *(
                driver_of(stack).click((APPROVER_1, APPROVER_2)[i % 2], card, "jit_approve", request_id)
                for i in range(20)
            )
        )

        await wait_request(stack, request_id, lambda r: r.state is RequestState.ACTIVE)
        await stack.runtime.scheduler.tick()
        assert initiates(stack) == 1
        audit = await events(stack, request_id)
        assert audit.count("approved") == 1 and audit.count("active") == 1
        assert audit.count("approval_recorded") == 2

        def no_approve_buttons_left() -> bool | None:
            cards = stack.slack.messages_in(APPROVAL_CHANNEL)
            return None if any(has_button("jit_approve")(m) for m in cards) else True

        await stack.slack.wait_until(no_approve_buttons_left)
