"""A JIT policy is one document per resource group and region that everyone writes: an admin's save never loses
another writer's change (the portal's, the CLI's, another jitbot replica's), and says exactly what happened when
it cannot save safely."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import pytest

from sandbox.arm_inventory import VirtualMachine
from sandbox.arm_outside import PortalUser
from sandbox.redis_server import RedisServer
from sandbox.slack_state import View
from sandbox.slack_workspace import ADMIN, APPROVER_1
from sandbox.stack import Stack
from tests.e2e.portal_support import policy_entries, running_stack, top_view, view_text, vm_id
from tests.reliability.world import World

CAROL = "carol@contoso.com"
SSH_ONLY = [{"number": 22, "protocol": "*", "allowedSourceAddressPrefix": "*", "maxRequestAccessDuration": "PT3H"}]


@pytest.fixture
async def stack(redis_server: RedisServer) -> AsyncIterator[Stack]:
    async with running_stack(redis_server.url) as running:
        yield running


def policy_id(stack_or_world: Stack | World, vm: str) -> str:
    found = stack_or_world.arm.inventory.policy_covering(stack_or_world.arm.inventory.vm(vm))
    assert found is not None
    return found.id


def portal_adds(arm_owner: Stack, policy: str, vm: str) -> Callable[[], Awaitable[None]]:
    """Carol adds ``vm`` to ``policy`` in the portal (a GET and a PUT of the whole document)."""

    async def write() -> None:
        async with PortalUser(arm_owner.arm, CAROL) as carol:
            await carol.add_vm(policy, arm_owner.arm.inventory.vm(vm).id, SSH_ONLY)

    return write


async def save(
    stack: Stack, text: str, values: dict[str, Any] | None = None, *, meanwhile: Callable[[], None] = lambda: None
) -> View:
    """``/jit <text>`` as the admin, then Save in the modal it opens (``meanwhile`` runs once the modal is open);
    the modal once the save finished."""
    assert stack.driver is not None
    await stack.driver.slash_command(ADMIN, text)
    callback = "jit_disable_modal" if text.startswith("disable") else "jit_policy_modal"
    modal = await top_view(stack, ADMIN, callback)
    meanwhile()
    await stack.driver.submit_view(ADMIN, modal, values or {})
    finished = {"JIT saved", "JIT not saved", "JIT disabled", "JIT not changed"}
    return await stack.slack.wait_until(lambda: modal if modal.title in finished else None, timeout=15)


async def test_a_portal_edit_between_jitbots_read_and_write_survives(stack: Stack) -> None:
    before = policy_entries(stack)
    web = policy_id(stack, "web-01")

    def carol_adds_build01() -> None:
        stack.arm.interleave("jit.list_subscription", portal_adds(stack, web, "build-01"))

    done = await save(stack, "edit web-01", {"port_1_max": "2h"}, meanwhile=carol_adds_build01)

    assert done.title == "JIT saved", view_text(done)
    after = policy_entries(stack)
    assert vm_id(stack, "build-01") in after, "carol's change survived"
    assert json.loads(after[vm_id(stack, "web-01")])["ports"][1]["maxRequestAccessDuration"] == "PT2H"
    for name in ("web-02", "bastion-win"):
        assert after[vm_id(stack, name)] == before[vm_id(stack, name)], "every other entry byte-for-byte"
    writes = [c.operation for c in stack.arm.writes()]
    assert writes.count("jit.put") == 2, "carol's PUT and jitbot's one PUT, made on the fresh document"


async def test_disabling_the_last_vm_keeps_a_policy_someone_just_added_a_vm_to(stack: Stack) -> None:
    data = policy_id(stack, "db-01")
    await save(stack, "disable rg-data/db-01")

    def carol_adds_db02() -> None:
        stack.arm.interleave("jit.list_subscription", portal_adds(stack, data, "db-02"))

    done = await save(stack, "disable analytics-win", meanwhile=carol_adds_db02)

    assert done.title == "JIT disabled", view_text(done)
    after = policy_entries(stack)
    assert vm_id(stack, "analytics-win") not in after
    assert vm_id(stack, "db-02") in after, "the policy was not deleted under carol's new VM"
    assert "jit.delete" not in [c.operation for c in stack.arm.writes()]


async def test_a_writer_who_never_stops_gets_nothing_overwritten_and_the_admin_is_told(stack: Stack) -> None:
    web = policy_id(stack, "web-01")
    before = policy_entries(stack)
    durations = iter(["PT1H", "PT2H", "PT4H", "PT5H"])

    async def carol_keeps_editing_bastion() -> None:
        async with PortalUser(stack.arm, CAROL) as carol:
            current = await carol.get_policy(web)
            entries = current["properties"]["virtualMachines"]
            for entry in entries:
                if entry["id"].lower() == vm_id(stack, "bastion-win"):
                    entry["ports"][0]["maxRequestAccessDuration"] = next(durations)
            await carol.put_policy(web, entries)

    def carol_edits_before_every_check() -> None:
        """After jitbot's fresh read and after each re-read: each of its checks finds a newer document."""
        stack.arm.interleave("jit.list_subscription", carol_keeps_editing_bastion)
        for _ in range(2):
            stack.arm.interleave("jit.get", carol_keeps_editing_bastion)

    done = await save(stack, "edit web-01", {"port_1_max": "2h"}, meanwhile=carol_edits_before_every_check)

    text = view_text(done)
    assert "changed the JIT policy" in text and "saved nothing" in text and "rg-web" in text, text
    after = policy_entries(stack)
    assert after[vm_id(stack, "web-01")] == before[vm_id(stack, "web-01")], "nothing saved"
    assert json.loads(after[vm_id(stack, "bastion-win")])["ports"][0]["maxRequestAccessDuration"] == "PT4H"


