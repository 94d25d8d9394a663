"""The scheduler runner: passes, backoff on failure, sleeping until due, replicas, outages, graceful stop."""

from __future__ import annotations

import asyncio
import contextlib
import threading
import time
from collections import Counter
from collections.abc import AsyncIterator, Awaitable, Callable, Coroutine
from datetime import datetime, timedelta

import pytest
import redis.asyncio as aioredis
from redis.asyncio.retry import Retry
from redis.backoff import NoBackoff

from jit.clock import ManualClock, SystemClock
from jit.ports.notify import ChannelBusy
from jit.scheduler import Scheduler
from jit.store.schedule import DueItem, Schedule
from sandbox.redis_server import RedisServer


@pytest.fixture
def schedule(redis_client: aioredis.Redis) -> Schedule:
    return Schedule(redis_client, prefix="test")


async def wait_for(condition: Callable[[], bool], within: float = 10.0) -> None:
    deadline = time.monotonic() + within
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError("condition not met in time")
        await asyncio.sleep(0.01)


class Running:
    """A scheduler's run() in a task, stopped and awaited on exit."""

    def __init__(self, scheduler: Scheduler):
        self.scheduler = scheduler
        self.stop = asyncio.Event()
        self.task: asyncio.Task[None] | None = None

    async def __aenter__(self) -> Running:
        self.task = asyncio.create_task(self.scheduler.run(self.stop))
        return self

    async def __aexit__(self, *exc: object) -> None:
        self.stop.set()
        assert self.task is not None
        await asyncio.wait_for(self.task, 10)


def recorder(calls: Counter[str]) -> Callable[[DueItem], Awaitable[None]]:
    async def handle(item: DueItem) -> None:
        calls[item.key] += 1

    return handle


async def test_tick_handles_due_items_once(schedule: Schedule) -> None:
    clock = ManualClock()
    calls: Counter[str] = Counter()
    scheduler = Scheduler(schedule, recorder(calls), clock)
    await schedule.update(
        {
            "remind:a": clock.now(),
            "expire:b": clock.now() - timedelta(minutes=1),
            "remind:c": clock.now() + timedelta(seconds=1),
        }
    )
    handled = await scheduler.tick()
    assert {i.key for i in handled} == {"remind:a", "expire:b"}
    assert calls == {"remind:a": 1, "expire:b": 1}
    assert await scheduler.tick() == []
    assert await schedule.size() == 1
    clock.advance(timedelta(seconds=1))
    await scheduler.tick()
    assert calls == {"remind:a": 1, "expire:b": 1, "remind:c": 1}
    assert await schedule.size() == 0
    assert scheduler.stats.completed == 3


async def test_a_pass_over_a_full_batch_costs_two_commands(schedule: Schedule, redis_client: aioredis.Redis) -> None:
    clock = ManualClock()
    calls: Counter[str] = Counter()
    await schedule.update({f"remind:{n}": clock.now() for n in range(100)})
    scheduler = Scheduler(schedule, recorder(calls), clock, batch=100)
    await scheduler.tick()
    await schedule.add("remind:warm", clock.now())
    await scheduler.tick()
    await schedule.update({f"remind:{n}": clock.now() for n in range(100, 200)})
    await redis_client.config_resetstat()
    await scheduler.tick()
    assert len(calls) == 201
    stats = await redis_client.info("commandstats")
    assert stats["cmdstat_evalsha"]["calls"] == 2


async def test_a_failing_handler_backs_off_instead_of_spinning(schedule: Schedule) -> None:
    clock = ManualClock()
    attempts: list[int] = []

    async def flaky(item: DueItem) -> None:
        attempts.append(item.attempt)
        if len(attempts) < 4:
            raise RuntimeError("slack is down")

    scheduler = Scheduler(schedule, flaky, clock, lease=timedelta(seconds=60), retry_base=timedelta(seconds=1))
    await schedule.add("remind:x", clock.now())
    for expected_wait in (1, 2, 4):
        await scheduler.tick()
        await scheduler.tick()
        assert await schedule.due_at("remind:x") == clock.now() + timedelta(seconds=expected_wait)
        clock.advance(timedelta(seconds=expected_wait))
    await scheduler.tick()
    assert attempts == [1, 2, 3, 4]
    assert await schedule.size() == 0
    assert scheduler.stats.failed == 3


