"""Crashes: ``kill -9`` the bot at random moments across 50 request → approve → remind → expire cycles.

Redis runs with AOF (``appendfsync everysec``, as deployed) and is itself killed with SIGKILL now and then. Whatever
the moment of the crash: no reminder or expiry notice is lost, Azure is asked to open each request at most
once, and duplicated notifications stay within the documented bound (SECURITY.md).
"""

from __future__ import annotations

import asyncio
import contextlib
import random
from collections import Counter
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from datetime import timedelta

import pytest

from jit.justification import parse_justification
from jit.model import AccessRequest, RequestState
from jit.store.audit import histories
from sandbox.slack_workspace import APPROVAL_CHANNEL, APPROVER_1, ENGINEER, ONCALL_CHANNEL
from tests.reliability.chaos import http, poll, redis_read, until
from tests.reliability.world import World

ROUNDS = 10
PER_ROUND = 5
MAX_ATTEMPTS = 10
REMIND_BEFORE = timedelta(minutes=15)


@dataclass
class Chaos:
    """Kills the bot (and sometimes Redis) at random moments until stopped; counts what it did."""

    world: World
    rng: random.Random
    bot_kills: int = 0
    redis_kills: int = 0
    stop: asyncio.Event = field(default_factory=asyncio.Event)

    async def run(self) -> None:
        bot = self.world.bots[0]
        while not self.stop.is_set():
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self.stop.wait(), self.rng.uniform(0.1, 1.2))
                return
            bot.kill()
            self.bot_kills += 1
            if self.bot_kills % 4 == 0:
                self._kill_redis()
            await bot.start()

    def _kill_redis(self) -> None:
        server = self.world.redis_server
        assert server.process is not None
        server.process.kill()
        server.process.wait(10)
        server.process = None
        server.start()
        self.redis_kills += 1


@pytest.fixture
async def world() -> AsyncIterator[World]:
    env = {
        "JITBOT_REMIND_BEFORE": "15m",
        "JITBOT_MAX_PENDING_PER_USER": "50",
        "JITBOT_COMMANDS_PER_MINUTE": "1000",
        "JITBOT_INTERACTIONS_PER_MINUTE": "1000",
        "LOG_LEVEL": "WARNING",
    }
    async with World(env=env) as running:
        yield running


def _dm_count(world: World, request_id: str, phrase: str) -> int:
    """DMs that said ``phrase`` when posted (ending access later updates them; that is not another DM)."""
    return sum(
        request_id in str(m.versions[0].blocks) and phrase in m.versions[0].text
        for m in world.slack.dms_with(ENGINEER)
        if not m.deleted
    )


def _oncall_count(world: World, request_id: str, phrase: str) -> int:
    """On-call posts that said ``phrase`` when posted."""
    return sum(
        request_id in str(m.versions[0].blocks) and phrase in m.versions[0].text
        for m in world.slack.messages_in(ONCALL_CHANNEL)
    )


async def _submit(world: World, reason: str) -> AccessRequest:
    async def command() -> None:
        await http(lambda: world.driver.slash_command(ENGINEER, f"ssh web-01 1h {reason}"))

    async def stored() -> AccessRequest | None:
        return next((r for r in await world.store().by_requester(ENGINEER) if r.reason == reason), None)

    await command()
    return await until(world, stored, what=f"request {reason}", retry=command)


async def _approve(world: World, request: AccessRequest) -> AccessRequest:
    def card() -> object:
        return next(
            (m for m in world.slack.messages_in(APPROVAL_CHANNEL) if request.id in str(m.blocks) and m.buttons()),
            None,
        )

    async def card_posted() -> object:
        return card()

    async def current() -> AccessRequest:
        found = await world.store().get(request.id)
        assert found is not None
        return found

    async def click() -> None:
        shown = card()
        if shown is not None and (await redis_read(current)).state is RequestState.PENDING:
            await http(lambda: world.driver.click(APPROVER_1, shown, "jit_approve", request.id))  # type: ignore[arg-type]

    async def decided() -> AccessRequest | None:
        found = await current()
        return found if found.state in (RequestState.ACTIVE, RequestState.FAILED) else None

    await until(world, card_posted, what=f"card of {request.id}")
    await click()
    return await until(world, decided, what=f"grant of {request.id}", retry=click)


