"""One-time "from me" links: stored hashed, looked at freely, used exactly once, expired on time."""

from __future__ import annotations

import asyncio
from datetime import timedelta

import redis.asyncio as aioredis

from jit.clock import ManualClock
from jit.store.source_links import LinkStatus, SourceLinks, token_digest
from sandbox.redis_server import RedisServer
from tests.jit.store.conftest import pending_source


async def test_a_link_is_looked_at_any_number_of_times_and_used_once(
    redis_client: aioredis.Redis, clock: ManualClock
) -> None:
    links = SourceLinks(redis_client, prefix="test")
    pending = pending_source(clock)
    await links.save("tok-1", pending, clock.now())

    for _ in range(3):
        assert (await links.look("tok-1", clock.now())).status is LinkStatus.VALID
    used = await links.use("tok-1", clock.now(), "198.51.100.7")
    again = await links.use("tok-1", clock.now(), "198.51.100.8")

    assert (used.status, used.pending) == (LinkStatus.VALID, pending)
    assert again.status is LinkStatus.USED and again.pending == pending
    assert (await links.look("tok-1", clock.now())).status is LinkStatus.USED


async def test_the_token_is_stored_only_as_its_digest(redis_client: aioredis.Redis, clock: ManualClock) -> None:
    await SourceLinks(redis_client, prefix="test").save("tok-secret", pending_source(clock), clock.now())

    keys = [key.decode() async for key in redis_client.scan_iter(match="test:*")]
    assert keys == [f"test:{{jit}}:source_link:{token_digest('tok-secret')}"]
    values = await redis_client.hgetall(keys[0])
    assert not any(b"tok-secret" in value for value in values.values())


async def test_an_expired_link_cannot_be_used_and_says_so(redis_client: aioredis.Redis, clock: ManualClock) -> None:
    links = SourceLinks(redis_client, prefix="test")
    await links.save("tok-1", pending_source(clock, valid_for=timedelta(minutes=10)), clock.now())
    clock.advance(timedelta(minutes=10))

    assert (await links.look("tok-1", clock.now())).status is LinkStatus.EXPIRED
    assert (await links.use("tok-1", clock.now(), "198.51.100.7")).status is LinkStatus.EXPIRED
    assert await redis_client.ttl(f"test:{{jit}}:source_link:{token_digest('tok-1')}") > 0, "the key goes later"


async def test_unknown_tokens_are_unknown(redis_client: aioredis.Redis, clock: ManualClock) -> None:
    links = SourceLinks(redis_client, prefix="test")
    await links.save("tok-1", pending_source(clock), clock.now())

    assert await links.look("tok-2", clock.now()) == (await links.use("tok-2", clock.now(), "198.51.100.7"))
    assert (await links.look("tok-2", clock.now())).status is LinkStatus.UNKNOWN


async def test_of_many_replicas_using_one_link_at_once_exactly_one_wins(
    redis_server: RedisServer, redis_client: aioredis.Redis, clock: ManualClock
) -> None:
    await SourceLinks(redis_client, prefix="test").save("tok-1", pending_source(clock), clock.now())
    clients = [aioredis.Redis.from_url(redis_server.url) for _ in range(8)]
    try:
        replicas = [SourceLinks(client, prefix="test") for client in clients]
        results = await asyncio.gather(
            *(r.use("tok-1", clock.now(), f"198.51.100.{i}") for i, r in enumerate(replicas))
        )
    finally:
        await asyncio.gather(*(client.aclose() for client in clients))

    assert sorted(result.status for result in results) == [LinkStatus.USED] * 7 + [LinkStatus.VALID]
