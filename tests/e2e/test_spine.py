"""The product's main path end to end: /jit → card → Approve/Deny → Azure initiate → DMs."""

from __future__ import annotations

import asyncio

from jit.justification import parse_justification
from jit.model import RequestState
from sandbox.slack_workspace import APPROVAL_CHANNEL, APPROVER_1, APPROVER_2, ENGINEER, ONCALL
from sandbox.stack import Stack
from tests.e2e.flow import card_now, deny, dm_to, driver_of, ephemeral_reply, request_card, wait_card_decided


async def test_request_approve_grant(stack: Stack) -> None:
    card, request_id = await request_card(stack, ENGINEER, "ssh web-01 1h fixing deploy")
    assert "web-01" in card.text
    await ephemeral_reply(stack, ENGINEER, request_id)
    stack.arm.reset_calls()

    click = await driver_of(stack).click(APPROVER_1, card, "jit_approve", request_id)

    assert click.status == 200
    decided = await wait_card_decided(stack, card)
    assert "approved" in (decided.text + str(decided.blocks)).lower()
    assert APPROVER_1 in str(decided.blocks)
    assert [c.operation for c in stack.arm.writes()] == ["jit.initiate"]
    assert [c.operation for c in stack.arm.reads()] == ["jit.get"], "one fresh read: who else holds port 22"
    body = stack.arm.writes()[0].body
    port = body["virtualMachines"][0]["ports"][0]
    assert port["number"] == 22 and port["allowedSourceAddressPrefix"] == "203.0.113.10/32"
    parsed = parse_justification(body["justification"])
    assert parsed is not None and parsed.request_id == request_id
    assert (parsed.requester, parsed.approver) == (ENGINEER, APPROVER_1)
    assert parsed.attempt is not None
    dm = await dm_to(stack, ENGINEER, "web-01")
    assert "10.0.1.4" in dm
    request = await stack.runtime.store.get(request_id)
    assert request is not None and request.state is RequestState.ACTIVE
    assert request.starts_at is not None and request.ends_at is not None
    assert request.attempts == (parsed.attempt,), "the marker was saved with the request"
    nsg = stack.arm.inventory.nsg(request.vm.subscription_id, "rg-web", "web-nsg")
    assert nsg is not None and any("203.0.113.10" in str(rule) for rule in nsg.rules)


async def test_deny_tells_requester_and_makes_no_azure_call(stack: Stack) -> None:
    card, request_id = await request_card(stack, ENGINEER, "ssh web-01 1h")
    stack.arm.reset_calls()

    await deny(stack, APPROVER_2, card, request_id)

    decided = await wait_card_decided(stack, card)
    assert "denied" in (decided.text + str(decided.blocks)).lower()
    assert "Their reason" not in await dm_to(stack, ENGINEER, "denied")
    assert stack.arm.writes() == []
    request = await stack.runtime.store.get(request_id)
    assert request is not None and request.state is RequestState.DENIED and request.approver == APPROVER_2


async def test_self_approval_is_refused_and_audited(stack: Stack) -> None:
    card, request_id = await request_card(stack, APPROVER_1, "ssh web-01 1h")

    await driver_of(stack).click(APPROVER_1, card, "jit_approve", request_id)

    await ephemeral_reply(stack, APPROVER_1, "own request")
    assert card_now(stack, card).buttons(), "the card must stay open for another approver"
    assert stack.arm.writes() == []
    events = [r.event for r in await stack.runtime.audit.for_request(request_id)]
    assert "approve_refused" in events


async def test_non_approver_is_refused(stack: Stack) -> None:
    card, request_id = await request_card(stack, ENGINEER, "ssh web-01 1h")

    await driver_of(stack).click(ONCALL, card, "jit_approve", request_id)

    await ephemeral_reply(stack, ONCALL, "not one of the approvers")
    request = await stack.runtime.store.get(request_id)
    assert request is not None and request.state is RequestState.PENDING
    assert stack.arm.writes() == []


async def test_twenty_concurrent_approvals_make_one_initiate(stack: Stack) -> None:
    card, request_id = await request_card(stack, ENGINEER, "ssh web-01 1h")
    stack.arm.reset_calls()
    driver = driver_of(stack)

    clicks = await asyncio.gather(
        *(driver.click((APPROVER_1, APPROVER_2)[i % 2], card, "jit_approve", request_id) for i in range(20))
    )

    assert all(c.status == 200 for c in clicks)
    await wait_card_decided(stack, card)
    await stack.slack.wait_until(
        lambda: len([m for u in (APPROVER_1, APPROVER_2) for m in stack.slack.ephemerals_for(u)]) >= 19
    )
    assert len([c for c in stack.arm.calls if c.operation == "jit.initiate"]) == 1
    transitions = [r for r in await stack.runtime.audit.for_request(request_id) if r.event == "approved"]
    assert len(transitions) == 1


async def test_repeated_command_while_pending_returns_the_same_request(stack: Stack) -> None:
    _, first = await request_card(stack, ENGINEER, "ssh web-01 1h retry me")

    await driver_of(stack).slash_command(ENGINEER, "ssh web-01 1h retry me")

    await ephemeral_reply(stack, ENGINEER, "already have this request")
    cards = [m for m in stack.slack.messages_in(APPROVAL_CHANNEL) if m.buttons()]
    assert len(cards) == 1 and first in str(cards[0].blocks)


async def test_azure_refusal_fails_the_request_clearly(stack: Stack) -> None:
    card, request_id = await request_card(stack, ENGINEER, "ssh web-01 1h")
    stack.arm.faults.add("jit.initiate", status=403)

    await driver_of(stack).click(APPROVER_1, card, "jit_approve", request_id)

    decided = await wait_card_decided(stack, card)
    assert "403" in str(decided.blocks) or "not allowed" in str(decided.blocks)
    await dm_to(stack, ENGINEER, "role assignment")
    request = await stack.runtime.store.get(request_id)
    assert request is not None and request.state is RequestState.FAILED


async def test_tampered_button_value_is_refused(stack: Stack) -> None:
    card, _ = await request_card(stack, ENGINEER, "ssh web-01 1h")

    await driver_of(stack).click(APPROVER_1, card, "jit_approve", "jr-forged-value")

    await ephemeral_reply(stack, APPROVER_1, "unknown")
    assert stack.arm.writes() == []


async def test_cancelling_twice_answers_cancelled_twice_and_offers_nothing_more(stack: Stack) -> None:
    _, request_id = await request_card(stack, ENGINEER, "ssh web-01 1h fixing deploy")
    driver = driver_of(stack)

    for _ in range(2):
        seen = len(stack.slack.ephemerals_for(ENGINEER))
        await driver.slash_command(ENGINEER, f"cancel {request_id}")
        reply = await stack.slack.wait_until(lambda: stack.slack.ephemerals_for(ENGINEER)[seen:] or None)  # noqa: B023
        text = reply[0].text + str(reply[0].blocks)
        assert "cancelled" in text.lower()
        assert "/jit cancel" not in text and "when it is decided" not in text
