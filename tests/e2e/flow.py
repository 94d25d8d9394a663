"""Small steps shared by the end-to-end tests: ask for access, find the card, click, read replies."""

from __future__ import annotations

from sandbox.slack_driver import DriverResponse, SlackDriver
from sandbox.slack_state import Message, View
from sandbox.slack_workspace import APPROVAL_CHANNEL
from sandbox.stack import Stack


def driver_of(stack: Stack) -> SlackDriver:
    """The stack's signed-request driver."""
    assert stack.driver is not None
    return stack.driver


async def request_card(stack: Stack, user: str, text: str) -> tuple[Message, str]:
    """``user`` types ``/jit text``; returns the approval card and the request id on its buttons."""
    before = {m.ts for m in stack.slack.messages_in(APPROVAL_CHANNEL)}
    response = await driver_of(stack).slash_command(user, text)
    assert response.status == 200, response.body
    card = await stack.slack.wait_for_message(
        APPROVAL_CHANNEL, lambda m: m.ts not in before and any(b.action_id == "jit_approve" for b in m.buttons())
    )
    value = next(b.value for b in card.buttons() if b.action_id == "jit_approve")
    assert value
    return card, str(value)


async def deny_modal(stack: Stack, approver: str) -> View:
    """The Deny button's reason modal, once it is on top of ``approver``'s screen."""

    def ready() -> View | None:
        views = stack.slack.views_for(approver)
        return views[-1] if views and views[-1].callback_id == "jit_deny_modal" else None

    return await stack.slack.wait_until(ready)


async def deny(stack: Stack, approver: str, card: Message, request_id: str, reason: str = "") -> DriverResponse:
    """``approver`` clicks Deny on the card and submits the reason modal (empty: no reason); returns the click."""
    click = await driver_of(stack).click(approver, card, "jit_deny", request_id)
    modal = await deny_modal(stack, approver)
    await driver_of(stack).submit_view(approver, modal, {"reason": reason} if reason else None)
    return click


def card_now(stack: Stack, card: Message) -> Message:
    """The card's current version."""
    return stack.slack.message(APPROVAL_CHANNEL, card.ts)


async def wait_card_decided(stack: Stack, card: Message) -> Message:
    """Wait until the card has lost its buttons."""

    def decided() -> Message | None:
        current = card_now(stack, card)
        return None if current.buttons() else current

    return await stack.slack.wait_until(decided)


async def ephemeral_reply(stack: Stack, user: str, contains: str, timeout: float = 5.0) -> str:
    """Wait for an ephemeral message to ``user`` whose text contains ``contains``; returns its text."""

    def find() -> str | None:
        for message in stack.slack.ephemerals_for(user):
            text = message.text + " " + str(message.blocks)
            if contains.lower() in text.lower():
                return text
        return None

    return await stack.slack.wait_until(find, timeout)


async def dm_to(stack: Stack, user: str, contains: str, timeout: float = 5.0) -> str:
    """Wait for a DM to ``user`` containing ``contains``; returns its text and blocks."""

    def find() -> str | None:
        for message in stack.slack.dms_with(user):
            text = message.text + " " + str(message.blocks)
            if contains.lower() in text.lower():
                return text
        return None

    return await stack.slack.wait_until(find, timeout)


def dms_containing(stack: Stack, user: str, contains: str) -> int:
    """How many DMs sent to ``user`` said ``contains`` when they were posted (a later update, such as the
    Extend / Close buttons leaving once access ended, is not another DM)."""
    return sum(
        contains.lower() in (m.versions[0].text + str(m.versions[0].blocks)).lower() for m in stack.slack.dms_with(user)
    )