def test_retry_delay_is_capped_by_the_lease() -> None:
    scheduler = Scheduler(Schedule.__new__(Schedule), recorder(Counter()), ManualClock(), lease=timedelta(seconds=60))
    assert [scheduler.retry_delay(n).total_seconds() for n in (1, 2, 3, 6, 7, 100)] == [1, 2, 4, 32, 60, 60]


async def test_run_handles_due_items_and_stops(schedule: Schedule) -> None:
    calls: Counter[str] = Counter()
    clock = SystemClock()
    await schedule.update({f"remind:{n}": clock.now() for n in range(250)})
    async with Running(Scheduler(schedule, recorder(calls), clock, batch=100, max_idle_sleep=0.05)):
        await wait_for(lambda: len(calls) == 250)
    assert set(calls.values()) == {1}
    assert await schedule.size() == 0


async def test_run_sleeps_until_the_next_item_is_due(schedule: Schedule) -> None:
    clock = SystemClock()
    handled_at: dict[str, float] = {}

    async def handle(item: DueItem) -> None:
        handled_at[item.key] = (clock.now() - item.due).total_seconds()

    await schedule.add("remind:soon", clock.now() + timedelta(seconds=0.4))
    scheduler = Scheduler(schedule, handle, clock, max_idle_sleep=5.0)
    async with Running(scheduler):
        await wait_for(lambda: "remind:soon" in handled_at, within=3)
        assert 0 <= handled_at["remind:soon"] < 0.15
        started = time.monotonic()
        await schedule.add("remind:woken", clock.now())
        scheduler.wake()
        await wait_for(lambda: "remind:woken" in handled_at, within=3)
        assert time.monotonic() - started < 0.5


SCRIPT_INTERNAL = {"cmdstat_zrange", "cmdstat_info"}


async def command_calls(client: aioredis.Redis) -> int:
    """Commands sent by clients: commandstats also counts the idle claim script's inner ZRANGE, left out here."""
    stats = await client.info("commandstats")
    return sum(int(v["calls"]) for k, v in stats.items() if k not in SCRIPT_INTERNAL)


async def test_an_idle_tick_is_one_redis_command() -> None:
    with RedisServer() as server:
        client = aioredis.Redis.from_url(server.url)
        try:
            schedule = Schedule(client, prefix="idle")
            scheduler = Scheduler(schedule, recorder(Counter()), SystemClock(), max_idle_sleep=0.02)
            await scheduler.tick()
            before_calls, before_passes = await command_calls(client), scheduler.stats.passes
            async with Running(scheduler):
                await asyncio.sleep(0.5)
            commands = await command_calls(client) - before_calls
            passes = scheduler.stats.passes - before_passes
        finally:
            await client.aclose()
    assert passes >= 10
    assert commands <= passes


async def test_two_replicas_handle_each_of_500_items_exactly_once(redis_server: RedisServer) -> None:
    clients = [aioredis.Redis.from_url(redis_server.url) for _ in range(2)]
    try:
        await clients[0].flushall()
        clock = SystemClock()
        calls: Counter[str] = Counter()
        by_replica: Counter[int] = Counter()

        def handler(replica: int) -> Callable[[DueItem], Awaitable[None]]:
            async def handle(item: DueItem) -> None:
                calls[item.key] += 1
                by_replica[replica] += 1
                await asyncio.sleep(0.001)

            return handle

        schedules = [Schedule(c, prefix="replicas") for c in clients]
        start = clock.now()
        await schedules[0].update({f"remind:{n}": start + timedelta(milliseconds=n) for n in range(500)})
        replicas = [
            Scheduler(schedules[i], handler(i), clock, batch=20, max_idle_sleep=0.01, concurrency=4) for i in range(2)
        ]
        async with Running(replicas[0]), Running(replicas[1]):
            await wait_for(lambda: len(calls) == 500)
            await asyncio.sleep(0.1)
        assert len(calls) == 500
        assert set(calls.values()) == {1}
        assert sum(by_replica.values()) == 500
        assert await schedules[0].size() == 0
    finally:
        for client in clients:
            await client.aclose()


