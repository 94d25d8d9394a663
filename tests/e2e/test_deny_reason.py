"""Deny asks for an optional reason in a modal; the requester reads it in their DM and the audit keeps it."""

from __future__ import annotations

from jit.model import RequestState
from sandbox.slack_workspace import APPROVER_1, APPROVER_2, ENGINEER, ONCALL
from sandbox.stack import Stack
from tests.e2e.flow import deny, deny_modal, dm_to, driver_of, ephemeral_reply, request_card, wait_card_decided


async def test_the_requester_reads_the_deny_reason_and_the_audit_keeps_it(stack: Stack) -> None:
    card, request_id = await request_card(stack, ENGINEER, "ssh web-01 2h fixing deploy")

    await deny(stack, APPROVER_2, card, request_id, "No ticket; ask again with the INC number for 1h")

    await wait_card_decided(stack, card)
    dm = await dm_to(stack, ENGINEER, "denied your request")
    assert "*Their reason:* No ticket; ask again with the INC number for 1h" in dm
    modal = stack.slack.views_for(APPROVER_2)[-1]
    await stack.slack.wait_until(lambda: modal.title == "Request denied" or None)
    assert "They were told your reason" in str(modal.blocks)
    [denied] = [r async for r in stack.runtime.audit.entries() if r.event == "denied" and r.request_id == request_id]
    assert (denied.actor, denied.detail["reason"]) == (APPROVER_2, "No ticket; ask again with the INC number for 1h")
    request = await stack.runtime.store.get(request_id)
    assert request is not None and request.state is RequestState.DENIED


async def test_deny_opens_no_modal_for_someone_who_may_not_deny(stack: Stack) -> None:
    card, request_id = await request_card(stack, ENGINEER, "ssh web-01 1h fixing deploy")

    await driver_of(stack).click(ONCALL, card, "jit_deny", request_id)

    await ephemeral_reply(stack, ONCALL, "not one of the approvers")
    assert stack.slack.views_for(ONCALL) == []
    assert (await stack.runtime.store.get(request_id)).state is RequestState.PENDING  # type: ignore[union-attr]


async def test_a_reason_submitted_after_someone_else_decided_changes_nothing(stack: Stack) -> None:
    card, request_id = await request_card(stack, ENGINEER, "ssh web-01 1h fixing deploy")
    await driver_of(stack).click(APPROVER_2, card, "jit_deny", request_id)
    modal = await deny_modal(stack, APPROVER_2)
    await driver_of(stack).click(APPROVER_1, card, "jit_approve", request_id)
    await wait_card_decided(stack, card)

    await driver_of(stack).submit_view(APPROVER_2, modal, {"reason": "too late"})

    await stack.slack.wait_until(lambda: modal.title == "Not denied" or None)
    assert "Already decided" in str(modal.blocks)
    assert (await stack.runtime.store.get(request_id)).state is RequestState.ACTIVE  # type: ignore[union-attr]


async def test_deny_still_denies_when_slack_will_not_open_the_reason_modal(stack: Stack) -> None:
    card, request_id = await request_card(stack, ENGINEER, "ssh web-01 1h fixing deploy")
    stack.slack.state.trigger_ttl = 0.0  # every trigger_id has expired by the time the bot uses it

    await driver_of(stack).click(APPROVER_2, card, "jit_deny", request_id)

    await wait_card_decided(stack, card)
    assert stack.slack.views_for(APPROVER_2) == []
    await dm_to(stack, ENGINEER, "denied your request")
    request = await stack.runtime.store.get(request_id)
    assert request is not None and request.state is RequestState.DENIED and request.approver == APPROVER_2
