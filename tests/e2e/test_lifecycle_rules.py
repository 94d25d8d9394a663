"""Routing rules from JITBOT_RULES_FILE in the running bot: who may ask, who approves where, limits, tickets,
`/jit help <vm>`, and a broken file that stops the start."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from jit.clock import ManualClock
from jit.model import RequestState
from jit.rules import RulesError
from sandbox.redis_server import RedisServer
from sandbox.slack_workspace import (
    ADMIN,
    APPROVAL_CHANNEL,
    APPROVER_1,
    APPROVER_GROUP,
    ENGINEER,
    ONCALL,
    ONCALL_CHANNEL,
)
from sandbox.stack import Stack, StackOptions
from tests.e2e.flow import dm_to, driver_of, ephemeral_reply
from tests.e2e.lifecycle_support import current, has_button, lifecycle_stack, wait_post

RULES = """
rules:
  - name: prod-data
    match:
      resource_group: rg-data
    requesters: [U0ENGINE01, U0ADMIN001]
    approvers: [U0ADMIN001]
    approval_channel: C0ONCALL01
    max_duration: 1h
    ticket_pattern: 'INC-\\d+'
"""


@pytest.fixture
async def stack(redis_server: RedisServer, tmp_path: Path) -> AsyncIterator[Stack]:
    async with lifecycle_stack(redis_server, ManualClock(), tmp_path, rules=RULES) as running:
        yield running


async def test_a_matching_rule_routes_to_its_own_approvers_and_channel(stack: Stack) -> None:
    await driver_of(stack).slash_command(ENGINEER, "ssh db-01 1h INC-42 vacuum")

    card = await wait_post(stack, ONCALL_CHANNEL, has_button("jit_approve"))
    request_id = next(str(b.value) for b in card.buttons() if b.action_id == "jit_approve")
    assert not any(has_button("jit_approve")(m) for m in stack.slack.messages_in(APPROVAL_CHANNEL))
    request = await current(stack, request_id)
    assert request.extra["route"] == "prod-data" and request.card_channel == ONCALL_CHANNEL

    await driver_of(stack).click(APPROVER_1, card, "jit_approve", request_id)
    await ephemeral_reply(stack, APPROVER_1, "not one of the approvers")
    await driver_of(stack).click(ADMIN, card, "jit_approve", request_id)

    await dm_to(stack, ENGINEER, "is open")
    assert (await current(stack, request_id)).approver == ADMIN


async def test_a_rule_refuses_what_it_does_not_allow(stack: Stack) -> None:
    await driver_of(stack).slash_command(ONCALL, "ssh db-01 1h INC-1 curious")
    await ephemeral_reply(stack, ONCALL, "not allowed to request access to `db-01` (rule `prod-data`)")

    await driver_of(stack).slash_command(ENGINEER, "ssh db-01 1h no ticket here")
    await ephemeral_reply(stack, ENGINEER, "must mention a ticket matching")

    await driver_of(stack).slash_command(ENGINEER, "ssh db-01 90m INC-7 long job")
    reply = await ephemeral_reply(stack, ENGINEER, "is longer than allowed")
    assert "at most 1h" in reply

    assert await stack.runtime.store.by_requester(ENGINEER) == []
    assert stack.arm.writes() == []


async def test_a_vm_without_jit_is_told_so_before_being_asked_for_a_ticket(stack: Stack) -> None:
    await driver_of(stack).slash_command(ENGINEER, "ssh db-02 1h no ticket here")

    reply = await ephemeral_reply(stack, ENGINEER, "not configured for `db-02`")
    assert "ticket" not in reply.lower()
    assert await stack.runtime.store.by_requester(ENGINEER) == []


async def test_a_vm_no_rule_matches_keeps_the_environment_route(stack: Stack) -> None:
    await driver_of(stack).slash_command(ONCALL, "ssh web-01 1h no ticket needed")

    card = await wait_post(stack, APPROVAL_CHANNEL, has_button("jit_approve"))
    request_id = next(str(b.value) for b in card.buttons() if b.action_id == "jit_approve")
    request = await current(stack, request_id)
    assert request.extra["route"] == "default" and request.state is RequestState.PENDING


async def test_help_shows_the_rule_that_applies_to_a_vm(stack: Stack) -> None:
    await driver_of(stack).slash_command(ENGINEER, "help db-01")
    text = await ephemeral_reply(stack, ENGINEER, "follows rule")
    assert "prod-data" in text and "resource group rg-data" in text and "Longest window: 1h" in text

    await driver_of(stack).slash_command(ENGINEER, "help web-01")
    text = await ephemeral_reply(stack, ENGINEER, "rule `default` (the default)")
    assert "Who may ask: everyone" in text
    assert f"one approval from <!subteam^{APPROVER_GROUP}> in <#{APPROVAL_CHANNEL}>." in text


async def test_a_broken_rules_file_stops_the_start_naming_the_line(redis_server: RedisServer, tmp_path: Path) -> None:
    path = tmp_path / "rules.yaml"
    path.write_text("rules:\n  - name: x\n    quorum: lots\n", encoding="utf-8")
    stack = Stack(StackOptions(redis_url=redis_server.url, env={"JITBOT_RULES_FILE": str(path)}))

    try:
        with pytest.raises(RulesError) as caught:
            await stack.start()
    finally:
        await stack.close()

    assert caught.value.problems == [f"{path}:3: `quorum` must be a whole number from 1 to 10, not 'lots'"]
