"""Two engineers on one VM: the port's window is shared with a colleague from the same source, taken over (and
said so) from another source, and closing or extending one grant never shortens the other's access."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from jit.clock import ManualClock
from jit.model import RequestState
from sandbox.redis_server import RedisServer
from sandbox.slack_workspace import ADMIN, APPROVAL_CHANNEL, APPROVER_1, APPROVER_2, ENGINEER, ONCALL_CHANNEL
from sandbox.stack import DEFAULT_SOURCE, Stack
from tests.e2e.flow import card_now, dm_to, dms_containing, driver_of, ephemeral_reply, request_card
from tests.e2e.lifecycle_support import (
    advance,
    current,
    dm_with_button,
    events,
    granted,
    initiates,
    lifecycle_stack,
    posts,
    wait_request,
)
from tests.e2e.portal_support import blocks_text, home_of, new_ephemeral, open_home, view_text

HOME_IP = "198.51.100.7/32"


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock()


@pytest.fixture
async def stack(redis_server: RedisServer, clock: ManualClock, tmp_path: Path) -> AsyncIterator[Stack]:
    async with lifecycle_stack(redis_server, clock, tmp_path) as running:
        yield running


def last_initiate(stack: Stack) -> dict[int, Any]:
    """The last initiate's ports by number: source and end time as sent."""
    body = [c for c in stack.arm.calls if c.operation == "jit.initiate"][-1].body
    return {p["number"]: p for p in body["virtualMachines"][0]["ports"]}


def sent_end(port: dict[str, Any]) -> datetime:
    return datetime.fromisoformat(str(port["endTimeUtc"]).replace("Z", "+00:00"))


def allow_rules(stack: Stack, port: int, vm: str = "web-01") -> list[dict[str, Any]]:
    """JIT's allow rules for ``port`` on ``vm`` in web-nsg (web-01 and web-02 share it)."""
    target = stack.arm.inventory.vm(vm)
    nsg = stack.arm.inventory.nsg(target.subscription_id, "rg-web", "web-nsg")
    assert nsg is not None
    return [
        r
        for r in nsg.rules
        if r["properties"]["access"] == "Allow"
        and r["properties"]["destinationPortRange"] == str(port)
        and r["properties"]["destinationAddressPrefix"] == target.private_ip
    ]


async def test_a_colleague_from_the_same_source_never_shortens_the_first_holders_access(
    stack: Stack, clock: ManualClock
) -> None:
    _, alice = await granted(stack, "ssh web-01 3h migrating", user=ENGINEER, approver=APPROVER_1)
    alice_end = (await current(stack, alice)).ends_at
    assert alice_end is not None
    await advance(stack, clock, timedelta(minutes=10))

    card, bob = await request_card(stack, APPROVER_2, "ssh web-01 1h checking logs")
    assert "Shared window" in str(card.blocks) and ENGINEER in str(card.blocks), "approvers see the shared window"
    await driver_of(stack).click(APPROVER_1, card, "jit_approve", bob)
    await dm_to(stack, APPROVER_2, "is open")

    sent = last_initiate(stack)[22]
    assert sent["allowedSourceAddressPrefix"] == DEFAULT_SOURCE
    assert sent_end(sent) == alice_end, "the later of the two ends, so alice keeps her access"
    bob_grant = await current(stack, bob)
    assert bob_grant.ends_at == clock.now() + timedelta(hours=1), "bob keeps his own end"
    assert (await current(stack, alice)).ends_at == alice_end

    await advance(stack, clock, timedelta(minutes=46))
    await dm_to(stack, APPROVER_2, "closes in")
    assert dms_containing(stack, ENGINEER, "closes in") == 0, "each holder is reminded at their own end"
    await advance(stack, clock, timedelta(minutes=15))
    await dm_to(stack, APPROVER_2, "has ended")
    assert (await current(stack, bob)).state is RequestState.EXPIRED
    assert (await current(stack, alice)).state is RequestState.ACTIVE
    stack.arm.expire_windows()
    assert allow_rules(stack, 22), "the port stays open for alice"

    await advance(stack, clock, alice_end - clock.now())
    await dm_to(stack, ENGINEER, "has ended")
    stack.arm.expire_windows()
    assert allow_rules(stack, 22) == []


