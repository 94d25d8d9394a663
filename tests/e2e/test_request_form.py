"""A bare `/jit` opens the request form; its fields are checked inline, a refusal brings the form back with what
was typed, and a good form becomes a request."""

from __future__ import annotations

import asyncio

from sandbox.slack_state import View
from sandbox.slack_workspace import APPROVAL_CHANNEL, ENGINEER
from sandbox.stack import Stack
from tests.e2e.flow import driver_of, ephemeral_reply
from tests.e2e.portal_support import view_text


async def _open_form(stack: Stack) -> View:
    response = await driver_of(stack).slash_command(ENGINEER, "")
    assert response.status == 200
    return await stack.slack.wait_until(
        lambda: next((v for v in stack.slack.views_for(ENGINEER) if v.callback_id == "jit_request_modal"), None)
    )


async def test_bare_command_opens_the_form_and_submits_a_request(stack: Stack) -> None:
    view = await _open_form(stack)

    response = await driver_of(stack).submit_view(
        ENGINEER,
        view,
        {"request_ports": "ssh", "request_vm": "web-01", "request_duration": "45m", "request_reason": "form test"},
    )

    assert response.status == 200
    card = await stack.slack.wait_for_message(APPROVAL_CHANNEL, lambda m: bool(m.buttons()))
    assert "form test" in str(card.blocks)
    await ephemeral_reply(stack, ENGINEER, "sent to approvers")


async def test_form_errors_are_shown_on_the_right_fields(stack: Stack) -> None:
    view = await _open_form(stack)

    response = await driver_of(stack).submit_view(
        ENGINEER,
        view,
        {"request_ports": "99999", "request_vm": "web-01", "request_duration": "1m", "request_source": "10.0.0.1/8"},
    )

    errors = response.json["errors"]
    assert set(errors) == {"request_ports", "request_duration", "request_source"}
    assert not stack.slack.messages_in(APPROVAL_CHANNEL)


async def test_a_policy_refusal_brings_the_form_back_with_what_was_typed_and_the_fields_to_change(
    stack: Stack,
) -> None:
    view = await _open_form(stack)
    typed = {
        "request_ports": "rdp",
        "request_vm": "web-01",
        "request_duration": "1h",
        "request_source": "203.0.113.7",
        "request_reason": "INC-42 checking logs",
    }

    await driver_of(stack).submit_view(ENGINEER, view, typed)

    form = await stack.slack.wait_until(lambda: view if "not in the JIT policy" in view_text(view) else None)
    assert form.callback_id == "jit_request_modal" and not form.closed
    assert {b["block_id"]: b["element"].get("initial_value") for b in form.blocks if b["type"] == "input"} == typed
    text = view_text(form)
    assert ":point_up: Try `ssh`." in text
    assert stack.slack.ephemerals_for(ENGINEER) == [] and not stack.slack.messages_in(APPROVAL_CHANNEL)

    await driver_of(stack).submit_view(ENGINEER, form, {"request_ports": "ssh"})

    await stack.slack.wait_until(lambda: form.title == "Your request" or None)
    card = await stack.slack.wait_for_message(APPROVAL_CHANNEL, lambda m: bool(m.buttons()))
    assert "INC-42 checking logs" in str(card.blocks) and "203.0.113.7" in str(card.blocks)
    await ephemeral_reply(stack, ENGINEER, "sent to approvers")


async def test_an_unknown_vm_is_pointed_at_in_the_form(stack: Stack) -> None:
    view = await _open_form(stack)

    await driver_of(stack).submit_view(
        ENGINEER, view, {"request_ports": "ssh", "request_vm": "web01", "request_duration": "2h"}
    )

    form = await stack.slack.wait_until(lambda: view if "No VM called" in view_text(view) else None)
    text = view_text(form)
    assert "Check the VM's name" in text or "Try `web-01`" in text
    assert {b["block_id"]: b["element"].get("initial_value") for b in form.blocks if b["type"] == "input"} == {
        "request_ports": "ssh",
        "request_vm": "web01",
        "request_duration": "2h",
        "request_source": None,
        "request_reason": None,
    }


async def test_a_replayed_form_submission_is_refused_and_makes_no_second_request(stack: Stack) -> None:
    """Submissions are answered by Bolt while the replay check runs alongside; the replay's work never starts."""
    view = await _open_form(stack)
    values = {"request_ports": "ssh", "request_vm": "web-01", "request_duration": "45m", "request_reason": "once"}
    first = await driver_of(stack).submit_view(ENGINEER, view, values)
    assert first.status == 200
    card = await stack.slack.wait_for_message(APPROVAL_CHANNEL, lambda m: "once" in str(m.blocks) and bool(m.buttons()))
    await ephemeral_reply(stack, ENGINEER, "sent to approvers")
    request_id = str(next(b.value for b in card.buttons() if b.action_id == "jit_approve"))
    for _ in range(250):  # the first submission's own last write: the card's timestamp on the request
        stored = await stack.runtime.store.get(request_id)
        if stored is not None and stored.card_ts:
            break
        await asyncio.sleep(0.02)
    replies, audit = len(stack.slack.ephemerals_for(ENGINEER)), await stack.runtime.audit.length()

    replayed = await driver_of(stack).replay(first.request)

    assert replayed.status == 401
    await asyncio.sleep(0.3)  # time enough for wrongly started work to answer (the dedupe would reply again)
    for _ in range(3):
        await stack.runtime.scheduler.tick()
    assert len(stack.slack.ephemerals_for(ENGINEER)) == replies
    for _ in range(250):  # the refusal reaches the audit trail after the 401, in its own batch
        added = [r async for r in stack.runtime.audit.entries()][audit:]
        if added:
            break
        await asyncio.sleep(0.02)
    assert [(r.event, r.detail.get("why")) for r in added] == [("request_refused", "replayed")]
    assert await stack.runtime.store.count_pending(ENGINEER) == 1
    assert len([m for m in stack.slack.messages_in(APPROVAL_CHANNEL) if "once" in str(m.blocks)]) == 1
