"""Scenarios 3 and 4: approve click → ``initiate`` received by ARM, and ARM calls per request and approval.

ARM calls are read from the emulator's log (token requests counted apart). "Cold" is the first command or
click a freshly started ``jitbot serve`` handles (empty caches, no token yet); "warm" is what follows. The
approval latency runs from the moment the signed click is sent to the moment the emulator receives the
``initiate``, minus the time both emulators spent answering calls in between (they share this process).
"""

from __future__ import annotations

import time
from dataclasses import dataclass

from bench.emulators import poll
from bench.stats import overlap
from bench.world import World
from sandbox.processes import BotProcess
from sandbox.slack_driver import SlackDriver
from sandbox.slack_state import Message
from sandbox.slack_workspace import APPROVAL_CHANNEL, APPROVER_1, ENGINEER

STEP_TIMEOUT = 20.0


@dataclass(frozen=True)
class ArmCount:
    """ARM calls seen in one window: reads, writes, token requests and the operations in order."""

    reads: int
    writes: int
    tokens: int
    operations: tuple[str, ...]


@dataclass(frozen=True)
class Approval:
    """One timed approval: latency without emulator time, the emulator time taken out, and its ARM calls."""

    latency: float
    emulator_time: float
    calls: ArmCount


@dataclass(frozen=True)
class ApprovalResult:
    """Everything scenarios 3 and 4 report."""

    request_cold: ArmCount
    request_warm: ArmCount
    warm: list[Approval]
    cold: Approval


def arm_count(world: World) -> ArmCount:
    """What the ARM emulator's log holds since the last reset."""
    calls = world.arm.calls
    return ArmCount(
        reads=len(world.arm.reads()),
        writes=len(world.arm.writes()),
        tokens=sum(1 for c in calls if c.operation == "token"),
        operations=tuple(c.operation for c in calls),
    )


def _cards(world: World) -> list[Message]:
    return [
        m for m in world.slack.messages_in(APPROVAL_CHANNEL) if any(b.action_id == "jit_approve" for b in m.buttons())
    ]


async def request_access(world: World, driver: SlackDriver, reason: str) -> Message:
    """``/jit ssh web-01 2h <reason>``; returns the approval card once the reply and the card are both out."""
    known = {m.ts for m in world.slack.messages_in(APPROVAL_CHANNEL)}
    replies = world.slack.counts["response_url"]
    answer = await driver.slash_command(ENGINEER, f"ssh web-01 2h {reason}")
    if answer.status != 200:
        raise RuntimeError(f"/jit answered {answer.status}: {answer.body}")
    fresh: list[Message] = []

    def done() -> bool:
        fresh[:] = [m for m in _cards(world) if m.ts not in known]
        return bool(fresh) and world.slack.counts["response_url"] > replies

    if not await poll(done, STEP_TIMEOUT):
        raise RuntimeError("the approval card or the requester's reply did not arrive")
    return fresh[0]


async def approve(world: World, driver: SlackDriver, card: Message) -> Approval:
    """Click Approve on ``card``; time it to the ``initiate`` and wait until the card shows the outcome."""
    request_id = next(b.value for b in card.buttons() if b.action_id == "jit_approve")
    world.arm.reset_calls()
    sent = time.perf_counter()
    answer = await driver.click(APPROVER_1, card, "jit_approve", request_id)
    if answer.status != 200:
        raise RuntimeError(f"the click answered {answer.status}: {answer.body}")
    if not await poll(lambda: world.arm.initiate_after(sent) is not None, STEP_TIMEOUT, interval=0.001):
        raise RuntimeError("no initiate reached the ARM emulator")
    arrived = world.arm.initiate_after(sent)
    assert arrived is not None
    if not await poll(lambda: not world.slack.message(APPROVAL_CHANNEL, card.ts).buttons(), STEP_TIMEOUT):
        raise RuntimeError("the approval card was not updated")
    emulators = overlap(world.arm.busy + world.slack.busy, sent, arrived)
    return Approval(arrived - sent - emulators, emulators, arm_count(world))


async def measure_approvals(world: World, approvals: int) -> ApprovalResult:
    """Cold and warm /jit, ``approvals`` timed warm approvals, then a cold approval on a restarted bot."""
    bot = await world.start_bot("bot-approvals")
    try:
        async with SlackDriver(bot.events_url, world.secret, world.slack) as driver:
            world.arm.reset_calls()
            cards = [await request_access(world, driver, "bench cold")]
            request_cold = arm_count(world)
            world.arm.reset_calls()
            cards.append(await request_access(world, driver, "bench warm"))
            request_warm = arm_count(world)
            for n in range(approvals + 1):
                cards.append(await request_access(world, driver, f"bench approval {n}"))
            leftover = cards.pop()
            await approve(world, driver, cards.pop())
            warm = [await approve(world, driver, card) for card in cards[:approvals]]
    finally:
        world.stop_bot(bot)
    cold = await _cold_approval(world, leftover)
    return ApprovalResult(request_cold, request_warm, warm, cold)


async def _cold_approval(world: World, card: Message) -> Approval:
    bot: BotProcess = await world.start_bot("bot-cold-approval")
    try:
        async with SlackDriver(bot.events_url, world.secret, world.slack) as driver:
            return await approve(world, driver, world.slack.message(APPROVAL_CHANNEL, card.ts))
    finally:
        world.stop_bot(bot)