async def test_closing_the_longer_grant_shortens_the_window_to_the_colleagues_end(
    stack: Stack, clock: ManualClock
) -> None:
    _, alice = await granted(stack, "ssh web-01 3h migrating", user=ENGINEER, approver=APPROVER_1)
    _, bob = await granted(stack, "ssh web-01 1h logs", user=APPROVER_2, approver=APPROVER_1)
    bob_end = (await current(stack, bob)).ends_at
    revoke = dm_with_button(stack, ENGINEER, "jit_revoke", alice)
    assert revoke is not None
    stack.arm.reset_calls()

    await driver_of(stack).click(ENGINEER, revoke, "jit_revoke", alice)

    await wait_request(stack, alice, lambda r: r.state is RequestState.REVOKED)
    await dm_to(stack, ENGINEER, "closed early")
    assert [c.operation for c in stack.arm.writes()] == ["jit.initiate"], "no NSG rule deleted: bob still needs it"
    assert sent_end(last_initiate(stack)[22]) == bob_end
    assert allow_rules(stack, 22)
    assert (await current(stack, bob)).state is RequestState.ACTIVE
    assert "access_closed" in await events(stack, alice)


async def test_closing_the_shorter_grant_leaves_the_colleagues_window_alone(stack: Stack) -> None:
    _, alice = await granted(stack, "ssh web-01 3h migrating", user=ENGINEER, approver=APPROVER_1)
    _, bob = await granted(stack, "ssh web-01 1h logs", user=APPROVER_2, approver=APPROVER_1)
    revoke = dm_with_button(stack, APPROVER_2, "jit_revoke", bob)
    assert revoke is not None
    stack.arm.reset_calls()

    await driver_of(stack).click(APPROVER_2, revoke, "jit_revoke", bob)

    await dm_to(stack, APPROVER_2, "closed early")
    assert stack.arm.writes() == []
    assert allow_rules(stack, 22)
    assert (await current(stack, alice)).state is RequestState.ACTIVE


async def test_the_last_holder_closing_deletes_only_this_vms_rule(stack: Stack) -> None:
    _, alice = await granted(stack, "ssh web-01 1h", user=ENGINEER, approver=APPROVER_1)
    _, bob = await granted(stack, "ssh web-02 1h", user=APPROVER_2, approver=APPROVER_1)
    assert allow_rules(stack, 22, "web-01") and allow_rules(stack, 22, "web-02"), "one NSG guards both VMs"
    revoke = dm_with_button(stack, ENGINEER, "jit_revoke", alice)
    assert revoke is not None
    stack.arm.reset_calls()

    await driver_of(stack).click(ENGINEER, revoke, "jit_revoke", alice)

    await dm_to(stack, ENGINEER, "closed early")
    assert [c.operation for c in stack.arm.writes()] == ["network.nsg.rule.delete"]
    assert allow_rules(stack, 22, "web-01") == []
    assert allow_rules(stack, 22, "web-02"), "web-02's rule has the same source and port but another destination"
    assert (await current(stack, bob)).state is RequestState.ACTIVE


async def test_another_source_takes_the_port_and_the_previous_holder_is_told(stack: Stack, clock: ManualClock) -> None:
    alice_card, alice = await granted(stack, "ssh web-01 2h migrating", user=ENGINEER, approver=APPROVER_1)

    card, bob = await request_card(stack, APPROVER_2, f"ssh web-01 1h from {HOME_IP} on call from home")
    warning = str(card.blocks)
    assert "Approving closes someone else" in warning and ENGINEER in warning and DEFAULT_SOURCE in warning
    await driver_of(stack).click(APPROVER_1, card, "jit_approve", bob)
    await dm_to(stack, APPROVER_2, "is open")

    taken = await wait_request(stack, alice, lambda r: r.state is RequestState.SUPERSEDED)
    assert taken.extra["superseded_by"] == APPROVER_2 and taken.extra["superseded_request"] == bob
    dm = await dm_to(stack, ENGINEER, "closed by")
    assert APPROVER_2 in dm and "198.51.100.7" in dm
    again = dm_with_button(stack, ENGINEER, "jit_rerequest", alice)
    assert again is not None, "one click to ask again"
    audit = await stack.runtime.audit.for_request(alice)
    superseded = [r for r in audit if r.event == "superseded"]
    assert superseded and superseded[0].detail["taken_by"] == APPROVER_2
    assert superseded[0].detail["taken_from"] == HOME_IP
    await stack.slack.wait_until(lambda: posts(stack, ONCALL_CHANNEL, "closed by") or None)

    await advance(stack, clock, timedelta(minutes=110))
    await stack.runtime.scheduler.tick()
    assert dms_containing(stack, ENGINEER, "closes in") == 0, "no reminder for access that is gone"
    assert dms_containing(stack, ENGINEER, "has ended") == 0
    assert "Closed by a newer grant" in str(card_now(stack, alice_card).blocks)