async def test_a_handler_outliving_its_lease_runs_again_but_sends_once(redis_server: RedisServer) -> None:
    clients = [aioredis.Redis.from_url(redis_server.url) for _ in range(2)]
    try:
        await clients[0].flushall()
        clock = SystemClock()
        runs: list[int] = []
        sent: list[str] = []
        schedules = [Schedule(c, prefix="lease") for c in clients]

        def handler(schedule: Schedule) -> Callable[[DueItem], Awaitable[None]]:
            async def handle(item: DueItem) -> None:
                runs.append(item.attempt)
                if item.attempt == 1:
                    await asyncio.sleep(0.6)
                if await schedule.mark_done(item.key):
                    sent.append(item.key)

            return handle

        await schedules[0].add("remind:x", clock.now())
        replicas = [
            Scheduler(s, handler(s), clock, lease=timedelta(seconds=0.2), max_idle_sleep=0.02) for s in schedules
        ]
        async with Running(replicas[0]), Running(replicas[1]):
            await wait_for(lambda: len(runs) == 2 and len(sent) == 1, within=5)
            await asyncio.sleep(0.8)
        assert runs == [1, 2]
        assert sent == ["remind:x"]
        assert await schedules[0].size() == 0
    finally:
        for client in clients:
            await client.aclose()


async def test_runner_survives_a_redis_stop_and_start() -> None:
    server = RedisServer(appendonly=True).start()
    client = aioredis.Redis.from_url(server.url, retry=Retry(NoBackoff(), 0), socket_timeout=0.5)
    try:
        clock = SystemClock()
        calls: Counter[str] = Counter()
        schedule = Schedule(client, prefix="outage")
        scheduler = Scheduler(schedule, recorder(calls), clock, max_idle_sleep=0.05, outage_backoff_max=0.2)
        await schedule.update({"remind:before": clock.now(), "remind:after": clock.now() + timedelta(seconds=1.5)})
        async with Running(scheduler) as running:
            await wait_for(lambda: calls["remind:before"] == 1)
            server.stop()
            await wait_for(lambda: scheduler.stats.redis_errors >= 3)
            assert running.task is not None
            assert not running.task.done()
            server.start()
            await wait_for(lambda: calls["remind:after"] == 1, within=10)
            await asyncio.sleep(0.2)
        assert calls == {"remind:before": 1, "remind:after": 1}
        assert await schedule.size() == 0
    finally:
        await client.aclose()
        server.close()


async def test_stop_finishes_in_flight_items_and_releases_the_rest(schedule: Schedule) -> None:
    clock = ManualClock()
    started = asyncio.Event()
    finish = asyncio.Event()
    calls: list[str] = []

    async def slow(item: DueItem) -> None:
        calls.append(item.key)
        started.set()
        await finish.wait()

    due = clock.now() - timedelta(seconds=5)
    await schedule.update({"a:1": due, "b:1": due + timedelta(seconds=1), "c:1": due + timedelta(seconds=2)})
    scheduler = Scheduler(schedule, slow, clock, concurrency=1, max_idle_sleep=0.05)
    stop = asyncio.Event()
    task = asyncio.create_task(scheduler.run(stop))
    await asyncio.wait_for(started.wait(), 5)
    stop.set()
    finish.set()
    await asyncio.wait_for(task, 5)
    assert calls == ["a:1"]
    assert await schedule.due_at("a:1") is None
    assert await schedule.due_at("b:1") == due + timedelta(seconds=1)
    assert await schedule.due_at("c:1") == due + timedelta(seconds=2)
    assert scheduler.stats.released == 2
    [b, c] = await schedule.claim(clock.now(), lease=timedelta(seconds=60), limit=10)
    assert (b.attempt, c.attempt) == (1, 1)


