"""The App Home tab for an engineer, an approver and an admin: published when opened, refreshed on every change,
with Approve / Deny that follow the same rules as the approval card."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from datetime import timedelta

import pytest

from jit.clock import ManualClock
from jit.store.audit import AuditRecord
from sandbox.redis_server import RedisServer
from sandbox.slack_state import Message, View
from sandbox.slack_workspace import ADMIN, APPROVAL_CHANNEL, APPROVER_1, APPROVER_2, ENGINEER, ONCALL
from sandbox.stack import Stack
from tests.e2e.flow import deny_modal
from tests.e2e.portal_support import (
    BIG_COUNT,
    big_inventory,
    home_of,
    open_home,
    policy_entries,
    running_stack,
    top_view,
    view_text,
    vm_id,
)


@pytest.fixture
async def stack(redis_server: RedisServer) -> AsyncIterator[Stack]:
    """The demo world; lazy listeners finish before it closes."""
    async with running_stack(redis_server.url) as running:
        yield running


async def request_access(stack: Stack, text: str = "ssh web-01 1h fixing deploy") -> tuple[Message, str]:
    """The engineer asks; returns the approval card and the request id."""
    assert stack.driver is not None
    before = len(stack.slack.messages_in(APPROVAL_CHANNEL))
    await stack.driver.slash_command(ENGINEER, text)
    card = await stack.slack.wait_until(
        lambda: next((m for m in stack.slack.messages_in(APPROVAL_CHANNEL)[before:] if m.buttons()), None)
    )
    request_id = next(str(b.value) for b in card.buttons() if b.action_id == "jit_approve")
    return card, request_id


async def audited(stack: Stack, event: str, count: int) -> list[AuditRecord]:
    """The audit records named ``event``, once there are ``count`` of them."""
    async with asyncio.timeout(5):
        while True:
            found = [r async for r in stack.runtime.audit.entries() if r.event == event]
            if len(found) >= count:
                return found
            await asyncio.sleep(0.02)


def decision_buttons(home: View) -> set[tuple[str, str]]:
    """The Approve / Deny buttons on a Home, as (action, request id)."""
    return {(b.action_id, str(b.value)) for b in home.buttons() if b.action_id in ("jit_approve", "jit_deny")}


async def test_opening_home_publishes_it_and_only_admins_see_the_inventory(stack: Stack) -> None:
    for user in (ENGINEER, APPROVER_1, ADMIN):
        answer = await open_home(stack, user)
        assert answer.status == 200 and answer.acked_in_time
    engineer = view_text(await home_of(stack, ENGINEER))
    assert "Your open access* (0)" in engineer and "Your pending requests* (0)" in engineer
    assert "Waiting for your approval* (0)" in engineer and "VM inventory" not in engineer
    assert "VM inventory" not in view_text(await home_of(stack, APPROVER_1))
    admin = view_text(await home_of(stack, ADMIN))
    assert "*Configured*: 5 VMs" in admin and "*Not configured*: 3 VMs" in admin and "*Unsupported*: 5 VMs" in admin


async def test_home_follows_a_request_and_approval_works_from_home(stack: Stack) -> None:
    assert stack.driver is not None
    for user in (ENGINEER, APPROVER_1, APPROVER_2, ONCALL):
        await open_home(stack, user)
        await home_of(stack, user)
    card, request_id = await request_access(stack)

    engineer = await home_of(stack, ENGINEER, lambda t: "Your pending requests* (1)" in t)
    assert request_id in view_text(engineer) and decision_buttons(engineer) == set()
    approver = await home_of(stack, APPROVER_1, lambda t: "Waiting for your approval* (1)" in t)
    assert decision_buttons(approver) == {("jit_approve", request_id), ("jit_deny", request_id)}
    assert "<@U0ENGINE01> wants 22 (SSH) on `web-01` for 1h" in view_text(approver)
    assert "fixing deploy" in view_text(approver)
    await home_of(stack, APPROVER_2, lambda t: "Waiting for your approval* (1)" in t)
    assert decision_buttons(await home_of(stack, ONCALL)) == set()

    stack.arm.reset_calls()
    click = await stack.driver.click_home(APPROVER_1, "jit_approve", request_id)
    assert click.status == 200 and click.acked_in_time
    await stack.slack.wait_until(lambda: not stack.slack.message(APPROVAL_CHANNEL, card.ts).buttons())
    assert [c.operation for c in stack.arm.writes()] == ["jit.initiate"]
    request = await stack.runtime.store.get(request_id)
    assert request is not None and request.state.value == "active" and request.approver == APPROVER_1

    engineer = await home_of(stack, ENGINEER, lambda t: "Your open access* (1)" in t)
    text = view_text(engineer)
    assert "left" in text and "Your pending requests* (0)" in text
    assert {b.action_id for b in engineer.buttons()} >= {"jit_revoke"}
    for approver_id in (APPROVER_1, APPROVER_2):
        home = await home_of(stack, approver_id, lambda t: "Waiting for your approval* (0)" in t)
        assert decision_buttons(home) == set()


async def test_deny_from_home(stack: Stack) -> None:
    assert stack.driver is not None
    await open_home(stack, APPROVER_2)
    await open_home(stack, ENGINEER)
    card, request_id = await request_access(stack)
    await home_of(stack, APPROVER_2, lambda t: "Waiting for your approval* (1)" in t)
    stack.arm.reset_calls()
    await stack.driver.click_home(APPROVER_2, "jit_deny", request_id)
    await stack.driver.submit_view(APPROVER_2, await deny_modal(stack, APPROVER_2))
    await stack.slack.wait_until(lambda: not stack.slack.message(APPROVAL_CHANNEL, card.ts).buttons())
    request = await stack.runtime.store.get(request_id)
    assert request is not None and request.state.value == "denied"
    assert stack.arm.writes() == []
    await home_of(stack, ENGINEER, lambda t: "Your pending requests* (0)" in t and "Your open access* (0)" in t)
    never_opened = {APPROVER_1, ADMIN, ONCALL}
    assert not [c for c in stack.slack.calls_to("views.publish") if c.args.get("user_id") in never_opened]


async def test_cancel_a_pending_request_from_home(stack: Stack) -> None:
    assert stack.driver is not None
    await open_home(stack, ENGINEER)
    await open_home(stack, APPROVER_1)
    card, request_id = await request_access(stack)
    home = await home_of(stack, ENGINEER, lambda t: "Your pending requests* (1)" in t)
    assert ("jit_cancel", request_id) in {(b.action_id, str(b.value)) for b in home.buttons()}

    await stack.driver.click_in_view(APPROVER_1, home, "jit_cancel", request_id)
    await stack.slack.wait_until(_told(stack, APPROVER_1, "Only the person who asked can cancel"))
    assert (await stack.runtime.store.get(request_id)).state.value == "pending"  # type: ignore[union-attr]
    await stack.driver.click_home(ENGINEER, "jit_cancel", request_id)

    await stack.slack.wait_until(lambda: not stack.slack.message(APPROVAL_CHANNEL, card.ts).buttons())
    assert (await stack.runtime.store.get(request_id)).state.value == "cancelled"  # type: ignore[union-attr]
    await home_of(stack, ENGINEER, lambda t: "Your pending requests* (0)" in t)
    await home_of(stack, APPROVER_1, lambda t: "Waiting for your approval* (0)" in t)
    assert [r.actor for r in await audited(stack, "cancel_refused", 1)] == [APPROVER_1]


async def test_a_forged_home_click_follows_the_card_rules(stack: Stack) -> None:
    """A non-approver who forges an Approve click from Home changes nothing (the use case decides, not the view)."""
    assert stack.driver is not None
    await open_home(stack, ENGINEER)
    await open_home(stack, APPROVER_1)
    _, request_id = await request_access(stack)
    await home_of(stack, APPROVER_1, lambda t: "Waiting for your approval* (1)" in t)
    stack.arm.reset_calls()
    approver_home = await home_of(stack, APPROVER_1)
    await stack.driver.click_in_view(ONCALL, approver_home, "jit_approve", request_id)
    await stack.driver.click_in_view(ENGINEER, approver_home, "jit_approve", request_id)
    refused = await audited(stack, "approve_refused", 2)
    assert {r.actor for r in refused} == {ONCALL, ENGINEER}
    request = await stack.runtime.store.get(request_id)
    assert request is not None and request.state.value == "pending"
    assert stack.arm.writes() == []
    for clicker, why in ((ONCALL, "not one of the approvers"), (ENGINEER, "own request")):
        await stack.slack.wait_until(_told(stack, clicker, why))


def _told(stack: Stack, user: str, words: str) -> Callable[[], bool]:
    """Whether a modal shown to ``user`` says ``words`` (Home clicks have no response_url to answer on)."""
    return lambda: any(words in str(view.blocks) for view in stack.slack.views_for(user))


async def test_admin_home_links_into_each_list_and_enabling_updates_the_counts(stack: Stack) -> None:
    assert stack.driver is not None
    await open_home(stack, ADMIN)
    await home_of(stack, ADMIN, lambda t: "*Not configured*: 3 VMs" in t)
    await stack.driver.click_home(ADMIN, "jit_list_tab", "n:0:")
    listing = await top_view(stack, ADMIN, "jit_list_modal")
    text = view_text(listing)
    assert "JIT VMs: Not configured" in text and "build-01" in text and "db-02" in text

    await stack.driver.click_in_view(ADMIN, listing, "jit_list_tab:unsupported")
    await stack.slack.wait_until(lambda: "JIT VMs: Unsupported" in view_text(listing))
    assert "legacy-app" in view_text(listing) and stack.slack.views_for(ADMIN) == [listing]
    await stack.driver.click_in_view(ADMIN, listing, "jit_list_tab:not_configured")
    await stack.slack.wait_until(lambda: "JIT VMs: Not configured" in view_text(listing))

    stack.arm.reset_calls()
    await stack.driver.click_in_view(ENGINEER, listing, "jit_enable", stack.arm.inventory.vm("build-01").id)
    refusal = await top_view(stack, ENGINEER, "jit_notice_modal")
    assert "Only jitbot admins" in view_text(refusal)
    assert stack.arm.reads() == [] and stack.arm.writes() == []

    await stack.driver.click_in_view(ADMIN, listing, "jit_enable", stack.arm.inventory.vm("build-01").id)
    modal = await top_view(stack, ADMIN, "jit_policy_modal")
    assert stack.slack.views_for(ADMIN) == [listing, modal]
    await stack.driver.submit_view(ADMIN, modal, {"port_1_remove": ["remove"]})
    await stack.slack.wait_until(lambda: modal.title == "JIT saved")
    assert vm_id(stack, "build-01") in policy_entries(stack)
    admin = await home_of(stack, ADMIN, lambda t: "*Configured*: 6 VMs" in t)
    assert "*Not configured*: 2 VMs" in view_text(admin)


async def test_the_list_opened_from_home_pages_inside_its_modal(redis_server: RedisServer) -> None:
    async with running_stack(redis_server.url, inventory=big_inventory()) as stack:
        assert stack.driver is not None
        await open_home(stack, ADMIN)
        await home_of(stack, ADMIN, lambda t: f"*Not configured*: {BIG_COUNT} VMs" in t)
        await stack.driver.click_home(ADMIN, "jit_list_tab", "n:0:")
        listing = await top_view(stack, ADMIN, "jit_list_modal")
        assert "Showing 1–10 of 25" in view_text(listing) and "app-09" in view_text(listing)
        await stack.driver.click_in_view(ADMIN, listing, "jit_list_more")
        await stack.slack.wait_until(lambda: "Showing 11–20 of 25" in view_text(listing))
        assert "app-10" in view_text(listing) and "app-09" not in view_text(listing)
        assert stack.slack.views_for(ADMIN) == [listing]


async def test_home_counts_down_and_clears_when_access_expires(redis_server: RedisServer) -> None:
    clock = ManualClock()
    async with running_stack(redis_server.url, clock=clock) as stack:
        assert stack.driver is not None
        await open_home(stack, ENGINEER)
        card, request_id = await request_access(stack)
        await stack.driver.click(APPROVER_1, card, "jit_approve")
        await home_of(stack, ENGINEER, lambda t: "Your open access* (1)" in t and "1h left" in t)

        clock.advance(timedelta(minutes=50))
        stack.runtime.scheduler.wake()
        await stack.slack.wait_until(lambda: [m for m in stack.slack.dms_with(ENGINEER) if "closes" in m.text])
        await home_of(stack, ENGINEER, lambda t: "10m left" in t)

        clock.advance(timedelta(minutes=11))
        stack.runtime.scheduler.wake()
        home = await home_of(stack, ENGINEER, lambda t: "Your open access* (0)" in t)
        assert request_id not in view_text(home)
        request = await stack.runtime.store.get(request_id)
        assert request is not None and request.state.value == "expired"
