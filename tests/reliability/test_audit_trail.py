"""Audit: a whole day of mixed traffic (ManualClock through the full stack), exported with the real
``jitbot audit export`` command, reconstructs every request's history: one record per state transition,
each naming who, what, when, the request and the outcome.
"""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
import tempfile
from collections import Counter
from collections.abc import AsyncIterator, Iterator
from datetime import UTC, datetime, timedelta

import pytest

from jit.clock import ManualClock
from jit.model import RequestState
from jit.store.audit import AuditRecord, replay
from sandbox.processes import REPO_ROOT
from sandbox.redis_server import RedisServer
from sandbox.slack_workspace import APPROVER_1, APPROVER_2, ENGINEER, ONCALL
from sandbox.stack import Stack, StackOptions
from tests.e2e.flow import deny, driver_of, request_card

P, AP, AC, EX = RequestState.PENDING, RequestState.APPROVED, RequestState.ACTIVE, RequestState.EXPIRED
PATHS = {
    "approve": (P, AP, AC, EX),
    "deny": (P, RequestState.DENIED),
    "cancel": (P, RequestState.CANCELLED),
    "ignore": (P, RequestState.TIMED_OUT),
    "azure refuses": (P, AP, RequestState.FAILED),
}
PLAN = tuple(PATHS)
REQUESTERS = (ENGINEER, ONCALL)
START = datetime(2026, 12, 1, 0, 5, tzinfo=UTC)


@pytest.fixture
def private_redis() -> Iterator[RedisServer]:
    with RedisServer(appendonly=True) as server:
        yield server


@pytest.fixture
async def stack(private_redis: RedisServer) -> AsyncIterator[Stack]:
    """The default key prefix, so the real ``jitbot audit export`` reads the same trail; no posting limit."""
    options = StackOptions(
        redis_url=private_redis.url,
        clock=ManualClock(START),
        key_prefix="jitbot",
        env={
            "JITBOT_REMIND_BEFORE": "15m",
            "JITBOT_REQUEST_TTL": "30m",
            "JITBOT_COMMANDS_PER_MINUTE": "1000",
            "JITBOT_INTERACTIONS_PER_MINUTE": "1000",
        },
    )
    async with Stack(options) as running:
        # A day is replayed in seconds of wall time, while Slack's posting limit counts real seconds.
        running.slack.posting_limit_on = False
        yield running


async def _tick_to(stack: Stack, clock: ManualClock, until: datetime) -> None:
    while clock.now() < until:
        clock.advance(min(timedelta(minutes=5), until - clock.now()))
        await stack.runtime.scheduler.tick()
        await stack.runtime.scheduler.tick()


async def _settled(stack: Stack, request_id: str, states: tuple[RequestState, ...]) -> None:
    for _ in range(300):
        request = await stack.runtime.store.get(request_id)
        if request is not None and request.state in states:
            return
        await asyncio.sleep(0.02)
    raise AssertionError(f"{request_id} never reached {states}")


async def _hour_of_traffic(stack: Stack, hour: int) -> dict[str, str]:
    """Five requests, one per outcome, from alternating requesters and approvers."""
    made: dict[str, str] = {}
    driver = driver_of(stack)
    for index, kind in enumerate(PLAN):
        requester = REQUESTERS[(hour + index) % 2]
        approver = (APPROVER_1, APPROVER_2)[(hour + index) % 2]
        card, request_id = await request_card(stack, requester, f"ssh web-01 1h day {hour} {kind}")
        made[request_id] = kind
        if kind in ("approve", "azure refuses"):
            if kind == "azure refuses":
                stack.arm.faults.add("jit.initiate", status=403)
            await driver.click(approver, card, "jit_approve", request_id)
            await _settled(stack, request_id, (RequestState.ACTIVE, RequestState.FAILED))
        elif kind == "deny":
            await deny(stack, approver, card, request_id, "no ticket")
            await _settled(stack, request_id, (RequestState.DENIED,))
        elif kind == "cancel":
            await driver.slash_command(requester, f"cancel {request_id}")
            await _settled(stack, request_id, (RequestState.CANCELLED,))
    return made


def _export(redis_url: str, *flags: str) -> list[dict[str, object]]:
    env = {k: v for k, v in os.environ.items() if k in ("PATH", "HOME", "LANG")}
    env.update({"REDIS_URL": redis_url, "PYTHONPATH": str(REPO_ROOT)})
    done = subprocess.run(
        [sys.executable, "-m", "bot.cli", "audit", "export", *flags],
        env=env,
        cwd=tempfile.gettempdir(),
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    return [json.loads(line) for line in done.stdout.splitlines()]


def _record(line: dict[str, object]) -> AuditRecord:
    detail = line["detail"]
    assert isinstance(detail, dict)
    return AuditRecord(
        id=str(line["id"]),
        at=datetime.fromisoformat(str(line["at"])),
        event=str(line["event"]),
        actor=str(line["actor"]),
        request_id=str(line["request_id"]) if line["request_id"] else None,
        detail={str(k): str(v) for k, v in detail.items()},
    )


@pytest.mark.slow
@pytest.mark.timeout(240)
async def test_a_day_of_traffic_is_reconstructed_from_the_exported_trail(
    stack: Stack, private_redis: RedisServer
) -> None:
    clock = stack.clock
    assert isinstance(clock, ManualClock)
    made: dict[str, str] = {}
    for hour in range(24):
        made |= await _hour_of_traffic(stack, hour)
        await _tick_to(stack, clock, START + timedelta(hours=hour + 1))
    await _tick_to(stack, clock, clock.now() + timedelta(hours=2))

    lines = await asyncio.to_thread(_export, private_redis.url)
    assert all(set(line) == {"id", "at", "event", "actor", "request_id", "detail"} for line in lines)
    trails = replay(_record(line) for line in lines)
    assert set(made) <= set(trails)
    for request_id, kind in made.items():
        trail = trails[request_id]
        assert trail.problems == [], (kind, trail.problems)
        assert trail.states == PATHS[kind], (kind, [r.event for r in trail.records])
        transitions = [r for r in trail.records if r.is_transition]
        assert len(transitions) == len(PATHS[kind]) - 1
        assert Counter(r.detail["to"] for r in transitions).most_common(1)[0][1] == 1
        assert all(r.actor and r.at and r.request_id == request_id and r.event for r in trail.records)
        stored = await stack.runtime.store.get(request_id)
        assert stored is not None and stored.state is trail.state
        by_state = {r.event: r for r in transitions}
        if kind in ("approve", "deny", "azure refuses"):
            decided = by_state["approved" if kind != "deny" else "denied"]
            assert decided.actor in (APPROVER_1, APPROVER_2) and decided.actor == stored.approver
        if kind == "cancel":
            assert by_state["cancelled"].actor == stored.requester
        if kind == "azure refuses":
            assert by_state["failed"].detail.get("failure"), "the failure reason is in the trail"
        if kind == "ignore":
            assert by_state["timed_out"].actor == "jitbot"
    assert Counter(made.values()) == {kind: 24 for kind in PLAN}

    noon = START.replace(hour=12, minute=0)
    afternoon = await asyncio.to_thread(_export, private_redis.url, "--since", noon.isoformat())
    assert afternoon and all(datetime.fromisoformat(str(line["at"])) >= noon for line in afternoon)
    assert len(afternoon) < len(lines)
    assert [line["id"] for line in afternoon] == [line["id"] for line in lines][-len(afternoon) :]
