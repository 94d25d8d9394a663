"""JIT disabled by Azure Policy, end to end: the demo world's vault-01 sits under a deny assignment.

Azure only says so when a JIT policy write is attempted, so the first `/jit enable vault-01` is refused with an
explanation naming the assignment; from then on `/jit list unsupported`, App Home and `/jit status` show the VM
as unsupported with that reason, and a later save succeeds once the assignment no longer denies it.
"""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from sandbox.arm_demo import LOCKED_DOWN_ASSIGNMENT
from sandbox.redis_server import RedisServer
from sandbox.slack_state import Message, View
from sandbox.slack_workspace import ADMIN, ENGINEER
from sandbox.stack import Stack
from tests.e2e.portal_support import (
    blocks_text,
    home_of,
    new_ephemeral,
    open_home,
    policy_entries,
    running_stack,
    top_view,
    view_text,
    vm_id,
)

SHOWN_ASSIGNMENT = f"`{LOCKED_DOWN_ASSIGNMENT}`"


@pytest.fixture
async def stack(redis_server: RedisServer) -> AsyncIterator[Stack]:
    """The demo world; lazy listeners finish before it closes."""
    async with running_stack(redis_server.url) as running:
        yield running


async def reply_to(stack: Stack, user: str, text: str) -> Message:
    """Run ``/jit {text}`` and return the ephemeral answer."""
    assert stack.driver is not None
    seen = len(stack.slack.ephemerals_for(user))
    await stack.driver.slash_command(user, text)
    return await new_ephemeral(stack, user, seen)


async def save_vault(stack: Stack, title: str) -> tuple[str, View]:
    """An admin opens the enable modal for vault-01 and saves the recommended ports; returns the modal's text as
    it opened, and the modal once it shows ``title``."""
    assert stack.driver is not None
    await stack.driver.slash_command(ADMIN, "enable vault-01")
    modal = await top_view(stack, ADMIN, "jit_policy_modal")
    opened = view_text(modal)
    answer = await stack.driver.submit_view(ADMIN, modal)
    assert answer.status == 200 and answer.acked_in_time and not answer.rejected
    await stack.slack.wait_until(lambda: modal.title == title)
    return opened, modal


async def test_a_refused_enable_is_explained_and_the_vm_is_then_listed_as_unsupported(stack: Stack) -> None:
    before = policy_entries(stack)
    listed = await reply_to(stack, ENGINEER, "list not-configured")
    assert "vault-01" in blocks_text(listed.blocks) and "Unsupported (5)" in blocks_text(listed.blocks)
    stack.arm.reset_calls()

    opened, refused = await save_vault(stack, "JIT not saved")
    assert "refused JIT" not in opened
    text = view_text(refused)
    assert "vault-01" in text and "was *not* changed" in text
    assert f"the Azure Policy assignment {SHOWN_ASSIGNMENT} does not allow just-in-time access" in text
    assert "ask the owner of that assignment for an exemption" in text
    assert "`/jit enable vault-01`" in text and "/jit edit" not in text, "vault-01 has no policy to edit"
    assert [(c.operation, c.status) for c in stack.arm.writes()] == [("jit.put", 403)]
    assert policy_entries(stack) == before
    [record] = [r async for r in stack.runtime.audit.entries() if r.event == "azure_policy_denied"]
    assert record.actor == ADMIN and record.detail["assignment"] == LOCKED_DOWN_ASSIGNMENT
    assert record.detail["vm"].lower() == vm_id(stack, "vault-01")

    unsupported = blocks_text((await reply_to(stack, ENGINEER, "list unsupported")).blocks)
    assert "Unsupported (6)" in unsupported and "Not configured (2)" in unsupported
    vault = next(line for line in unsupported.split("\n*") if line.startswith("vault-01*"))
    assert f"JIT is disabled by Azure Policy: the Azure Policy assignment {SHOWN_ASSIGNMENT} refused it" in vault
    assert "exemption covering the VM or its resource group" in vault
    still_open = blocks_text((await reply_to(stack, ADMIN, "list not-configured")).blocks)
    assert "vault-01" not in still_open and "build-01" in still_open

    status = blocks_text((await reply_to(stack, ENGINEER, "status vault-01")).blocks)
    assert "JIT cannot be used on this VM" in status and SHOWN_ASSIGNMENT in status

    await open_home(stack, ADMIN)
    home = view_text(await home_of(stack, ADMIN, lambda t: "*Unsupported*: 6 VMs" in t))
    assert "*Not configured*: 2 VMs" in home and "*Configured*: 5 VMs" in home


async def test_once_an_exemption_is_granted_the_next_save_enables_jit(stack: Stack) -> None:
    await save_vault(stack, "JIT not saved")
    stack.arm.inventory.vm("vault-01").jit_denied_by_policy = None

    opened, saved = await save_vault(stack, "JIT saved")
    assert f"{SHOWN_ASSIGNMENT} refused JIT on this VM" in opened and "Save will work" in opened
    assert "vault-01" in view_text(saved)
    assert vm_id(stack, "vault-01") in policy_entries(stack)
    configured = blocks_text((await reply_to(stack, ENGINEER, "list configured")).blocks)
    assert "*vault-01*" in configured and "Configured (6)" in configured and "Unsupported (5)" in configured
    assert [
        r.event async for r in stack.runtime.audit.entries() if r.event.startswith(("azure_policy", "policy_"))
    ] == [
        "azure_policy_denied",
        "policy_enabled",
    ]
