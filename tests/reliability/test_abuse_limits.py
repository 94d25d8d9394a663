"""Abuse limits: a cap on each user's pending requests, on commands per minute, and on clicks and modal
submissions per minute, each with a clear message and an audit record."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import timedelta

import pytest

from jit.clock import ManualClock
from jit.model import RequestState
from sandbox.redis_server import RedisServer
from sandbox.slack_workspace import ADMIN, APPROVAL_CHANNEL, APPROVER_1, APPROVER_2, ENGINEER, ONCALL
from sandbox.stack import Stack, StackOptions
from tests.e2e.flow import driver_of, ephemeral_reply, request_card


@pytest.fixture
async def clock() -> ManualClock:
    return ManualClock()


@pytest.fixture
async def stack(redis_server: RedisServer, clock: ManualClock) -> AsyncIterator[Stack]:
    env = {"JITBOT_MAX_PENDING_PER_USER": "2", "JITBOT_COMMANDS_PER_MINUTE": "6", "JITBOT_INTERACTIONS_PER_MINUTE": "3"}
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


async def test_exploring_never_uses_up_the_command_limit(stack: Stack) -> None:
    driver = driver_of(stack)
    for text in ["status", "help", "status", "cancel jr-nosuchrequest0"] * 4:
        await driver.slash_command(ENGINEER, text)
    await stack.slack.wait_until(lambda: len(stack.slack.ephemerals_for(ENGINEER)) >= 8 or None)

    card, _ = await request_card(stack, ENGINEER, "ssh web-01 1h after looking around")

    assert card.buttons()
    assert not [r async for r in stack.runtime.audit.entries() if r.event == "rate_limited"]


async def test_commands_per_minute_limit_is_per_user_clear_and_audited(stack: Stack, clock: ManualClock) -> None:
    driver = driver_of(stack)
    for _ in range(6):
        await driver.slash_command(ENGINEER, "status web-01")
    await stack.slack.wait_until(lambda: len(stack.slack.ephemerals_for(ENGINEER)) >= 6 or None, timeout=20)

    await driver.slash_command(ENGINEER, "status web-01")

    refusal = await ephemeral_reply(stack, ENGINEER, "more than 6 commands that ask Azure")
    assert "try again in" in refusal
    await driver.slash_command(APPROVER_1, "status web-01")
    await stack.slack.wait_until(lambda: stack.slack.ephemerals_for(APPROVER_1) or None)
    assert "more than" not in str(stack.slack.ephemerals_for(APPROVER_1)[-1].blocks)
    limited = [r async for r in stack.runtime.audit.entries() if r.event == "rate_limited"]
    assert [(r.actor, r.detail["what"], r.detail["why"]) for r in limited] == [
        (ENGINEER, "command Status", "more than 6 commands in a minute")
    ]

    clock.advance(timedelta(seconds=61))
    await request_card(stack, ENGINEER, "ssh web-01 1h after the minute")
    assert any(m.buttons() for m in stack.slack.messages_in(APPROVAL_CHANNEL))


async def test_clicks_are_rate_limited_per_user_refused_where_clicked_and_audited(
    stack: Stack, clock: ManualClock
) -> None:
    driver = driver_of(stack)
    card, request_id = await request_card(stack, ENGINEER, "ssh web-01 1h clicks")
    for _ in range(3):
        await driver.click(APPROVER_1, card, "jit_approve", "jr-not-a-request")
    await stack.slack.wait_until(lambda: len(stack.slack.ephemerals_for(APPROVER_1)) >= 3 or None)

    await driver.click(APPROVER_1, card, "jit_approve", request_id)

    refusal = await ephemeral_reply(stack, APPROVER_1, "more than 3 clicks and form submissions in a minute")
    assert "nothing was done" in refusal and "try again in" in refusal
    assert (await stack.runtime.store.get(request_id)).state is RequestState.PENDING  # type: ignore[union-attr]
    assert stack.arm.writes() == []
    [limited] = [r async for r in stack.runtime.audit.entries() if r.event == "rate_limited"]
    assert (limited.actor, limited.request_id) == (APPROVER_1, None)
    assert limited.detail == {
        "what": "click jit_approve",
        "value": request_id,
        "why": "more than 3 clicks and form submissions in a minute",
    }

    await driver.click(APPROVER_2, card, "jit_approve", "jr-not-a-request")
    await ephemeral_reply(stack, APPROVER_2, "unknown to jitbot")
    clock.advance(timedelta(seconds=61))
    await driver.click(APPROVER_1, card, "jit_approve", request_id)
    await _state(stack, request_id, RequestState.ACTIVE)


async def test_form_submissions_share_the_limit_and_are_refused_in_the_form(stack: Stack) -> None:
    driver = driver_of(stack)
    card, request_id = await request_card(stack, ENGINEER, "ssh web-01 1h mine")
    for _ in range(3):
        await driver.click(ENGINEER, card, "jit_approve", request_id)
    await stack.slack.wait_until(
        lambda: (
            len([m for m in stack.slack.ephemerals_for(ENGINEER) if "own request" in m.text + str(m.blocks)]) >= 3
            or None
        )
    )
    await driver.slash_command(ENGINEER, "")
    form = await stack.slack.wait_until(
        lambda: next((v for v in stack.slack.views_for(ENGINEER) if v.callback_id == "jit_request_modal"), None)
    )

    answer = await driver.submit_view(
        ENGINEER,
        form,
        {"request_ports": "ssh", "request_vm": "web-02", "request_duration": "30m", "request_reason": "one more"},
    )

    assert answer.status == 200
    await stack.slack.wait_until(lambda: "more than 3 clicks and form submissions in a minute" in str(form.blocks))
    assert form.callback_id == "jit_request_modal"
    assert [b["element"].get("initial_value") for b in form.blocks if b["block_id"] == "request_vm"] == ["web-02"]
    assert [r.vm.name for r in await stack.runtime.store.by_requester(ENGINEER)] == ["web-01"]
    limited = [r async for r in stack.runtime.audit.entries() if r.event == "rate_limited"]
    assert [(r.actor, r.detail["what"]) for r in limited] == [(ENGINEER, "submission jit_request_modal")]


async def test_an_admin_modal_submission_over_the_limit_says_so_in_the_modal_and_writes_nothing(
    stack: Stack,
) -> None:
    driver = driver_of(stack)
    await driver.slash_command(ADMIN, "list rg-web")
    page = await stack.slack.wait_until(lambda: next(iter(stack.slack.ephemerals_for(ADMIN)), None))
    for tab in ("unsupported", "not_configured", "configured"):
        await driver.click(ADMIN, page, f"jit_list_tab:{tab}")
    await stack.slack.wait_until(lambda: len(page.versions) == 4 or None)
    await driver.slash_command(ADMIN, "enable build-01")
    modal = await stack.slack.wait_until(
        lambda: next((v for v in stack.slack.views_for(ADMIN) if v.callback_id == "jit_policy_modal"), None)
    )
    stack.arm.reset_calls()

    answer = await driver.submit_view(ADMIN, modal, {})

    assert answer.status == 200 and not answer.rejected
    await stack.slack.wait_until(lambda: modal.title == "JIT not changed" or None)
    assert "more than 3 clicks and form submissions in a minute" in str(modal.blocks)
    assert stack.arm.writes() == []
    limited = [r async for r in stack.runtime.audit.entries() if r.event == "rate_limited"]
    assert [(r.actor, r.detail["what"]) for r in limited] == [(ADMIN, "submission jit_policy_modal")]


async def _state(stack: Stack, request_id: str, state: RequestState) -> None:
    for _ in range(200):
        request = await stack.runtime.store.get(request_id)
        if request is not None and request.state is state:
            return
        await asyncio.sleep(0.02)
    raise AssertionError(f"{request_id} never became {state.value}")
