"""What jitbot says follows the request's state, through the real bot and the emulators: a repeated cancel, a
request granted at once, and Extend / Close buttons that leave the DMs once access has ended."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import timedelta
from functools import partial
from pathlib import Path

import pytest

from jit.clock import ManualClock
from jit.model import RequestState
from sandbox.redis_server import RedisServer
from sandbox.slack_state import Message
from sandbox.slack_workspace import ENGINEER, ONCALL, ONCALL_CHANNEL
from sandbox.stack import Stack
from tests.e2e.flow import dm_to, driver_of, request_card
from tests.e2e.lifecycle_support import advance, current, dm_with_button, granted, lifecycle_stack, wait_request
from tests.e2e.portal_support import new_ephemeral

AUTO_RULES = """
rules:
  - name: prod-web
    match: {resource_group: rg-web}
    auto_approve: {requesters: [U0ONCALL01], max_duration: 1h, ports: [ssh]}
"""


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock()


@pytest.fixture
async def stack(redis_server: RedisServer, clock: ManualClock, tmp_path: Path) -> AsyncIterator[Stack]:
    env = {"JITBOT_ONCALL_CHANNEL": ONCALL_CHANNEL}
    async with lifecycle_stack(redis_server, clock, tmp_path, rules=AUTO_RULES, env=env) as running:
        yield running


async def reply_to(stack: Stack, user: str, text: str) -> str:
    """``user`` runs ``/jit text``; the text of the ephemeral answer."""
    seen = len(stack.slack.ephemerals_for(user))
    await driver_of(stack).slash_command(user, text)
    answer = await new_ephemeral(stack, user, seen)
    return answer.text + " " + str(answer.blocks)


async def test_a_second_cancel_says_it_was_already_cancelled_and_offers_nothing(stack: Stack) -> None:
    _, request_id = await request_card(stack, ENGINEER, "ssh web-01 1h deploy")

    first = await reply_to(stack, ENGINEER, f"cancel {request_id}")
    second = await reply_to(stack, ENGINEER, f"cancel {request_id}")

    assert "is cancelled" in first and "already cancelled" in second
    for reply in (first, second):
        assert "/jit cancel" not in reply and "when it is decided" not in reply
    assert (await current(stack, request_id)).state is RequestState.CANCELLED


async def test_a_request_approved_by_its_rule_is_not_confirmed_as_waiting(stack: Stack) -> None:
    reply = await reply_to(stack, ONCALL, "ssh web-01 30m quick look")

    assert "/jit cancel" not in reply and "when it is decided" not in reply
    request = (await stack.runtime.store.by_requester(ONCALL))[-1]
    assert request.extra.get("auto_approved") == "prod-web"


def without_buttons(stack: Stack, user: str, ts: str) -> Message | None:
    """The DM ``ts`` to ``user`` once it no longer has buttons."""
    message = next(m for m in stack.slack.dms_with(user) if m.ts == ts)
    return None if message.buttons() else message


async def test_extend_and_close_leave_every_dm_and_post_once_access_expired(stack: Stack, clock: ManualClock) -> None:
    _, request_id = await granted(stack, "ssh web-01 1h deploy")
    access_dm = dm_with_button(stack, ENGINEER, "jit_extend", request_id)
    assert access_dm is not None
    await advance(stack, clock, timedelta(minutes=46))
    await dm_to(stack, ENGINEER, "closes")
    await wait_request(stack, request_id, lambda r: len(r.extra.get("button_posts", "").split(",")) == 3)
    reminder_dm = dm_with_button(stack, ENGINEER, "jit_extend", request_id)
    assert reminder_dm is not None and reminder_dm.ts != access_dm.ts
    reminder_post = next(m for m in stack.slack.messages_in(ONCALL_CHANNEL) if "closes" in m.text)
    assert reminder_post.buttons()

    await advance(stack, clock, timedelta(minutes=15))

    for dm in (access_dm, reminder_dm):
        ended = await stack.slack.wait_until(partial(without_buttons, stack, ENGINEER, dm.ts))
        assert "Access ended" in str(ended.blocks)
    await stack.slack.wait_until(
        lambda: None if stack.slack.message(ONCALL_CHANNEL, reminder_post.ts).buttons() else True
    )
    assert (await current(stack, request_id)).state is RequestState.EXPIRED


async def test_closing_from_the_dm_takes_the_buttons_away(stack: Stack) -> None:
    _, request_id = await granted(stack, "ssh web-01 1h deploy")
    access_dm = dm_with_button(stack, ENGINEER, "jit_revoke", request_id)
    assert access_dm is not None

    await driver_of(stack).click(ENGINEER, access_dm, "jit_revoke", request_id)

    ended = await stack.slack.wait_until(lambda: without_buttons(stack, ENGINEER, access_dm.ts))
    assert "Access revoked" in str(ended.blocks)
