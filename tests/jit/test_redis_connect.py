"""A burst of concurrent Redis calls waits for a pooled connection instead of failing."""

from __future__ import annotations

import asyncio

from jit.redis_connect import POOL_SIZE, connect_redis
from sandbox.redis_server import RedisServer


async def test_more_concurrent_calls_than_the_pool_holds_all_succeed(redis_server: RedisServer) -> None:
    client = connect_redis(redis_server.url)
    try:
        calls = 3 * POOL_SIZE
        results = await asyncio.gather(*(client.blpop([f"bench:nothing:{n}"], timeout=0.1) for n in range(calls)))
        assert results == [None] * calls
        assert client.connection_pool.max_connections == POOL_SIZE
    finally:
        await client.aclose()