async def _granted(world: World, reason: str) -> list[AccessRequest]:
    """Request and approve until Azure grants it; a request failed by a crash is asked for again, as a person would."""
    attempts: list[AccessRequest] = []
    while not attempts or attempts[-1].state is RequestState.FAILED:
        # Random kills can land in the approve→initiate window several times in a row; each such attempt must
        # fail safely through reconciliation (nothing opened), never any other way.
        assert all("interrupted before Azure confirmed" in (a.failure or "") for a in attempts), attempts
        assert len(attempts) < MAX_ATTEMPTS, [a.failure for a in attempts]
        submitted = await _submit(world, f"{reason}-{len(attempts)}")
        attempts.append(await _approve(world, submitted))
    return attempts


async def _move_clock_to(world: World, target_offset: timedelta) -> None:
    """Advance the shared clock so that it reads at least ``now + target_offset``, never backwards."""
    if target_offset > timedelta(0):
        world.advance(target_offset)


async def _cycle_round(world: World, round_no: int) -> list[AccessRequest]:
    reasons = [f"crash-cycle-{round_no}-{i}" for i in range(PER_ROUND)]
    tries = list(await asyncio.gather(*(_granted(world, reason) for reason in reasons)))
    granted = [request for attempts in tries for request in attempts]
    active = [r for r in granted if r.state is RequestState.ACTIVE]
    if active:
        # Retries after kills spread the grants' windows over several minutes: visit each reminder time in turn,
        # so no jump passes a grant's end (a reminder due after its access ended is rightly never sent).
        for request in sorted(active, key=lambda r: r.ends_at or world.clock.now()):
            assert request.ends_at is not None
            await _move_clock_to(world, request.ends_at - REMIND_BEFORE - world.clock.now() + timedelta(seconds=2))

            async def reminded(request_id: str = request.id) -> bool | None:
                """Both halves of the reminder arrived (a kill between them delays the on-call post; jumping to the
                end before it comes would rightly cancel it)."""
                dm, oncall = _dm_count(world, request_id, "closes in"), _oncall_count(world, request_id, "closes in")
                return (dm > 0 and oncall > 0) or None

            await until(world, reminded, what=f"reminder of {request.id} in round {round_no}")
        latest_end = max(r.ends_at for r in active if r.ends_at)
        await _move_clock_to(world, latest_end - world.clock.now() + timedelta(seconds=2))

        async def expired() -> bool | None:
            states = [await world.store().get(r.id) for r in active]
            if not all(s is not None and s.state is RequestState.EXPIRED for s in states):
                return None
            return all(_dm_count(world, r.id, "has ended") for r in active) or None

        await until(world, expired, what=f"expiry of round {round_no}")
    return granted


@pytest.mark.slow
@pytest.mark.timeout(420)
async def test_kill_9_at_random_moments_loses_nothing_and_never_grants_twice(world: World) -> None:
    chaos = Chaos(world, random.Random(20261201))
    killer = asyncio.create_task(chaos.run())
    try:
        outcomes: list[AccessRequest] = []
        for round_no in range(ROUNDS):
            outcomes += await _cycle_round(world, round_no)
    finally:
        chaos.stop.set()
        await killer
    await asyncio.sleep(1.0)

    assert len(outcomes) >= 50
    assert chaos.bot_kills >= 10 and chaos.redis_kills >= 2, (chaos.bot_kills, chaos.redis_kills)
    initiated = Counter(
        parsed.request_id
        for call in world.arm.calls
        if call.operation == "jit.initiate" and call.status < 300
        for parsed in [parse_justification(str(call.body.get("justification", "")))]
        if parsed is not None
    )
    active = [r for r in outcomes if r.state is RequestState.ACTIVE]
    failed = [r for r in outcomes if r.state is RequestState.FAILED]
    assert len(active) + len(failed) == len(outcomes)
    assert len(active) >= 50, f"{len(failed)} of {len(outcomes)} cycles failed"
    assert all("interrupted" in (r.failure or "") for r in failed), [r.failure for r in failed]
    assert all(initiated[r.id] == 1 for r in active), {r.id: initiated[r.id] for r in active}
    assert all(initiated[r.id] == 0 for r in failed), {r.id: initiated[r.id] for r in failed}

    duplicates = Counter[str]()
    for request in active:
        counts = {
            "reminder DM": _dm_count(world, request.id, "closes in"),
            "expiry DM": _dm_count(world, request.id, "has ended"),
            "reminder on-call": _oncall_count(world, request.id, "closes in"),
            "expiry on-call": _oncall_count(world, request.id, "has ended"),
        }
        for kind, count in counts.items():
            assert count >= 1, f"{kind} lost for {request.id}"
            duplicates[kind] += count - 1
    cards = Counter(
        b.value for m in world.slack.messages_in(APPROVAL_CHANNEL) for b in m.buttons() if b.action_id == "jit_approve"
    )
    total_duplicates = sum(duplicates.values())
    print(
        f"\ncrash test: {len(outcomes)} cycles, {chaos.bot_kills} bot kills, {chaos.redis_kills} redis kills, "
        f"{len(failed)} failed cleanly, duplicates {dict(duplicates)}, stale duplicate cards "
        f"{sum(c - 1 for c in cards.values() if c > 1)}"
    )
    in_flight_per_kill = PER_ROUND * 2
    assert total_duplicates <= chaos.bot_kills * in_flight_per_kill, "a crash repeats only notices in flight"
    assert all(c <= 1 + chaos.bot_kills for c in cards.values())

    trails = await redis_read(lambda: histories(world.audit()))
    for request in outcomes:
        trail = trails[request.id]
        assert trail.problems == [], trail.problems
        expected = RequestState.EXPIRED if request.state is RequestState.ACTIVE else RequestState.FAILED
        assert trail.state is expected
        assert trail.states.count(RequestState.ACTIVE) <= 1