async def test_ask_again_makes_a_new_request_with_the_same_access(stack: Stack) -> None:
    _, alice = await granted(stack, "ssh web-01 2h migrating", user=ENGINEER, approver=APPROVER_1)
    card, bob = await request_card(stack, APPROVER_2, f"ssh web-01 1h from {HOME_IP}")
    await driver_of(stack).click(APPROVER_1, card, "jit_approve", bob)
    await wait_request(stack, alice, lambda r: r.state is RequestState.SUPERSEDED)
    await dm_to(stack, ENGINEER, "closed by")
    await stack.slack.wait_until(lambda: dm_with_button(stack, ENGINEER, "jit_revoke", alice) is None or None)
    again = dm_with_button(stack, ENGINEER, "jit_rerequest", alice)
    assert again is not None, "Close leaves the access DM; Ask again stays"

    await driver_of(stack).click(ENGINEER, again, "jit_rerequest", alice)

    new_card = await stack.slack.wait_until(
        lambda: next(
            (
                m
                for m in reversed(stack.slack.messages_in(APPROVAL_CHANNEL))
                if any(b.action_id == "jit_approve" for b in m.buttons()) and ENGINEER in str(m.blocks)
            ),
            None,
        )
    )
    assert "Approving closes someone else" in str(new_card.blocks), "now bob holds the port"
    mine = await stack.runtime.store.by_requester(ENGINEER, [RequestState.PENDING])
    assert len(mine) == 1 and mine[0].ports == (22,) and mine[0].source == DEFAULT_SOURCE
    assert mine[0].reason == "migrating"


async def test_a_grant_losing_one_of_two_ports_keeps_the_other(stack: Stack) -> None:
    _, alice = await granted(stack, "ssh,8080 web-01 1h two ports", user=ENGINEER, approver=APPROVER_1)
    card, bob = await request_card(stack, APPROVER_2, f"ssh web-01 30m from {HOME_IP}")

    await driver_of(stack).click(APPROVER_1, card, "jit_approve", bob)

    grant = await wait_request(stack, alice, lambda r: r.lost_ports == (22,))
    assert grant.state is RequestState.ACTIVE and grant.open_ports == (8080,)
    dm = await dm_to(stack, ENGINEER, "stays open")
    assert "8080" in dm
    assert "ports_lost" in await events(stack, alice)
    assert allow_rules(stack, 8080)


async def test_a_loss_found_again_by_the_sync_is_recorded_and_told_once(stack: Stack) -> None:
    """The approval records the loss; the periodic sync finding it again changes nothing and tells nobody twice."""
    _, alice = await granted(stack, "ssh web-01 2h", user=ENGINEER, approver=APPROVER_1)
    card, bob = await request_card(stack, APPROVER_2, f"ssh web-01 1h from {HOME_IP}")
    await driver_of(stack).click(APPROVER_1, card, "jit_approve", bob)
    await wait_request(stack, alice, lambda r: r.state is RequestState.SUPERSEDED)
    await dm_to(stack, ENGINEER, "closed by")

    await stack.runtime.service.sync_with_azure()

    assert dms_containing(stack, ENGINEER, "closed by") == 1
    assert (await events(stack, alice)).count("superseded") == 1
    assert initiates(stack) == 2


