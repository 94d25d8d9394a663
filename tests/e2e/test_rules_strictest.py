"""Tags cannot loosen approval, in the running bot: someone who may only edit a VM's tags adds a tag that a lax rule
matches, and the VM keeps every requirement of its scope rule (or of the default route). And a deny group that
cannot be read stops automatic approval instead of silently dropping out of the deny list."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

from jit.clock import ManualClock
from jit.model import RequestState
from sandbox.redis_server import RedisServer
from sandbox.slack_workspace import APPROVAL_CHANNEL, APPROVER_1, APPROVER_2, ENGINEER, ONCALL
from sandbox.stack import Stack
from tests.e2e.flow import dm_to, driver_of, ephemeral_reply, request_card, wait_card_decided
from tests.e2e.lifecycle_support import advance, current, initiates, lifecycle_stack

# The lax rule comes first: with "first match wins" a tag alone would have been the way in.
RULES = """
rules:
  - name: lab-tag
    match: {tags: {env: lab}}
    requesters: []
    quorum: 1
    max_duration: 8h
    auto_approve: {max_duration: 4h}
  - name: prod-data
    match: {resource_group: rg-data}
    approvers: [S0APPROVRS]
    quorum: 2
    ticket_pattern: 'INC-\\d+'
    max_duration: 1h
"""
DENY = """
rules:
  - name: web-oncall
    match: {resource_group: rg-web}
    auto_approve:
      requesters: [S0ONCALLRS]
      deny: [U0CONTRACT1, {deny}]
      max_duration: 1h
"""


async def _tag(stack: Stack, clock: ManualClock, vm: str, **tags: str) -> None:
    """What a Tag Contributor can do in Azure; the bot sees it once its one-minute cache of VMs has expired."""
    stack.arm.inventory.vm(vm).tags.update(tags)
    await advance(stack, clock, timedelta(seconds=61))


async def test_a_lax_tag_on_a_production_vm_does_not_lower_its_approval_requirements(
    redis_server: RedisServer, tmp_path: Path
) -> None:
    clock = ManualClock()
    async with lifecycle_stack(redis_server, clock, tmp_path, rules=RULES) as stack:
        driver = driver_of(stack)
        await _tag(stack, clock, "db-01", env="lab")

        await driver.slash_command(ENGINEER, "ssh db-01 3h INC-7 long job")
        assert "at most 1h" in await ephemeral_reply(stack, ENGINEER, "is longer than allowed")
        await driver.slash_command(ENGINEER, "ssh db-01 1h no ticket here")
        await ephemeral_reply(stack, ENGINEER, "must mention a ticket matching")
        card, request_id = await request_card(stack, ENGINEER, "ssh db-01 1h INC-7 vacuum")

        request = await current(stack, request_id)
        assert request.state is RequestState.PENDING and "auto_approved" not in request.extra
        assert request.extra["route"] == "prod-data+lab-tag" and request.extra["quorum"] == "2"
        assert request.card_channel == APPROVAL_CHANNEL and initiates(stack) == 0

        await driver.click(APPROVER_1, card, "jit_approve", request_id)
        await ephemeral_reply(stack, APPROVER_1, "1 of 2")
        assert (await current(stack, request_id)).state is RequestState.PENDING and initiates(stack) == 0
        await driver.click(APPROVER_2, card, "jit_approve", request_id)

        await wait_card_decided(stack, card)
        await dm_to(stack, ENGINEER, "is open")
        assert initiates(stack) == 1

        await driver.slash_command(ENGINEER, "help db-01")
        explained = await ephemeral_reply(stack, ENGINEER, "rules combined")
        assert "rule `prod-data` (matches resource group rg-data)" in explained
        assert "rule `lab-tag` (matches tag env=lab), through its tags" in explained
        assert "Needs 2 distinct approvals" in explained and "Granted automatically" not in explained


async def test_a_lax_tag_on_a_vm_no_rule_matches_keeps_the_default_route(
    redis_server: RedisServer, tmp_path: Path
) -> None:
    clock = ManualClock()
    async with lifecycle_stack(redis_server, clock, tmp_path, rules=RULES) as stack:
        await _tag(stack, clock, "web-01", env="lab")

        card, request_id = await request_card(stack, ENGINEER, "ssh web-01 1h deploy")

        request = await current(stack, request_id)
        assert request.state is RequestState.PENDING and request.extra["route"] == "default+lab-tag"
        assert card.buttons() and initiates(stack) == 0


async def test_a_deny_group_that_cannot_be_read_sends_the_request_to_a_person(
    redis_server: RedisServer, tmp_path: Path
) -> None:
    async with lifecycle_stack(redis_server, ManualClock(), tmp_path, rules=DENY.replace("{deny}", "S0DELETED1")) as s:
        card, request_id = await request_card(s, ONCALL, "ssh web-01 1h disk full")

        request = await current(s, request_id)
        assert request.state is RequestState.PENDING and "auto_approved" not in request.extra
        assert card.buttons() and initiates(s) == 0
        [withheld] = [r async for r in s.runtime.audit.entries() if r.event == "auto_approval_withheld"]
        assert withheld.actor == ONCALL
        assert withheld.detail["rule"] == "web-oncall" and withheld.detail["groups"] == "S0DELETED1:no_such_subteam"

    async with lifecycle_stack(redis_server, ManualClock(), tmp_path, rules=DENY.replace("{deny}", "S0APPROVRS")) as s:
        await driver_of(s).slash_command(ONCALL, "ssh web-01 1h disk full")

        await dm_to(s, ONCALL, "is open")
        assert initiates(s) == 1