def _azure_records(world: World, request_id: str) -> list[dict[str, object]]:
    policy = world.arm.inventory.policy_covering(world.arm.inventory.vm("web-01"))
    assert policy is not None
    return [r for r in policy.requests if request_id in str(r.get("justification", ""))]


@pytest.mark.slow
@pytest.mark.timeout(120)
async def test_kill_after_azure_accepted_reconciles_from_history_instead_of_initiating_again(world: World) -> None:
    bot = world.bots[0]
    request = await _submit(world, "killed mid-initiate")
    card = await world.slack.wait_for_message(APPROVAL_CHANNEL, lambda m: request.id in str(m.blocks), timeout=15)
    world.arm.faults.add("jit.initiate", after_commit=True, delay=8)

    await http(lambda: world.driver.click(APPROVER_1, card, "jit_approve", request.id))
    await poll(lambda: _azure_records(world, request.id) or None, what="Azure accepting the initiate")
    bot.kill()
    world.arm.faults.clear()

    stored = await world.store().get(request.id)
    assert stored is not None and stored.state is RequestState.APPROVED
    await bot.start()
    world.advance(timedelta(minutes=3, seconds=5))

    async def active() -> AccessRequest | None:
        found = await world.store().get(request.id)
        return found if found is not None and found.state is not RequestState.APPROVED else None

    reconciled = await until(world, active, what="reconciliation", stall=10)
    assert reconciled.state is RequestState.ACTIVE, reconciled.failure
    assert len(_azure_records(world, request.id)) == 1
    record = _azure_records(world, request.id)[0]
    assert reconciled.starts_at is not None and reconciled.ends_at is not None
    assert reconciled.starts_at.isoformat().startswith(str(record["startTimeUtc"])[:19])
    events = [r.event for r in await world.audit().for_request(request.id)]
    assert events.count("active") == 1 and "failed" not in events
    reconcile_record = next(r for r in await world.audit().for_request(request.id) if r.event == "active")
    assert reconcile_record.actor == "jitbot"

    world.advance(reconciled.ends_at - REMIND_BEFORE - world.clock.now() + timedelta(seconds=2))
    await poll(lambda: _dm_count(world, request.id, "closes in") or None, what="reminder")
    world.advance(reconciled.ends_at - world.clock.now() + timedelta(seconds=2))
    await poll(lambda: _dm_count(world, request.id, "has ended") or None, what="expiry notice")
    posted = [c for c in world.arm.calls if c.operation == "jit.initiate"]
    assert len(posted) <= 1, "the restarted bot must not POST initiate again"


@pytest.mark.slow
@pytest.mark.timeout(120)
async def test_bot_down_past_the_reminder_time_still_reminds_after_reconciling(world: World) -> None:
    bot = world.bots[0]
    request = await _submit(world, "down for long")
    card = await world.slack.wait_for_message(APPROVAL_CHANNEL, lambda m: request.id in str(m.blocks), timeout=15)
    world.arm.faults.add("jit.initiate", after_commit=True, delay=8)
    await http(lambda: world.driver.click(APPROVER_1, card, "jit_approve", request.id))
    await poll(lambda: _azure_records(world, request.id) or None, what="Azure accepting the initiate")
    bot.kill()
    world.arm.faults.clear()

    world.advance(timedelta(minutes=50))
    await bot.start()

    await poll(lambda: _dm_count(world, request.id, "closes in") or None, what="the late reminder", seconds=20)
    stored = await world.store().get(request.id)
    assert stored is not None and stored.state is RequestState.ACTIVE
