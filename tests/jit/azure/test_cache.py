"""The TTL cache: expiry on the injected clock, single-flight loads, invalidation during a load."""

from __future__ import annotations

import asyncio
from datetime import timedelta

import pytest

from jit.azure.cache import TtlCache
from jit.clock import ManualClock


class Loader:
    def __init__(self) -> None:
        self.calls = 0
        self.gate = asyncio.Event()
        self.gate.set()

    async def __call__(self) -> int:
        self.calls += 1
        number = self.calls
        await self.gate.wait()
        return number


async def test_value_is_reused_until_ttl() -> None:
    clock = ManualClock()
    cache: TtlCache[str, int] = TtlCache(clock, timedelta(seconds=60))
    load = Loader()
    assert await cache.get("k", load) == 1
    clock.advance(timedelta(seconds=59))
    assert await cache.get("k", load) == 1
    clock.advance(timedelta(seconds=2))
    assert await cache.get("k", load) == 2


async def test_concurrent_misses_share_one_load() -> None:
    cache: TtlCache[str, int] = TtlCache(ManualClock(), timedelta(seconds=60))
    load = Loader()
    load.gate.clear()
    waiters = [asyncio.create_task(cache.get("k", load)) for _ in range(20)]
    await asyncio.sleep(0)
    load.gate.set()
    assert await asyncio.gather(*waiters) == [1] * 20
    assert load.calls == 1


async def test_invalidation_during_load_is_not_cached_and_next_get_reloads() -> None:
    cache: TtlCache[str, int] = TtlCache(ManualClock(), timedelta(seconds=60))
    load = Loader()
    load.gate.clear()
    first = asyncio.create_task(cache.get("k", load))
    await asyncio.sleep(0)
    cache.invalidate("k")
    second = asyncio.create_task(cache.get("k", load))
    await asyncio.sleep(0)
    load.gate.set()
    assert await first == 1
    assert await second == 2
    assert await cache.get("k", load) == 2


async def test_failed_load_is_not_cached_and_reaches_every_waiter() -> None:
    cache: TtlCache[str, int] = TtlCache(ManualClock(), timedelta(seconds=60))
    attempts = 0

    async def failing() -> int:
        nonlocal attempts
        attempts += 1
        await asyncio.sleep(0)
        raise RuntimeError("boom")

    results = await asyncio.gather(cache.get("k", failing), cache.get("k", failing), return_exceptions=True)
    assert all(isinstance(r, RuntimeError) for r in results)
    assert attempts == 1
    with pytest.raises(RuntimeError):
        await cache.get("k", failing)
    assert attempts == 2


async def test_cancelled_caller_does_not_cancel_shared_load() -> None:
    cache: TtlCache[str, int] = TtlCache(ManualClock(), timedelta(seconds=60))
    load = Loader()
    load.gate.clear()
    impatient = asyncio.create_task(cache.get("k", load))
    patient = asyncio.create_task(cache.get("k", load))
    await asyncio.sleep(0)
    impatient.cancel()
    load.gate.set()
    assert await patient == 1
    assert cache.peek("k") == 1


async def test_a_load_nobody_waits_for_goes_on_and_is_kept() -> None:
    cache: TtlCache[str, int] = TtlCache(ManualClock(), timedelta(seconds=60))
    load = Loader()
    load.gate.clear()
    with pytest.raises(TimeoutError):
        await asyncio.wait_for(cache.get("k", load), timeout=0.01)
    load.gate.set()
    assert await cache.get("k", load) == 1
    assert load.calls == 1


async def test_drain_stops_the_loads_still_in_flight() -> None:
    cache: TtlCache[str, int] = TtlCache(ManualClock(), timedelta(seconds=60))
    stopped = asyncio.Event()

    async def never() -> int:
        try:
            await asyncio.Event().wait()
        finally:
            stopped.set()
        return 0

    with pytest.raises(TimeoutError):
        await asyncio.wait_for(cache.get("k", never), timeout=0.01)
    assert not stopped.is_set()
    await cache.drain()
    assert stopped.is_set()
    assert cache.peek("k") is None


async def test_values_put_together_are_kept_until_ttl_and_win_over_a_load_in_flight() -> None:
    clock = ManualClock()
    cache: TtlCache[str, int] = TtlCache(clock, timedelta(seconds=60))
    load = Loader()
    load.gate.clear()
    loading = asyncio.ensure_future(cache.get("a", load))
    await asyncio.sleep(0)
    cache.put_many([("a", 10), ("b", 20)])
    load.gate.set()
    assert await loading == 1
    assert (cache.peek("a"), cache.peek("b")) == (10, 20), "the fresher values are not overwritten by the load"
    clock.advance(timedelta(seconds=61))
    assert (cache.peek("a"), cache.peek("b")) == (None, None)
