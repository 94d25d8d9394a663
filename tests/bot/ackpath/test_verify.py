"""The replay check against a real Redis: one first sighting per signature, however many arrive at once."""

from __future__ import annotations

import asyncio

import pytest
import redis.asyncio as aioredis
from redis.asyncio.retry import Retry
from redis.backoff import NoBackoff

from bot.ackpath.verify import RequestVerifier
from sandbox.redis_server import RedisServer


@pytest.fixture
def verifier(redis_client: aioredis.Redis) -> RequestVerifier:
    return RequestVerifier(redis_client, "secret", prefix="test")


async def test_a_signature_is_new_once(verifier: RequestVerifier) -> None:
    assert await verifier.first_time("v0=abc") is True
    assert await verifier.first_time("v0=abc") is False
    assert await verifier.first_time("v0=def") is True


async def test_a_burst_is_answered_in_few_round_trips_with_exactly_one_first_per_signature(
    verifier: RequestVerifier, redis_client: aioredis.Redis
) -> None:
    signatures = [f"v0={i % 100}" for i in range(300)]
    before = await _set_calls(redis_client)
    verdicts = await asyncio.gather(*(verifier.first_time(s) for s in signatures))
    firsts = [s for s, first in zip(signatures, verdicts, strict=True) if first]
    assert sorted(firsts) == sorted(set(signatures))
    assert verdicts[:100] == [True] * 100 and not any(verdicts[100:])
    assert await _set_calls(redis_client) - before == 300
    assert len(verifier._senders) == 0 and not verifier._busy


async def test_redis_away_fails_every_waiting_check_and_the_guard_recovers(redis_server: RedisServer) -> None:
    broken = aioredis.Redis(host="127.0.0.1", port=1, socket_connect_timeout=0.5, retry=Retry(NoBackoff(), 0))
    verifier = RequestVerifier(broken, "secret", prefix="test")
    outcomes = await asyncio.gather(*(verifier.first_time(f"v0={i}") for i in range(20)), return_exceptions=True)
    assert all(isinstance(o, Exception) for o in outcomes)
    await broken.aclose()
    healthy = aioredis.Redis.from_url(redis_server.url)
    verifier.redis = healthy
    try:
        assert await verifier.first_time("v0=after-outage") is True
    finally:
        await healthy.aclose()


async def _set_calls(redis_client: aioredis.Redis) -> int:
    stats = await redis_client.info("commandstats")
    return int(stats.get("cmdstat_set", {}).get("calls", 0))
