"""Lease locks on a real Redis: one holder at a time across clients, a crashed holder's lease runs out, a long
holder keeps its lease, and nobody releases a lock they do not hold."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import timedelta

import pytest
import redis.asyncio as aioredis

from jit.ports.records import LockBusy
from jit.store.keys import Keys
from jit.store.locks import Locks
from sandbox.redis_server import RedisServer


@pytest.fixture
async def clients(redis_server: RedisServer) -> AsyncIterator[list[aioredis.Redis]]:
    made = [aioredis.Redis.from_url(redis_server.url) for _ in range(3)]
    await made[0].flushall()
    yield made
    for client in made:
        await client.aclose()


async def test_one_holder_at_a_time_across_clients(clients: list[aioredis.Redis]) -> None:
    inside = 0
    most = 0
    order: list[int] = []

    async def work(index: int) -> None:
        nonlocal inside, most
        async with Locks(clients[index % 3], prefix="t").hold("vm:web-01"):
            inside += 1
            most = max(most, inside)
            await asyncio.sleep(0.01)
            order.append(index)
            inside -= 1

    await asyncio.gather(*(work(i) for i in range(12)))
    assert most == 1
    assert sorted(order) == list(range(12))


async def test_different_names_do_not_wait_for_each_other(clients: list[aioredis.Redis]) -> None:
    locks = Locks(clients[0], prefix="t")
    async with locks.hold("vm:a"):
        async with asyncio.timeout(1):
            async with Locks(clients[1], prefix="t").hold("vm:b", wait=timedelta(seconds=0)):
                pass


async def test_a_crashed_holders_lease_runs_out(clients: list[aioredis.Redis]) -> None:
    await clients[0].set(Keys("t").lock("vm:web-01"), "someone-who-crashed", px=200)
    async with asyncio.timeout(5):
        async with Locks(clients[1], prefix="t").hold("vm:web-01"):
            pass


async def test_waiting_too_long_is_lockbusy(clients: list[aioredis.Redis]) -> None:
    await clients[0].set(Keys("t").lock("vm:web-01"), "a-long-holder", px=60_000)
    with pytest.raises(LockBusy):
        async with Locks(clients[1], prefix="t").hold("vm:web-01", wait=timedelta(milliseconds=100)):
            pass
    assert await clients[0].get(Keys("t").lock("vm:web-01")) == b"a-long-holder", "not released by a non-holder"


async def test_a_holder_working_past_its_lease_keeps_the_lock(clients: list[aioredis.Redis]) -> None:
    lease = timedelta(milliseconds=150)
    async with Locks(clients[0], prefix="t").hold("vm:web-01", lease=lease):
        await asyncio.sleep(0.5)
        with pytest.raises(LockBusy):
            async with Locks(clients[1], prefix="t").hold("vm:web-01", wait=timedelta(milliseconds=50)):
                pass
    assert await clients[0].get(Keys("t").lock("vm:web-01")) is None, "released at the end"
