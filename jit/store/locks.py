"""Lease locks in Redis: jitbot's replicas take turns writing one shared Azure object.

Azure's JIT objects have no conditional writes: a policy PUT replaces the whole document, an initiate replaces
the port's window. jitbot's own writers therefore take a lock per object (a VM's ports, a policy document)
before they read it and write it back, so two replicas never interleave their read-modify-write. A lock is a
key holding a random token with a short lease that the holder renews while it works: a crashed holder blocks
the others for at most one lease. Writers outside jitbot (the portal, the CLI) ignore
these locks; the callers re-read right before writing and verify afterwards for them.
"""

from __future__ import annotations

import asyncio
import contextlib
import secrets
import time
from collections.abc import AsyncIterator
from datetime import timedelta

from redis.exceptions import RedisError

from jit.ports.records import LockBusy
from jit.redis_connect import RedisClient
from jit.store.keys import DEFAULT_PREFIX, Keys

DEFAULT_LEASE = timedelta(seconds=3)
DEFAULT_WAIT = timedelta(seconds=90)

_RELEASE = """
if redis.call('GET', KEYS[1]) == ARGV[1] then
  return redis.call('DEL', KEYS[1])
end
return 0
"""
_RENEW = """
if redis.call('GET', KEYS[1]) == ARGV[1] then
  return redis.call('PEXPIRE', KEYS[1], ARGV[2])
end
return 0
"""


class Locks:
    """Lease locks with a wait; time here is the process's monotonic clock (leases are real time)."""

    def __init__(self, redis: RedisClient, *, prefix: str = DEFAULT_PREFIX):
        self._redis = redis
        self._keys = Keys(prefix)
        self._release = redis.register_script(_RELEASE)
        self._renew = redis.register_script(_RENEW)

    @contextlib.asynccontextmanager
    async def hold(
        self, name: str, *, lease: timedelta = DEFAULT_LEASE, wait: timedelta = DEFAULT_WAIT
    ) -> AsyncIterator[None]:
        """Hold the lock ``name`` for the body; waits up to ``wait`` for it, else raises LockBusy."""
        key = self._keys.lock(name)
        token = secrets.token_hex(16)
        lease_ms = max(1, int(lease.total_seconds() * 1000))
        deadline = time.monotonic() + wait.total_seconds()
        pause = 0.01
        while not await self._redis.set(key, token, nx=True, px=lease_ms):
            if time.monotonic() >= deadline:
                raise LockBusy(name)
            await asyncio.sleep(pause)
            pause = min(pause * 2, 0.25)
        renewing = asyncio.create_task(self._keep(key, token, lease_ms))
        try:
            yield
        finally:
            renewing.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await renewing
            with contextlib.suppress(RedisError):
                await self._release(keys=[key], args=[token])

    async def _keep(self, key: str, token: str, lease_ms: int) -> None:
        while True:
            await asyncio.sleep(lease_ms / 3000)
            with contextlib.suppress(RedisError):
                if not await self._renew(keys=[key], args=[token, str(lease_ms)]):
                    return