async def test_any_claim_error_is_survived(schedule: Schedule, redis_client: aioredis.Redis) -> None:
    await redis_client.set(schedule.keys.schedule, "not a sorted set")
    calls: Counter[str] = Counter()
    clock = SystemClock()
    scheduler = Scheduler(schedule, recorder(calls), clock, outage_backoff_max=0.02, max_idle_sleep=0.02)
    async with Running(scheduler) as running:
        await wait_for(lambda: scheduler.stats.redis_errors >= 5)
        assert running.task is not None
        assert not running.task.done()
        assert scheduler.stats.passes == 0
        await redis_client.delete(schedule.keys.schedule)
        await schedule.add("remind:x", clock.now())
        await wait_for(lambda: calls["remind:x"] == 1)


async def test_each_handler_waits_for_its_turn_first(schedule: Schedule) -> None:
    """The bot passes a turn that lets Slack acks go first; no handler may run before it is granted."""
    clock = ManualClock()
    calls: Counter[str] = Counter()
    gate = asyncio.Event()
    turns = 0

    @contextlib.asynccontextmanager
    async def turn() -> AsyncIterator[None]:
        nonlocal turns
        turns += 1
        await gate.wait()
        yield

    scheduler = Scheduler(schedule, recorder(calls), clock, turn=turn)
    await schedule.update({"remind:a": clock.now(), "remind:b": clock.now()})
    ticking = asyncio.create_task(scheduler.tick())
    await wait_for(lambda: turns == 2)
    await asyncio.sleep(0.05)
    assert calls == {} and not ticking.done()
    gate.set()
    assert {i.key for i in await asyncio.wait_for(ticking, 5)} == {"remind:a", "remind:b"}
    assert calls == {"remind:a": 1, "remind:b": 1}
    assert await schedule.size() == 0


async def test_run_now_handles_a_due_item_at_once_and_completes_it(schedule: Schedule) -> None:
    clock = ManualClock()
    calls: Counter[str] = Counter()
    scheduler = Scheduler(schedule, recorder(calls), clock)
    await schedule.add("card:a", clock.now())
    scheduler.run_now("card:a")
    await wait_for(lambda: scheduler.stats.completed == 1)
    assert calls == {"card:a": 1}
    assert await schedule.size() == 0


async def test_run_now_leaves_items_that_are_not_due_held_or_gone(schedule: Schedule) -> None:
    clock = ManualClock()
    calls: Counter[str] = Counter()
    scheduler = Scheduler(schedule, recorder(calls), clock)
    await schedule.update({"card:later": clock.now() + timedelta(seconds=5), "card:held": clock.now()})
    held = await schedule.claim_one("card:held", clock.now(), lease=timedelta(seconds=60))
    assert held is not None and held.attempt == 1
    for key in ("card:later", "card:held", "card:gone"):
        scheduler.run_now(key)
    await asyncio.sleep(0.2)
    assert calls == {}
    assert await schedule.due_at("card:later") == clock.now() + timedelta(seconds=5)
    assert await schedule.due_at("card:held") == clock.now() + timedelta(seconds=60)
    assert await schedule.complete(held)


async def test_run_now_and_two_running_replicas_handle_each_item_exactly_once(redis_server: RedisServer) -> None:
    clients = [aioredis.Redis.from_url(redis_server.url) for _ in range(2)]
    try:
        await clients[0].flushall()
        clock = SystemClock()
        calls: Counter[str] = Counter()

        async def handle(item: DueItem) -> None:
            calls[item.key] += 1
            await asyncio.sleep(0.001)

        schedules = [Schedule(c, prefix="now") for c in clients]
        replicas = [Scheduler(s, handle, clock, max_idle_sleep=0.001, concurrency=4) for s in schedules]
        async with Running(replicas[0]), Running(replicas[1]):
            for n in range(300):
                key = f"card:{n}"
                await schedules[n % 2].add(key, clock.now())
                replicas[n % 2].run_now(key)
                replicas[(n + 1) % 2].wake()
            await wait_for(lambda: len(calls) == 300)
            await asyncio.sleep(0.1)
        assert set(calls.values()) == {1}
        assert await schedules[0].size() == 0
        assert sum(r.stats.completed for r in replicas) == 300
    finally:
        for client in clients:
            await client.aclose()


