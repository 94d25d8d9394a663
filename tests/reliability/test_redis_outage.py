"""Redis outage: Redis stops for 30 s in the middle of traffic; the bot answers clearly, stays up, recovers.

During the outage every slash command is answered in the HTTP reply itself ("temporarily unavailable",
inside Slack's 3 s), /readyz answers 503 and the process keeps running. When Redis is back the bot serves
again without a restart, and the schedule written before the outage (reminder, expiry, pending timeout)
still fires.
"""

from __future__ import annotations

import asyncio
import signal
import time
from collections.abc import AsyncIterator
from datetime import timedelta

import pytest

from jit.model import AccessRequest, RequestState
from sandbox.slack_driver import DriverResponse
from sandbox.slack_workspace import APPROVAL_CHANNEL, APPROVER_1, ENGINEER, ONCALL_CHANNEL
from tests.reliability.chaos import poll, until
from tests.reliability.world import World

OUTAGE_SECONDS = 30.0
COMMANDS = ("ssh web-01 1h during the outage", "status", "list", "cancel jr-doesnotexist", "help")


@pytest.fixture
async def world() -> AsyncIterator[World]:
    env = {"JITBOT_REMIND_BEFORE": "15m", "JITBOT_REQUEST_TTL": "30m", "LOG_LEVEL": "WARNING"}
    async with World(env=env) as running:
        yield running


async def _request(world: World, reason: str) -> AccessRequest:
    response = await world.driver.slash_command(ENGINEER, f"ssh web-01 1h {reason}")
    assert response.acked_in_time

    async def stored() -> AccessRequest | None:
        return next((r for r in await world.store().by_requester(ENGINEER) if r.reason == reason), None)

    return await until(world, stored, what=f"request {reason}", stall=30)


async def _active(world: World, reason: str) -> AccessRequest:
    request = await _request(world, reason)
    card = await world.slack.wait_for_message(APPROVAL_CHANNEL, lambda m: request.id in str(m.blocks), timeout=10)
    await world.driver.click(APPROVER_1, card, "jit_approve", request.id)

    async def active() -> AccessRequest | None:
        found = await world.store().get(request.id)
        return found if found is not None and found.state is RequestState.ACTIVE else None

    return await until(world, active, what="grant", stall=30)


def _unavailable(response: DriverResponse) -> bool:
    return response.status == 200 and "temporarily unavailable" in response.body.lower()


def _dm_count(world: World, request_id: str, phrase: str) -> int:
    return sum(request_id in str(m.blocks) and phrase in m.text for m in world.slack.dms_with(ENGINEER))


@pytest.mark.slow
@pytest.mark.timeout(150)
async def test_thirty_second_redis_outage_mid_traffic(world: World) -> None:
    bot = world.bots[0]
    granted = await _active(world, "before the outage")
    pending = await _request(world, "pending across the outage")
    assert (await world.get(bot, "/readyz"))[0] == 200

    world.redis_server.stop()
    answers: list[DriverResponse] = []
    readiness: list[int] = []
    started = time.monotonic()
    while time.monotonic() - started < OUTAGE_SECONDS:
        text = COMMANDS[len(answers) % len(COMMANDS)]
        answers.append(await world.driver.slash_command(ENGINEER, text))
        readiness.append((await world.get(bot, "/readyz"))[0])
        assert bot.alive, bot.log_tail()
        await asyncio.sleep(0.5)
    world.redis_server.start()

    assert len(answers) >= 20
    slow = [round(a.elapsed, 2) for a in answers if not a.acked_in_time]
    assert slow == [], f"answers later than Slack's 3 s: {slow}"
    unclear = [a.body[:200] for a in answers if not _unavailable(a)]
    assert unclear == [], unclear
    assert set(readiness) == {503}
    assert all("temporarily unavailable" in m.text for m in world.slack.ephemerals_for(ENGINEER)[-len(answers) :])

    deadline = time.monotonic() + 10
    while (await world.get(bot, "/readyz"))[0] != 200:
        assert time.monotonic() < deadline, "the bot did not become ready again by itself"
        await asyncio.sleep(0.2)
    assert bot.starts == 1 and bot.alive
    after = await _active(world, "after the outage")
    assert after.state is RequestState.ACTIVE

    assert granted.ends_at is not None
    world.advance(granted.ends_at - timedelta(minutes=15) - world.clock.now() + timedelta(seconds=2))
    await poll(lambda: _dm_count(world, granted.id, "closes in") or None, what="reminder after the outage")
    world.advance(timedelta(minutes=16))
    await poll(lambda: _dm_count(world, granted.id, "has ended") or None, what="expiry after the outage")
    await poll(
        lambda: any(granted.id in str(m.blocks) for m in world.slack.messages_in(ONCALL_CHANNEL)) or None,
        what="on-call notice",
    )

    async def timed_out() -> AccessRequest | None:
        found = await world.store().get(pending.id)
        return found if found is not None and found.state is RequestState.TIMED_OUT else None

    await until(world, timed_out, what="pending timeout after the outage", stall=30)


@pytest.mark.slow
@pytest.mark.timeout(90)
async def test_frozen_redis_still_gets_a_clear_answer_in_time(world: World) -> None:
    bot = world.bots[0]
    process = world.redis_server.process
    assert process is not None
    process.send_signal(signal.SIGSTOP)
    try:
        answers = [await world.driver.slash_command(ENGINEER, text) for text in COMMANDS]
        status, _ = await world.get(bot, "/readyz")
    finally:
        process.send_signal(signal.SIGCONT)

    assert [round(a.elapsed, 1) for a in answers if not a.acked_in_time] == []
    assert all(_unavailable(a) for a in answers), [a.body[:120] for a in answers]
    assert status == 503
    deadline = time.monotonic() + 10
    while (await world.get(bot, "/readyz"))[0] != 200:
        assert time.monotonic() < deadline
        await asyncio.sleep(0.2)
    assert (await _request(world, "after the freeze")).state is RequestState.PENDING
