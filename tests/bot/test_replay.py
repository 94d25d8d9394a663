"""The replay guard against a real Redis: one first sighting per signature, however many arrive at once."""

from __future__ import annotations

import asyncio

import pytest
import redis.asyncio as aioredis
from redis.asyncio.retry import Retry
from redis.backoff import NoBackoff

from bot.replay import ReplayGuard
from sandbox.redis_server import RedisServer


@pytest.fixture
def guard(redis_client: aioredis.Redis) -> ReplayGuard:
    return ReplayGuard(redis_client, "secret", prefix="test")


async def test_a_signature_is_new_once(guard: ReplayGuard) -> None:
    assert await guard.first_time("v0=abc") is True
    assert await guard.first_time("v0=abc") is False
    assert await guard.first_time("v0=def") is True


async def test_a_burst_is_answered_in_few_round_trips_with_exactly_one_first_per_signature(
    guard: ReplayGuard, redis_client: aioredis.Redis
) -> None:
    signatures = [f"v0={i % 100}" for i in range(300)]
    before = await _set_calls(redis_client)
    verdicts = await asyncio.gather(*(guard.first_time(s) for s in signatures))
    firsts = [s for s, first in zip(signatures, verdicts, strict=True) if first]
    assert sorted(firsts) == sorted(set(signatures))
    assert verdicts[:100] == [True] * 100 and not any(verdicts[100:])
    assert await _set_calls(redis_client) - before == 300
    assert len(guard._senders) == 0 and not guard._busy


async def test_redis_away_fails_every_waiting_check_and_the_guard_recovers(redis_server: RedisServer) -> None:
    broken = aioredis.Redis(host="127.0.0.1", port=1, socket_connect_timeout=0.5, retry=Retry(NoBackoff(), 0))
    guard = ReplayGuard(broken, "secret", prefix="test")
    outcomes = await asyncio.gather(*(guard.first_time(f"v0={i}") for i in range(20)), return_exceptions=True)
    assert all(isinstance(o, Exception) for o in outcomes)
    await broken.aclose()
    healthy = aioredis.Redis.from_url(redis_server.url)
    guard.redis = healthy
    try:
        assert await guard.first_time("v0=after-outage") is True
    finally:
        await healthy.aclose()


async def _set_calls(redis_client: aioredis.Redis) -> int:
    stats = await redis_client.info("commandstats")
    return int(stats.get("cmdstat_set", {}).get("calls", 0))