async def test_run_now_parks_a_busy_item_and_backs_off_a_failing_one_like_the_loop(schedule: Schedule) -> None:
    clock = ManualClock()
    turn = clock.now() + timedelta(seconds=30)
    lease = timedelta(seconds=60)

    async def handle(item: DueItem) -> None:
        if item.key == "card:busy":
            raise ChannelBusy(turn)
        raise RuntimeError("slack is down")

    scheduler = Scheduler(schedule, handle, clock, lease=lease, retry_base=timedelta(seconds=1), max_idle_sleep=0.01)

    async def due() -> dict[str, datetime | None]:
        return {key: await schedule.due_at(key) for key in ("card:busy", "card:down")}

    async with Running(scheduler):
        await schedule.update({"card:busy": clock.now(), "card:down": clock.now()})
        scheduler.run_now("card:busy")
        scheduler.run_now("card:down")
        held = {"card:busy": turn + lease, "card:down": clock.now() + timedelta(seconds=1)}
        for _ in range(500):
            if await due() == held:
                break
            await asyncio.sleep(0.01)
        assert await due() == held
        assert scheduler.parked == 1
        assert (scheduler.stats.deferred, scheduler.stats.failed, scheduler.stats.completed) == (1, 1, 0)
    assert (await due())["card:busy"] == turn, "stop hands the parked card back at its turn"


async def test_run_waits_for_items_run_now_before_it_returns(schedule: Schedule) -> None:
    clock = SystemClock()
    release = asyncio.Event()
    finished: list[str] = []

    async def handle(item: DueItem) -> None:
        await release.wait()
        finished.append(item.key)

    scheduler = Scheduler(schedule, handle, clock, max_idle_sleep=0.01)
    stop = asyncio.Event()
    running = asyncio.create_task(scheduler.run(stop))
    await schedule.add("card:slow", clock.now() + timedelta(seconds=30))
    await schedule.add("card:now", clock.now())
    scheduler.run_now("card:now")
    await asyncio.sleep(0.05)
    stop.set()
    await asyncio.sleep(0.05)
    assert not running.done()
    release.set()
    await asyncio.wait_for(running, 5)
    assert finished == ["card:now"]


def busy_once(calls: Counter[str], turn: timedelta) -> Callable[[DueItem], Awaitable[None]]:
    """A handler whose first run finds its channel busy (its turn ``turn`` from now), and whose next run sends."""

    async def handle(item: DueItem) -> None:
        calls[item.key] += 1
        if calls[item.key] == 1:
            raise ChannelBusy(SystemClock().now() + turn)

    return handle


async def test_a_busy_item_is_parked_here_and_runs_again_at_its_turn_without_a_new_claim(schedule: Schedule) -> None:
    clock = SystemClock()
    calls: Counter[str] = Counter()
    scheduler = Scheduler(schedule, busy_once(calls, timedelta(seconds=0.5)), clock, max_idle_sleep=0.05)
    await schedule.add("card:x", clock.now())
    async with Running(scheduler):
        await wait_for(lambda: calls["card:x"] == 1)
        held_until = await schedule.due_at("card:x")
        assert held_until is not None and held_until - clock.now() > scheduler.lease, "held past its turn"
        await wait_for(lambda: scheduler.stats.completed == 1)
    assert calls["card:x"] == 2
    assert scheduler.stats.claimed == 1, "run again from the timer, not claimed again"
    assert (scheduler.stats.parked, scheduler.stats.failed) == (1, 0)
    assert await schedule.size() == 0


