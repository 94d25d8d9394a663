"""The runner that turns due schedule items into work: reminders, expiry, pending timeouts, reconciliation.

Each pass claims a batch of due items with a lease (one Redis command when idle), runs the handler for
each, and completes them. A failing handler gets its item back after an exponential backoff (capped at
the lease) instead of being retried in a tight loop; an unreachable Redis is logged and retried with
backoff; nothing but cancellation ends the loop. Between passes it sleeps until the next item is due or
``max_idle_sleep``, whichever is sooner (``wake()`` cuts the sleep short when this process schedules
something sooner). On ``stop`` it finishes the handlers already running and hands back items it claimed
but did not start, so another replica takes them at once.

``turn``, when given, wraps each handler: the bot passes one that lets acks Slack is waiting on go first and
bounds how much background work runs at once (``bot.ackpath.background``).

``run_now(key)`` runs one item that was just scheduled due now (a request's approval card) in this process at
once, instead of waiting for the loop to wake, claim and start it: it claims that item alone, with the same lease,
so the loop or another replica that got there first keeps it, and it is handled, deferred, retried and completed
exactly like a claimed item. ``run`` waits for those runs before it returns.

A handler that raises ``ChannelBusy`` (a Slack channel at its posting rate) has its item parked until the turn it
was given, without a failure or a backoff: it never waits inside its slot, so other work is not held up behind it.
Parked, the item stays claimed by this process, its lease extended to the turn plus ``lease``, and a timer here
runs it again at the turn: a turn is not missed because passes run late under thousands of due items, and the
schedule does not churn with items handed back and claimed again. Before it runs again the claim is checked (and
the lease renewed); a lost claim means the item was moved and runs where it now is. If this process dies, the lease
runs out and any replica runs the item; on ``stop``, parked items are handed back at once, due at their turns.
``tick`` (one pass, for tests) hands a busy item back to run at its turn instead.

Delivery is at-least-once: a handler that outlives its lease, or a crash between the handler and
``complete``, runs the item again. Handlers guard notifications with ``Schedule.mark_done``.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from typing import TypeVar

from jit.clock import Clock
from jit.ports.notify import ChannelBusy
from jit.store.schedule import DueItem, Schedule

Handler = Callable[[DueItem], Awaitable[None]]
T = TypeVar("T")

log = logging.getLogger(__name__)


@dataclass
class SchedulerStats:
    """Counters for the metrics endpoint and the tests."""

    passes: int = 0
    claimed: int = 0
    completed: int = 0
    failed: int = 0
    deferred: int = 0
    parked: int = 0
    """Items parked until their turn (``ChannelBusy``), in all; ``Scheduler.parked`` counts those parked now."""
    released: int = 0
    redis_errors: int = 0
    last_lag_seconds: float = 0.0


class Scheduler:
    """Claims due items from a Schedule and hands them to ``handler``; safe to run on several replicas."""

    def __init__(
        self,
        schedule: Schedule,
        handler: Handler,
        clock: Clock,
        *,
        lease: timedelta = timedelta(seconds=60),
        batch: int = 100,
        max_idle_sleep: float = 1.0,
        concurrency: int = 16,
        retry_base: timedelta = timedelta(seconds=1),
        outage_backoff_max: float = 5.0,
        turn: Callable[[], AbstractAsyncContextManager[None]] | None = None,
    ):
        self._schedule = schedule
        self._handler = handler
        self._clock = clock
        self.lease = lease
        self.batch = batch
        self.max_idle_sleep = max_idle_sleep
        self.retry_base = retry_base
        self.outage_backoff_max = outage_backoff_max
        self._slots = asyncio.Semaphore(concurrency)
        self._turn = turn
        self._wake = asyncio.Event()
        self._stop = asyncio.Event()
        self._running_now: set[asyncio.Task[None]] = set()
        self._parked: dict[str, asyncio.Task[None]] = {}
        self.stats = SchedulerStats()

    @property
    def parked(self) -> int:
        """How many items this process holds until their turn."""
        return len(self._parked)

    def wake(self) -> None:
        """Cut the current sleep short: something was scheduled that may be due sooner."""
        self._wake.set()

    def run_now(self, key: str) -> None:
        """Handle ``key`` here at once if it is due and nobody holds it (the loop is not woken for it)."""
        task = asyncio.get_running_loop().create_task(self._run_one(key))
        self._running_now.add(task)
        task.add_done_callback(self._running_now.discard)

    async def _run_one(self, key: str) -> None:
        try:
            item = await self._schedule.claim_one(key, self._clock.now(), lease=self.lease)
        except Exception as exc:
            self.stats.redis_errors += 1
            log.warning("scheduler.claim_failed", extra={"item": key, "error": repr(exc)})
            self.wake()
            return
        if item is not None:
            await self._handle_all([item], self._stop, park=True)

    def retry_delay(self, attempt: int) -> timedelta:
        """Backoff before re-running an item that failed on its ``attempt``-th delivery."""
        return min(self.lease, self.retry_base * (1 << min(max(attempt - 1, 0), 30)))

    async def tick(self) -> list[DueItem]:
        """One claim-and-handle pass at the clock's current time; returns the items claimed."""
        batch = await self._schedule.claim_batch(self._clock.now(), lease=self.lease, limit=self.batch)
        await self._handle_all(batch.items, asyncio.Event(), park=False)
        return batch.items

    async def run(self, stop: asyncio.Event) -> None:
        """Run passes until ``stop`` is set; survives handler failures and Redis outages."""
        self._stop = stop
        try:
            await self._loop(stop)
        finally:
            await asyncio.gather(*self._running_now, return_exceptions=True)

    async def _loop(self, stop: asyncio.Event) -> None:
        outage_backoff = 0.05
        while not stop.is_set():
            try:
                batch = await self._schedule.claim_batch(self._clock.now(), lease=self.lease, limit=self.batch)
            except Exception as exc:
                self.stats.redis_errors += 1
                log.warning("scheduler.claim_failed", extra={"error": repr(exc), "retry_in": outage_backoff})
                await self._sleep(stop, outage_backoff)
                outage_backoff = min(outage_backoff * 2, self.outage_backoff_max)
                continue
            outage_backoff = 0.05
            self.stats.passes += 1
            await self._handle_all(batch.items, stop, park=True)
            if len(batch.items) >= self.batch:
                continue
            delay = self.max_idle_sleep
            if batch.next_due is not None:
                until_due = (batch.next_due - self._clock.now()).total_seconds()
                delay = min(delay, max(until_due, 0.0))
            await self._sleep(stop, delay)
        while self._parked:  # each wakes on stop and hands its item back (or finishes the run it started)
            await asyncio.gather(*self._parked.values(), return_exceptions=True)

    async def _sleep(self, stop: asyncio.Event, seconds: float) -> None:
        if seconds <= 0:
            await asyncio.sleep(0)
            return
        waiters = [asyncio.create_task(stop.wait()), asyncio.create_task(self._wake.wait())]
        _, pending = await asyncio.wait(waiters, timeout=seconds, return_when=asyncio.FIRST_COMPLETED)
        for task in pending:
            task.cancel()
        await asyncio.gather(*pending, return_exceptions=True)
        self._wake.clear()

    async def _handle_all(self, items: list[DueItem], stop: asyncio.Event, *, park: bool) -> None:
        if not items:
            return
        self.stats.claimed += len(items)
        handled = await asyncio.gather(*(self._handle(item, stop, park=park) for item in items))
        done = [item for item, ok in zip(items, handled, strict=True) if ok]
        if done:
            completed = await self._settle("complete", f"{len(done)} items", self._schedule.complete_many(done))
            self.stats.completed += sum(completed or [])

    async def _handle(self, item: DueItem, stop: asyncio.Event, *, park: bool) -> bool:
        """Run the handler for one item; True when it succeeded and the item should be completed."""
        async with self._slots:
            if stop.is_set():
                if await self._settle("release", item.key, self._schedule.release(item)):
                    self.stats.released += 1
                return False
            try:
                async with self._turn() if self._turn is not None else contextlib.nullcontext():
                    self.stats.last_lag_seconds = max(0.0, (self._clock.now() - item.due).total_seconds())
                    await self._handler(item)
            except ChannelBusy as busy:
                self.stats.deferred += 1
                if park and not stop.is_set():
                    await self._park(item, busy.turn, stop)
                else:
                    await self._settle("defer", item.key, self._schedule.retry(item, busy.turn))
                return False
            except Exception as exc:
                self.stats.failed += 1
                delay = self.retry_delay(item.attempt)
                log.warning(
                    "scheduler.handler_failed",
                    extra={"item": item.key, "attempt": item.attempt, "error": repr(exc), "retry_in": str(delay)},
                    exc_info=True,
                )
                await self._settle("retry", item.key, self._schedule.retry(item, self._clock.now() + delay))
                return False
            return True

    async def _park(self, item: DueItem, turn: datetime, stop: asyncio.Event) -> None:
        """Keep ``item`` claimed until ``turn`` plus the lease and run it again here at ``turn``."""
        if not await self._settle("hold", item.key, self._schedule.hold(item, turn + self.lease)):
            return  # moved meanwhile (it runs where it now is), or Redis is away (the lease runs out)
        self.stats.parked += 1
        self._parked[item.key] = asyncio.create_task(self._run_parked(replace(item, due=turn), stop))

    async def _run_parked(self, item: DueItem, stop: asyncio.Event) -> None:
        """At ``item``'s turn: renew its claim, run it, complete it (or park it again). On ``stop``: hand it back."""
        try:
            delay = (item.due - self._clock.now()).total_seconds()
            if delay > 0:
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(stop.wait(), delay)
            if stop.is_set():
                if await self._settle("release", item.key, self._schedule.release(item)):
                    self.stats.released += 1
                return
            if not await self._settle("hold", item.key, self._schedule.hold(item, self._clock.now() + self.lease)):
                return
            if await self._handle(item, stop, park=True):
                completed = await self._settle("complete", item.key, self._schedule.complete_many([item]))
                self.stats.completed += sum(completed or [])
        finally:
            if self._parked.get(item.key) is asyncio.current_task():
                del self._parked[item.key]

    async def _settle(self, action: str, what: str, step: Awaitable[T]) -> T | None:
        """Run a lease update; if Redis is away the lease simply runs out and the item comes back."""
        try:
            return await step
        except Exception as exc:
            self.stats.redis_errors += 1
            log.warning(f"scheduler.{action}_failed", extra={"item": what, "error": repr(exc)})
            return None
