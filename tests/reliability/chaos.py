"""Patient user steps for tests where the bot dies at random: retry what a person (or Slack) would retry.

A ``kill -9`` can land before a command's lazy listener ran, so a step is repeated until its effect is
visible in Redis; HTTP errors while the bot restarts are waited out; and because a killed replica's leased
schedule items come back only when their lease runs out, a step that stalls moves the shared clock past
the lease. None of this hides a defect: a step that never takes effect fails the test.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from datetime import timedelta
from typing import TypeVar

import aiohttp
import redis.exceptions

from sandbox.slack_driver import DriverResponse
from tests.reliability.world import World

T = TypeVar("T")
LEASE = timedelta(seconds=61)


class StepTimeout(AssertionError):
    """A step never took effect."""


async def http(send: Callable[[], Awaitable[DriverResponse]], seconds: float = 30.0) -> DriverResponse:
    """Post until the bot acks with HTTP 200 (it may be restarting)."""
    deadline = time.monotonic() + seconds
    while True:
        try:
            response = await send()
            if response.status == 200:
                return response
        except (aiohttp.ClientError, TimeoutError):
            pass
        if time.monotonic() > deadline:
            raise StepTimeout("the bot never acked")
        await asyncio.sleep(0.2)


async def redis_read(read: Callable[[], Awaitable[T]]) -> T:
    """A read of the bots' Redis that waits out a Redis restart."""
    for _ in range(100):
        try:
            return await read()
        except (redis.exceptions.ConnectionError, redis.exceptions.TimeoutError, OSError):
            await asyncio.sleep(0.1)
    return await read()


async def until(
    world: World,
    check: Callable[[], Awaitable[T | None]],
    *,
    what: str,
    retry: Callable[[], Awaitable[object]] | None = None,
    stall: float = 3.0,
    seconds: float = 60.0,
) -> T:
    """Wait for ``check`` to return a value; after each ``stall`` seconds, ``retry`` and move time past a lease."""
    deadline = time.monotonic() + seconds
    next_nudge = time.monotonic() + stall
    while True:
        value = await redis_read(check)
        if value is not None:
            return value
        now = time.monotonic()
        if now > deadline:
            raise StepTimeout(f"{what} did not happen in {seconds} s\n{world.logs()}")
        if now > next_nudge:
            if retry is not None:
                await retry()
            world.advance(LEASE)
            next_nudge = now + stall
        await asyncio.sleep(0.1)


async def poll(check: Callable[[], T | None], *, what: str, seconds: float = 15.0) -> T:
    """Wait for a plain predicate (on emulator state) to return a value."""
    deadline = time.monotonic() + seconds
    while (value := check()) is None or value is False:
        if time.monotonic() > deadline:
            raise StepTimeout(f"{what} did not happen in {seconds} s")
        await asyncio.sleep(0.05)
    return value
