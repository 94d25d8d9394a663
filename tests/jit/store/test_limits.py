"""The per-user command rate limit."""

from __future__ import annotations

import asyncio
from datetime import timedelta

import redis.asyncio as aioredis

from jit.clock import ManualClock
from jit.store.limits import RateLimiter


async def test_allows_up_to_the_limit_per_minute(redis_client: aioredis.Redis, clock: ManualClock) -> None:
    limiter = RateLimiter(redis_client, clock, "test")
    decisions = []
    for _ in range(5):
        decisions.append(await limiter.hit("U1", 5))
        clock.advance(timedelta(seconds=1))
    assert all(d.allowed for d in decisions)
    assert [d.remaining for d in decisions] == [4, 3, 2, 1, 0]
    refused = await limiter.hit("U1", 5)
    assert not refused.allowed
    assert refused.retry_after == timedelta(seconds=55)
    assert (await limiter.hit("U2", 5)).allowed


async def test_window_slides(redis_client: aioredis.Redis, clock: ManualClock) -> None:
    limiter = RateLimiter(redis_client, clock, "test")
    assert (await limiter.hit("U1", 2)).allowed
    clock.advance(timedelta(seconds=30))
    assert (await limiter.hit("U1", 2)).allowed
    clock.advance(timedelta(seconds=29))
    assert not (await limiter.hit("U1", 2)).allowed
    clock.advance(timedelta(seconds=1))
    assert (await limiter.hit("U1", 2)).allowed
    late = await limiter.hit("U1", 2)
    assert not late.allowed
    assert late.retry_after == timedelta(seconds=30)


async def test_refused_hits_do_not_extend_the_wait(redis_client: aioredis.Redis, clock: ManualClock) -> None:
    limiter = RateLimiter(redis_client, clock, "test")
    await limiter.hit("U1", 1)
    for _ in range(50):
        clock.advance(timedelta(seconds=1))
        assert not (await limiter.hit("U1", 1)).allowed
    clock.advance(timedelta(seconds=10))
    assert (await limiter.hit("U1", 1)).allowed


async def test_concurrent_hits_never_exceed_the_limit(redis_client: aioredis.Redis, clock: ManualClock) -> None:
    limiter = RateLimiter(redis_client, clock, "test")
    decisions = await asyncio.gather(*(limiter.hit("U1", 20) for _ in range(100)))
    assert sum(d.allowed for d in decisions) == 20


async def test_zero_means_unlimited_and_keys_expire(redis_client: aioredis.Redis, clock: ManualClock) -> None:
    limiter = RateLimiter(redis_client, clock, "test")
    assert all([(await limiter.hit("U1", 0)).allowed for _ in range(100)])
    await limiter.hit("U2", 3)
    ttl = await redis_client.pttl("test:{jit}:rate:U2")
    assert 0 < ttl <= 60_000
