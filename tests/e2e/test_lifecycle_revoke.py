"""Revoke early: the NSG rules go, the request is revoked once however many people click, everyone is told."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import timedelta
from pathlib import Path

import pytest

from jit.clock import ManualClock
from jit.model import RequestState
from sandbox.redis_server import RedisServer
from sandbox.slack_workspace import ADMIN, APPROVER_2, ENGINEER, ONCALL, ONCALL_CHANNEL
from sandbox.stack import Stack
from tests.e2e.flow import card_now, dm_to, dms_containing, driver_of, ephemeral_reply, request_card
from tests.e2e.lifecycle_support import (
    advance,
    current,
    dm_with_button,
    events,
    granted,
    jit_allow_rules,
    lifecycle_stack,
    posts,
)


@pytest.fixture
async def stack(redis_server: RedisServer, tmp_path: Path) -> AsyncIterator[Stack]:
    async with lifecycle_stack(redis_server, ManualClock(), tmp_path) as running:
        yield running


async def test_requester_revokes_from_the_access_dm(stack: Stack) -> None:
    card, request_id = await granted(stack)
    assert jit_allow_rules(stack)
    dm = dm_with_button(stack, ENGINEER, "jit_revoke", request_id)
    assert dm is not None
    stack.arm.reset_calls()

    click = await driver_of(stack).click(ENGINEER, dm, "jit_revoke", request_id)

    assert click.status == 200
    await ephemeral_reply(stack, ENGINEER, "are not cut by Azure")
    assert jit_allow_rules(stack) == []
    assert [c.operation for c in stack.arm.writes()] == ["network.nsg.rule.delete"]
    request = await current(stack, request_id)
    assert request.state is RequestState.REVOKED and request.extra["revoked_by"] == ENGINEER
    await dm_to(stack, ENGINEER, "closed early")
    await stack.slack.wait_until(lambda: posts(stack, ONCALL_CHANNEL, "closed early") or None)
    assert "revoked" in str(card_now(stack, card).blocks).lower()
    assert ENGINEER in str(card_now(stack, card).blocks)
    audit = await stack.runtime.audit.for_request(request_id)
    revoked = [r for r in audit if r.event == "revoked"]
    assert len(revoked) == 1 and revoked[0].actor == ENGINEER
    assert "access_closed" in [r.event for r in audit]


async def test_an_approver_revokes_with_the_command(stack: Stack) -> None:
    _, request_id = await granted(stack)

    await driver_of(stack).slash_command(APPROVER_2, f"revoke {request_id}")

    await ephemeral_reply(stack, APPROVER_2, "Closed")
    request = await current(stack, request_id)
    assert request.state is RequestState.REVOKED and request.extra["revoked_by"] == APPROVER_2
    assert jit_allow_rules(stack) == []


async def test_an_admin_may_revoke_and_a_bystander_may_not(stack: Stack) -> None:
    _, request_id = await granted(stack)

    await driver_of(stack).slash_command(ONCALL, f"revoke {request_id}")
    await ephemeral_reply(stack, ONCALL, "Only the person who asked")
    assert (await current(stack, request_id)).state is RequestState.ACTIVE
    assert jit_allow_rules(stack)
    assert "revoke_refused" in await events(stack, request_id)

    await driver_of(stack).slash_command(ADMIN, f"revoke {request_id}")
    await ephemeral_reply(stack, ADMIN, "Closed")
    assert (await current(stack, request_id)).state is RequestState.REVOKED


async def test_a_pending_request_points_to_cancel(stack: Stack) -> None:
    _, request_id = await request_card(stack, ENGINEER, "ssh web-01 1h")

    await driver_of(stack).slash_command(ENGINEER, f"revoke {request_id}")

    await ephemeral_reply(stack, ENGINEER, f"/jit cancel {request_id}")
    assert (await current(stack, request_id)).state is RequestState.PENDING


async def test_concurrent_revokes_and_expiry_end_in_one_outcome(stack: Stack) -> None:
    clock = stack.clock
    assert isinstance(clock, ManualClock)
    _, request_id = await granted(stack)
    dm = dm_with_button(stack, ENGINEER, "jit_revoke", request_id)
    assert dm is not None
    await advance(stack, clock, timedelta(minutes=59, seconds=59))

    clicks = [driver_of(stack).click(ENGINEER, dm, "jit_revoke", request_id) for _ in range(6)]
    commands = [driver_of(stack).slash_command(APPROVER_2, f"revoke {request_id}") for _ in range(4)]
    await asyncio.gather(*clicks, *commands, advance(stack, clock, timedelta(seconds=1)))

    def settled() -> RequestState | None:
        return (
            None
            if len(stack.slack.ephemerals_for(ENGINEER)) + len(stack.slack.ephemerals_for(APPROVER_2)) < 10
            else RequestState.ACTIVE
        )

    await stack.slack.wait_until(settled, timeout=10)
    request = await current(stack, request_id)
    assert request.state in (RequestState.REVOKED, RequestState.EXPIRED)
    audit = await events(stack, request_id)
    assert audit.count("revoked") + audit.count("expired") == 1, audit
    await stack.runtime.scheduler.tick()
    ending = "closed early" if request.state is RequestState.REVOKED else "has ended"
    await dm_to(stack, ENGINEER, ending)
    await stack.runtime.scheduler.tick()
    assert dms_containing(stack, ENGINEER, "closed early") + dms_containing(stack, ENGINEER, "has ended") == 1


async def test_azure_refusing_the_delete_is_retried_until_closed(stack: Stack) -> None:
    clock = stack.clock
    assert isinstance(clock, ManualClock)
    _, request_id = await granted(stack)
    stack.arm.faults.add("network.nsg.rule.delete", status=500, times=10)

    await driver_of(stack).slash_command(ENGINEER, f"revoke {request_id}")

    await ephemeral_reply(stack, ENGINEER, "keeps retrying")
    assert (await current(stack, request_id)).state is RequestState.REVOKED
    assert jit_allow_rules(stack)
    stack.arm.faults.clear()
    await advance(stack, clock, timedelta(seconds=31))
    await dm_to(stack, ENGINEER, "closed early", timeout=10)
    assert jit_allow_rules(stack) == []
