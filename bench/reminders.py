"""Scenario 5: the scheduler holding many reminders: how late they fire, and what it costs while idle.

The schedule is filled to ``scheduled`` reminders in a fresh Redis: most are due hours from now, and
``firing`` real active requests have reminders due one after another over ``firing_spread`` seconds. A fresh
``jitbot serve`` runs them. Lateness is when the reminder reached Slack (the emulator's record of the first
message naming the request) minus when it was due: the whole path a user waits for, not only the claim.
Then, with nothing due, the bot idles: Redis ``INFO commandstats`` and the process's CPU time are read
before and after ``idle_window`` seconds. A tick is one claim (one ``EVALSHA``).
"""

from __future__ import annotations

import asyncio
import json
import re
import time
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import redis.asyncio as aioredis

from bench.config import Sizes
from bench.emulators import poll
from bench.procs import sample_process
from bench.world import World
from jit.clock import SystemClock
from jit.model import AccessRequest, RequestState, VmRef
from jit.request_ids import REQUEST_ID_PREFIX, new_request_id
from jit.store.keys import DEFAULT_PREFIX
from jit.store.requests import RequestStore
from jit.store.schedule import Schedule, item_key
from sandbox.redis_server import RedisServer
from sandbox.slack_workspace import APPROVAL_CHANNEL, APPROVER_1, ENGINEER
from sandbox.stack import DEFAULT_SOURCE

REMIND_BEFORE = timedelta(minutes=15)
FILL_CHUNK = 5_000
START_MARGIN = 1.5
_REQUEST_ID = re.compile(re.escape(REQUEST_ID_PREFIX) + r"[A-Za-z0-9_-]{12}")


@dataclass(frozen=True)
class SchedulerResult:
    """Lateness of each reminder that reached Slack, and the idle cost."""

    scheduled: int
    expected: int
    lateness: list[float]
    idle_window: float
    idle_ticks: int
    idle_commands: dict[str, int]
    idle_cpu_seconds: float

    @property
    def commands_per_tick(self) -> float:
        """Redis commands (script-internal ones included) per idle claim."""
        return sum(self.idle_commands.values()) / self.idle_ticks if self.idle_ticks else float("nan")

    @property
    def idle_cpu_share(self) -> float:
        """CPU used while idle, as a fraction of one core."""
        return self.idle_cpu_seconds / self.idle_window if self.idle_window else float("nan")


async def measure_scheduler(world: World, sizes: Sizes) -> SchedulerResult:
    """Fill a fresh Redis, start a bot on it, fire ``firing`` reminders, then watch it idle."""
    server = RedisServer().start()
    client = aioredis.Redis.from_url(server.url)
    try:
        await _fill(Schedule(client, prefix=DEFAULT_PREFIX), sizes.scheduled - sizes.firing)
        bot = await world.start_bot("bot-scheduler", server.url)
        try:
            assert bot.process is not None
            lateness = await _fire(world, client, sizes)
            await asyncio.sleep(1.5)
            before_stats, before_cpu = await _commandstats(client), sample_process(bot.process.pid).cpu_seconds
            started = time.perf_counter()
            await asyncio.sleep(sizes.idle_window)
            after_stats, after_cpu = await _commandstats(client), sample_process(bot.process.pid).cpu_seconds
            window = time.perf_counter() - started
        finally:
            world.stop_bot(bot)
    finally:
        await client.aclose()
        server.close()
    delta = {k: after_stats.get(k, 0) - before_stats.get(k, 0) for k in after_stats}
    delta = {k: v for k, v in delta.items() if v > 0 and k != "info"}
    return SchedulerResult(
        scheduled=sizes.scheduled,
        expected=sizes.firing,
        lateness=lateness,
        idle_window=window,
        idle_ticks=delta.get("evalsha", 0) + delta.get("eval", 0),
        idle_commands=delta,
        idle_cpu_seconds=after_cpu - before_cpu,
    )


async def _fill(schedule: Schedule, count: int) -> None:
    """``count`` reminders for requests that do not exist, due between one and two hours from now."""
    base = datetime.now(UTC) + timedelta(hours=1)
    for start in range(0, count, FILL_CHUNK):
        chunk = range(start, min(count, start + FILL_CHUNK))
        await schedule.update(
            {item_key("remind", f"jr-filler{n:07d}"): base + timedelta(seconds=3600 * n / count) for n in chunk}
        )


async def _fire(world: World, client: aioredis.Redis, sizes: Sizes) -> list[float]:
    """Create active requests whose reminders come due over ``firing_spread``; return each one's lateness."""
    store = RequestStore(client, SystemClock(), prefix=DEFAULT_PREFIX)
    inventory_vm = world.arm.inventory.vm("web-01")
    vm = VmRef(
        id=inventory_vm.id,
        subscription_id=inventory_vm.subscription_id,
        resource_group=inventory_vm.resource_group,
        name=inventory_vm.name,
        location=inventory_vm.location,
    )
    ids = [new_request_id() for _ in range(sizes.firing)]
    creation_seconds = 0.5 + sizes.firing / 1000
    first_due = time.time() + creation_seconds + START_MARGIN
    step = sizes.firing_spread / max(1, sizes.firing - 1)
    due = {request_id: first_due + n * step for n, request_id in enumerate(ids)}
    calls_before = len(world.slack.calls)
    for start in range(0, len(ids), 100):
        await asyncio.gather(*(_active(store, vm, i, due[i]) for i in ids[start : start + 100]))
    if time.time() > first_due - 1.05:
        raise RuntimeError("creating the firing requests took too long; the first would be due before a tick")
    await poll(lambda: _arrived(world, calls_before) >= len(ids), sizes.firing_spread + 30 + START_MARGIN)
    first_seen: dict[str, float] = {}
    for call in world.slack.calls[calls_before:]:
        if call.method != "chat.postMessage":
            continue
        for request_id in set(_REQUEST_ID.findall(json.dumps(call.args))) & due.keys():
            first_seen[request_id] = min(first_seen.get(request_id, call.at), call.at)
    return [first_seen[i] - due[i] for i in ids if i in first_seen]


def _arrived(world: World, calls_before: int) -> int:
    posts = sum(1 for c in world.slack.calls[calls_before:] if c.method == "chat.postMessage")
    return posts // 2


async def _active(store: RequestStore, vm: VmRef, request_id: str, due: float) -> None:
    now = datetime.now(UTC)
    due_at = datetime.fromtimestamp(due, UTC)
    request = AccessRequest(
        id=request_id,
        requester=ENGINEER,
        vm=vm,
        ports=(22,),
        source=DEFAULT_SOURCE,
        duration=timedelta(hours=2),
        reason="benchmark reminder",
        state=RequestState.PENDING,
        created_at=now,
        card_channel=APPROVAL_CHANNEL,
    )
    await store.create(request, dedupe_key=request_id, max_pending_per_user=1_000_000_000)
    fields = {"approver": APPROVER_1, "decided_at": now.isoformat()}
    await store.transition(request_id, RequestState.APPROVED, actor=APPROVER_1, fields=fields)
    window = {"starts_at": now.isoformat(), "ends_at": (due_at + REMIND_BEFORE).isoformat()}
    await store.transition(
        request_id,
        RequestState.ACTIVE,
        actor=APPROVER_1,
        fields=window,
        schedule={item_key("remind", request_id): due_at},
    )


async def _commandstats(client: aioredis.Redis) -> dict[str, int]:
    raw: dict[str, Any] = await client.info("commandstats")
    return {name.removeprefix("cmdstat_"): int(stats["calls"]) for name, stats in raw.items()}
