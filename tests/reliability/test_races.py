"""Races: 50 concurrent Approve clicks from four approvers through two real bot processes sharing one Redis."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest

from sandbox.slack_workspace import ADMIN, APPROVAL_CHANNEL, APPROVER_1, APPROVER_2, ENGINEER, ONCALL
from tests.reliability.world import World

APPROVERS = (APPROVER_1, APPROVER_2, ADMIN, ONCALL)


@pytest.fixture
async def two_bots() -> AsyncIterator[World]:
    env = {"JITBOT_APPROVERS": f"S0APPROVRS,{ADMIN},{ONCALL}"}
    async with World(bots=2, env=env) as world:
        yield world


@pytest.mark.slow
@pytest.mark.timeout(120)
async def test_fifty_clicks_on_two_replicas_make_one_grant(two_bots: World) -> None:
    world = two_bots
    response = await world.driver.slash_command(ENGINEER, "ssh web-01 1h race test")
    assert response.acked_in_time, response
    card = await world.slack.wait_for_message(
        APPROVAL_CHANNEL, lambda m: any(b.action_id == "jit_approve" for b in m.buttons()), timeout=15
    )
    request_id = next(str(b.value) for b in card.buttons() if b.action_id == "jit_approve")
    world.arm.reset_calls()

    clicks = await asyncio.gather(
        *(world.drivers[i % 2].click(APPROVERS[i % len(APPROVERS)], card, "jit_approve", request_id) for i in range(50))
    )

    assert all(c.acked_in_time for c in clicks), [(c.status, round(c.elapsed, 2)) for c in clicks]

    def already_replies() -> list[str]:
        texts = [str(m.blocks) for user in APPROVERS for m in world.slack.ephemerals_for(user)]
        return [text for text in texts if "already decided" in text.lower()]

    replies = await world.slack.wait_until(lambda: r if len(r := already_replies()) >= 49 else None, timeout=30)
    assert len(replies) == 49
    await world.slack.wait_until(
        lambda: None if world.slack.message(APPROVAL_CHANNEL, card.ts).buttons() else True, timeout=15
    )
    initiates = [c for c in world.arm.calls if c.operation == "jit.initiate"]
    assert len(initiates) == 1, world.logs()
    records = await world.audit().for_request(request_id)
    events = [r.event for r in records]
    assert events.count("approved") == 1 and events.count("active") == 1, events
    winner = next(r.actor for r in records if r.event == "approved")
    assert winner in APPROVERS
    assert all("approved" in text.lower() and f"<@{winner}>" in text for text in replies), replies[:3]
    request = await world.store().get(request_id)
    assert request is not None and request.state.value == "active" and request.approver == winner
    assert all(bot.alive for bot in world.bots)
