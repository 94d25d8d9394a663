"""The approval card's context end to end (real bot, signed Slack requests, the ARM emulator, real Redis): what
Defender for Cloud says about the VM, whether it runs, and the requester's history on it; read once per VM per
few minutes; and a card that still posts, with a note, when a read is refused."""

from __future__ import annotations

from jit.card_context import requester_history_of, security_context_of
from jit.vm_security import PowerState
from sandbox.slack_workspace import APPROVER_1, ENGINEER
from sandbox.stack import Stack
from tests.e2e.flow import driver_of, request_card, wait_card_decided
from tests.e2e.lifecycle_support import posted_card

CONTEXT_OPERATIONS = {
    "security.assessments.list",
    "security.assessments.get",
    "security.alerts.list_resource_group",
    "compute.vm.instance_view",
}


def _context_reads(stack: Stack) -> list[str]:
    return [c.operation for c in stack.arm.reads() if c.operation in CONTEXT_OPERATIONS]


def _unhealthy_titles(stack: Stack, vm_name: str) -> list[str]:
    vm = stack.arm.inventory.vm(vm_name)
    return [
        a.display_name for a in stack.arm.inventory.assessments if a.resource_id == vm.id and a.status == "Unhealthy"
    ]


async def test_the_card_shows_defenders_findings_and_a_first_time_requester(stack: Stack) -> None:
    card, request_id = await posted_card(stack, ENGINEER, "ssh web-01 1h fixing deploy")

    shown = str(card.blocks)
    titles = _unhealthy_titles(stack, "web-01")
    assert titles and all(title in shown for title in titles)
    assert "no earlier access to this VM" in shown
    request = await stack.runtime.store.require(request_id)
    security = security_context_of(request)
    assert security is not None and security.runtime.value is not None
    assert security.runtime.value.power is PowerState.RUNNING


async def test_a_stopped_vm_is_called_out_before_anyone_approves(stack: Stack) -> None:
    card, _ = await request_card(stack, ENGINEER, "ssh web-02 1h checking disks")

    assert "Stopped (deallocated)" in str(card.blocks)


async def test_a_warm_card_reads_nothing_more_and_history_counts_the_earlier_grant(stack: Stack) -> None:
    card, first = await request_card(stack, ENGINEER, "ssh web-01 1h fixing deploy")
    await driver_of(stack).click(APPROVER_1, card, "jit_approve", first)
    await wait_card_decided(stack, card)
    cold = _context_reads(stack)
    assert cold, "the first card read the context"

    second_card, second = await posted_card(stack, ENGINEER, "ssh web-01 30m checking the fix")

    assert _context_reads(stack) == cold, "a warm card costs no ARM read"
    history = requester_history_of(await stack.runtime.store.require(second))
    assert history is not None and history.grants_in_window == 1 and history.last_grant is not None
    assert "1 grant in the last 30 days" in str(second_card.blocks)


async def test_a_refused_read_still_posts_the_card_with_a_note(stack: Stack) -> None:
    stack.arm.faults.add("security.assessments.list", status=403, times=5)
    stack.arm.faults.add("security.alerts.list_resource_group", status=403, times=5)

    card, request_id = await posted_card(stack, ENGINEER, "rdp bastion-win 1h patching")

    assert "jitbot lacks permission" in str(card.blocks)
    security = security_context_of(await stack.runtime.store.require(request_id))
    assert security is not None and security.recommendations.value is None