async def test_stop_hands_a_parked_item_back_at_its_turn_for_another_replica(schedule: Schedule) -> None:
    clock = SystemClock()
    calls: Counter[str] = Counter()
    scheduler = Scheduler(schedule, busy_once(calls, timedelta(minutes=5)), clock, max_idle_sleep=0.05)
    await schedule.add("card:x", clock.now())
    async with Running(scheduler):
        await wait_for(lambda: scheduler.stats.parked == 1)
    due = await schedule.due_at("card:x")
    assert due is not None and timedelta(minutes=4) < due - clock.now() <= timedelta(minutes=5)
    assert scheduler.stats.released == 1
    [item] = await schedule.claim(due, lease=timedelta(seconds=60), limit=10)
    assert item.key == "card:x"


async def test_an_item_moved_while_parked_is_not_run_by_its_old_holder(schedule: Schedule) -> None:
    clock = SystemClock()
    calls: Counter[str] = Counter()
    scheduler = Scheduler(schedule, busy_once(calls, timedelta(seconds=0.3)), clock, max_idle_sleep=0.05)
    await schedule.add("card:x", clock.now())
    async with Running(scheduler):
        await wait_for(lambda: scheduler.stats.parked == 1)
        await schedule.add("card:x", clock.now() + timedelta(minutes=5))  # e.g. a decision re-renders it later
        await asyncio.sleep(0.6)
    assert calls["card:x"] == 1
    assert await schedule.due_at("card:x") is not None


async def test_a_parked_item_whose_process_dies_is_run_by_another_replica(redis_server: RedisServer) -> None:
    """Crash backstop: the dead replica's lease (its turn plus the lease) runs out and the other replica runs it."""
    lease = timedelta(seconds=0.5)
    first: Counter[str] = Counter()
    clients: list[aioredis.Redis] = []

    async def replica_a_parks_then_dies() -> None:
        clients.append(aioredis.Redis.from_url(redis_server.url))
        await clients[0].flushall()
        schedule = Schedule(clients[0], prefix="crash")
        await schedule.add("card:x", SystemClock().now())
        scheduler = Scheduler(schedule, busy_once(first, timedelta(seconds=0.5)), SystemClock(), lease=lease)
        task = asyncio.create_task(scheduler.run(asyncio.Event()))
        await wait_for(lambda: scheduler.stats.parked == 1)
        asyncio.get_running_loop().stop()  # nothing of replica A runs after this
        await task

    dying = asyncio.new_event_loop()
    _in_thread(_run_until_stopped, dying, replica_a_parks_then_dies())
    assert first["card:x"] == 1

    client = aioredis.Redis.from_url(redis_server.url)
    try:
        schedule = Schedule(client, prefix="crash")
        second: Counter[str] = Counter()
        scheduler = Scheduler(schedule, recorder(second), SystemClock(), lease=lease, max_idle_sleep=0.05)
        async with Running(scheduler):
            await wait_for(lambda: second["card:x"] == 1, within=5)
        assert first["card:x"] == 1, "the dead replica never ran it again"
        assert await schedule.size() == 0
    finally:
        await client.aclose()
        _in_thread(_bury, dying, clients)


def _in_thread(target: Callable[..., None], *args: object) -> None:
    """Run another event loop's work beside the test's own loop (one thread may run one loop)."""
    thread = threading.Thread(target=target, args=args)
    thread.start()
    thread.join(10)


def _run_until_stopped(loop: asyncio.AbstractEventLoop, main: Coroutine[None, None, None]) -> None:
    with contextlib.suppress(RuntimeError):  # "Event loop stopped before Future completed": the process died
        loop.run_until_complete(main)


def _bury(loop: asyncio.AbstractEventLoop, clients: list[aioredis.Redis]) -> None:
    """What the OS does after a process dies: none of its work resumes (each task is cancelled where it stopped,
    before it takes another step) and its connections close."""
    tasks = asyncio.all_tasks(loop)
    for task in tasks:
        task.cancel()
    loop.run_until_complete(asyncio.gather(*tasks, return_exceptions=True))
    for client in clients:
        loop.run_until_complete(client.aclose())
    loop.close()