async def test_a_save_replaced_right_after_by_a_stale_writer_is_made_again(stack: Stack) -> None:
    web = policy_id(stack, "web-01")
    async with PortalUser(stack.arm, CAROL) as carol:
        stale = await carol.get_policy(web)

    async def carol_saves_her_stale_copy() -> None:
        async with PortalUser(stack.arm, CAROL) as again:
            await again.put_policy(web, stale["properties"]["virtualMachines"])

    def right_after_jitbots_save() -> None:
        stack.arm.interleave("jit.put", carol_saves_her_stale_copy)

    done = await save(stack, "edit web-01", {"port_1_max": "2h"}, meanwhile=right_after_jitbots_save)

    assert done.title == "JIT saved", view_text(done)
    assert json.loads(policy_entries(stack)[vm_id(stack, "web-01")])["ports"][1]["maxRequestAccessDuration"] == "PT2H"
    assert [c.operation for c in stack.arm.writes()].count("jit.put") == 3, "ours, carol's stale one, ours again"


@pytest.mark.slow
@pytest.mark.timeout(120)
async def test_two_admins_on_two_replicas_enable_two_vms_of_one_group_at_the_same_instant() -> None:
    world = World(bots=2, env={"JITBOT_ADMINS": f"{ADMIN},{APPROVER_1}"})
    world.arm.inventory.vms.append(
        VirtualMachine(
            world.arm.inventory.vm("web-01").subscription_id,
            "rg-web",
            "web-03",
            "westeurope",
            "Linux",
            nic_nsg="web-nsg",
            private_ip="10.0.1.7",
        )
    )
    async with world:
        web = policy_id(world, "web-01")
        before = {e["id"].lower(): json.dumps(e, sort_keys=True) for e in _entries(world, web)}
        world.arm.faults.add("jit.get", delay=0.3, after_commit=True, times=20)
        world.arm.faults.add("jit.list_subscription", delay=0.3, after_commit=True, times=20)

        async def enable(index: int, user: str, vm: str) -> View:
            driver = world.drivers[index]
            await driver.slash_command(user, f"enable {vm}")
            modal = await world.slack.wait_until(
                lambda: next((v for v in world.slack.views_for(user) if v.callback_id == "jit_policy_modal"), None),
                timeout=20,
            )
            await driver.submit_view(user, modal, {})
            return await world.slack.wait_until(lambda: modal if modal.title == "JIT saved" else None, timeout=60)

        await asyncio.gather(enable(0, ADMIN, "build-01"), enable(1, APPROVER_1, "web-03"))

        after = {e["id"].lower(): json.dumps(e, sort_keys=True) for e in _entries(world, web)}
        build, web03 = (world.arm.inventory.vm(n).id.lower() for n in ("build-01", "web-03"))
        assert build in after and web03 in after, "both admins' VMs are in the policy"
        assert {k: v for k, v in after.items() if k not in (build, web03)} == before, "the rest byte-for-byte"


def _entries(world: World, policy: str) -> list[dict[str, Any]]:
    found = next(p for p in world.arm.inventory.policies if p.id.lower() == policy.lower())
    return list(found.virtual_machines)
