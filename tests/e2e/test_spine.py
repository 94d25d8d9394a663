"""The product's main path end to end: /jit → card → Approve → Azure initiate → DM."""

from __future__ import annotations

from sandbox.slack_workspace import APPROVAL_CHANNEL, APPROVER_1, ENGINEER
from sandbox.stack import Stack


async def test_request_approve_grant(stack: Stack) -> None:
    assert stack.driver is not None
    ack = await stack.driver.slash_command(ENGINEER, "ssh web-01 1h fixing deploy")
    assert ack.status == 200
    card = await stack.slack.wait_for_message(APPROVAL_CHANNEL, lambda m: bool(m.buttons()))
    approve = next(b for b in card.buttons() if b.action_id == "jit_approve")
    stack.arm.reset_calls()
    click = await stack.driver.click(APPROVER_1, card, "jit_approve", approve.value)
    assert click.status == 200
    await stack.slack.wait_until(lambda: not stack.slack.message(APPROVAL_CHANNEL, card.ts).buttons())
    initiates = [c for c in stack.arm.calls if c.operation == "jit.initiate"]
    assert len(initiates) == 1
    assert len(stack.arm.writes()) == 1
    dm = await stack.slack.wait_until(lambda: [m for m in stack.slack.dms_with(ENGINEER) if "web-01" in m.current.text])
    assert dm
    request = await stack.runtime.store.get(str(approve.value))
    assert request is not None and request.state.value == "active"
