"""Suite-wide fixtures: a real redis-server for the whole run, and the full stack wired to it."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator

import pytest
import redis.asyncio as aioredis

from sandbox.redis_server import RedisServer
from sandbox.stack import Stack, StackOptions


@pytest.fixture(scope="session")
def redis_server() -> Iterator[RedisServer]:
    """One real redis-server for the session."""
    with RedisServer() as server:
        yield server


@pytest.fixture
async def redis_client(redis_server: RedisServer) -> AsyncIterator[aioredis.Redis]:
    """A client on a freshly flushed database."""
    client = aioredis.Redis.from_url(redis_server.url)
    await client.flushall()
    yield client
    await client.aclose()


@pytest.fixture
async def stack(redis_server: RedisServer) -> AsyncIterator[Stack]:
    """The whole system in the demo world (real bot over HTTP, both emulators), on the session's Redis."""
    async with Stack(StackOptions(redis_url=redis_server.url)) as running:
        yield running
