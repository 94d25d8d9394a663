"""A full stack per test: the real bot over HTTP, real Redis, the Slack and Azure emulators."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from sandbox.redis_server import RedisServer
from sandbox.stack import Stack, StackOptions


@pytest.fixture
async def stack(redis_server: RedisServer) -> AsyncIterator[Stack]:
    """The demo world, sharing the session's redis-server under a fresh key prefix."""
    async with Stack(StackOptions(redis_url=redis_server.url)) as running:
        yield running
