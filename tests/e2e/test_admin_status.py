"""`/jit status [vm]`: your own pending requests and open grants, or one VM's policy and what is open on it now."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from sandbox.redis_server import RedisServer
from sandbox.slack_state import Message
from sandbox.slack_workspace import APPROVAL_CHANNEL, APPROVER_1, ENGINEER
from sandbox.stack import DEFAULT_SOURCE, Stack
from tests.e2e.portal_support import blocks_text, new_ephemeral, running_stack


@pytest.fixture
async def stack(redis_server: RedisServer) -> AsyncIterator[Stack]:
    """The demo world; lazy listeners finish before it closes."""
    async with running_stack(redis_server.url) as running:
        yield running


async def status(stack: Stack, user: str, text: str = "status") -> str:
    """Run ``/jit {text}`` and return the text of the ephemeral answer."""
    assert stack.driver is not None
    seen = len(stack.slack.ephemerals_for(user))
    await stack.driver.slash_command(user, text)
    reply: Message = await new_ephemeral(stack, user, seen)
    return blocks_text(reply.blocks)


async def test_status_follows_a_request_from_pending_to_open(stack: Stack) -> None:
    assert stack.driver is not None
    assert "no pending requests and no open access" in await status(stack, ENGINEER)

    await stack.driver.slash_command(ENGINEER, "ssh web-01 1h fixing deploy")
    card = await stack.slack.wait_for_message(APPROVAL_CHANNEL, lambda m: bool(m.buttons()))
    pending = await status(stack, ENGINEER)
    assert "Waiting for approval* (1)" in pending and "`web-01`" in pending and "for 1h" in pending

    await stack.driver.click(APPROVER_1, card, "jit_approve")
    request_id = next(b.value for b in card.buttons() if b.action_id == "jit_approve")
    await stack.slack.wait_until(lambda: not stack.slack.message(APPROVAL_CHANNEL, card.ts).buttons())
    request = await stack.runtime.store.get(str(request_id))
    assert request is not None and request.state.value == "active"
    active = await status(stack, ENGINEER)
    assert "Open access* (1)" in active and "left" in active and "Waiting for approval* (0)" in active

    vm = await status(stack, APPROVER_1, "status web-01")
    assert "JIT status: web-01" in vm
    assert "22 (SSH) · any protocol · from `*` (any address) · up to 3h" in vm
    open_now = vm.split("*Open now*")[1]
    assert "22 (SSH)" in open_now and DEFAULT_SOURCE.split("/")[0] in open_now and "left" in open_now


async def test_status_of_a_vm_without_jit_or_that_cannot_have_it(stack: Stack) -> None:
    not_configured = await status(stack, ENGINEER, "status build-01")
    assert "JIT is not configured" in not_configured and "/jit enable build-01" in not_configured
    unsupported = await status(stack, ENGINEER, "status legacy-app")
    assert "JIT cannot be used on this VM" in unsupported and "network security group" in unsupported
    closed = await status(stack, ENGINEER, "status web-02")
    assert "Nothing: every JIT port is closed." in closed


async def test_status_of_an_unknown_vm_says_so(stack: Stack) -> None:
    answer = await status(stack, ENGINEER, "status ghost-01")
    assert "ghost-01" in answer and "/jit list" in answer