@pytest.mark.parametrize("choice", ["refuse", "queue"])
async def test_a_rule_can_refuse_or_queue_instead_of_taking_the_port(
    redis_server: RedisServer, clock: ManualClock, tmp_path: Path, choice: str
) -> None:
    rules = f"rules:\n  - name: web-careful\n    match: {{resource_group: rg-web}}\n    on_conflict: {choice}\n"
    async with lifecycle_stack(redis_server, clock, tmp_path, rules=rules) as stack:
        _, alice = await granted(stack, "ssh web-01 1h", user=ENGINEER, approver=APPROVER_1)
        alice_end = (await current(stack, alice)).ends_at
        assert alice_end is not None

        if choice == "refuse":
            await driver_of(stack).slash_command(APPROVER_2, f"ssh web-01 1h from {HOME_IP}")
            reply = await ephemeral_reply(stack, APPROVER_2, "in use by")
            assert "web-careful" in reply
            assert await stack.runtime.store.by_requester(APPROVER_2) == []
            return

        card, bob = await request_card(stack, APPROVER_2, f"ssh web-01 1h from {HOME_IP}")
        await driver_of(stack).click(APPROVER_1, card, "jit_approve", bob)
        queued = await wait_request(stack, bob, lambda r: bool(r.extra.get("queued_until")))
        assert queued.state is RequestState.APPROVED
        await dm_to(stack, APPROVER_2, "Waiting for the port")
        assert (await current(stack, alice)).state is RequestState.ACTIVE, "alice keeps her access"
        assert initiates(stack) == 1

        await advance(stack, clock, alice_end - clock.now())
        opened = await wait_request(stack, bob, lambda r: r.state is RequestState.ACTIVE)
        assert opened.ends_at == clock.now() + timedelta(hours=1), "the window starts when Azure opens it"
        assert last_initiate(stack)[22]["allowedSourceAddressPrefix"] == HOME_IP
        assert (await current(stack, alice)).state is RequestState.EXPIRED


async def _reply(stack: Stack, user: str, text: str) -> str:
    """``/jit text`` as ``user``; the text of the ephemeral answer."""
    seen = len(stack.slack.ephemerals_for(user))
    await driver_of(stack).slash_command(user, text)
    reply = await new_ephemeral(stack, user, seen)
    return blocks_text(reply.blocks)


async def test_status_home_and_the_inventory_show_both_holders(stack: Stack) -> None:
    _, alice = await granted(stack, "ssh web-01 3h migrating", user=ENGINEER, approver=APPROVER_1)
    _, bob = await granted(stack, "ssh web-01 1h logs", user=APPROVER_2, approver=APPROVER_1)

    approver_view = (await _reply(stack, APPROVER_1, "status web-01")).split("*Open now*")[1]
    assert ENGINEER in approver_view and APPROVER_2 in approver_view and DEFAULT_SOURCE in approver_view

    own = await _reply(stack, ENGINEER, "status")
    assert "Shared from the same source with" in own and APPROVER_2 in own

    inventory = await _reply(stack, ADMIN, "list configured web")
    assert "Open now" in inventory and ENGINEER in inventory and APPROVER_2 in inventory

    await open_home(stack, APPROVER_2)
    home = await home_of(stack, APPROVER_2, lambda text: "Shared from the same source" in text)
    assert ENGINEER in view_text(home)
    assert {alice, bob} <= {r.id for r in await stack.runtime.store.by_state(RequestState.ACTIVE)}


async def test_other_peoples_sources_are_shown_only_to_approvers_and_admins(stack: Stack) -> None:
    await granted(stack, f"ssh web-01 1h from {HOME_IP} on call", user=APPROVER_2, approver=APPROVER_1)

    engineer_view = await _reply(stack, ENGINEER, "status web-01")

    open_now = engineer_view.split("*Open now*")[1]
    assert "in use by 1 person" in open_now and "left" in open_now
    assert "198.51.100.7" not in engineer_view and APPROVER_2 not in engineer_view
    assert "198.51.100.7" in await _reply(stack, APPROVER_1, "status web-01")


async def test_status_of_a_vm_is_served_from_the_cache(stack: Stack) -> None:
    await granted(stack, "ssh web-01 1h", user=ENGINEER, approver=APPROVER_1)
    await _reply(stack, APPROVER_1, "status web-01")
    stack.arm.reset_calls()

    again = await _reply(stack, APPROVER_1, "status web-01")

    assert "Open now" in again
    assert stack.arm.reads() == [], "no ARM read per call within the cache's lifetime"


async def test_after_a_revoke_status_no_longer_lists_the_closed_ports(stack: Stack) -> None:
    """Found by a new user: after a revoke, `/jit status bastion-win` still listed 5985 and 5986 as open."""
    _, alice = await granted(stack, "winrm bastion-win 1h patching", user=ENGINEER, approver=APPROVER_1)
    assert "5985" in (await _reply(stack, APPROVER_1, "status bastion-win")).split("*Open now*")[1]
    revoke = dm_with_button(stack, ENGINEER, "jit_revoke", alice)
    assert revoke is not None

    await driver_of(stack).click(ENGINEER, revoke, "jit_revoke", alice)
    await dm_to(stack, ENGINEER, "closed early")

    after = await _reply(stack, APPROVER_1, "status bastion-win")
    assert "Nothing: every JIT port is closed." in after
