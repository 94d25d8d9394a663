"""A bare `/jit` opens the request form; its fields are checked inline, and a good form becomes a request."""

from __future__ import annotations

from sandbox.slack_state import View
from sandbox.slack_workspace import APPROVAL_CHANNEL, ENGINEER
from sandbox.stack import Stack
from tests.e2e.flow import driver_of, ephemeral_reply


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


async def test_form_policy_refusal_reaches_the_requester(stack: Stack) -> None:
    view = await _open_form(stack)

    await driver_of(stack).submit_view(
        ENGINEER, view, {"request_ports": "rdp", "request_vm": "web-01", "request_duration": "1h"}
    )

    await ephemeral_reply(stack, ENGINEER, "not in the jit policy")
    assert not stack.slack.messages_in(APPROVAL_CHANNEL)
