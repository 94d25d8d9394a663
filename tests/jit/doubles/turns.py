"""``jit.ports.records.Turns`` in memory: one asyncio lock per name, ``LockBusy`` once ``wait`` has passed."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from datetime import timedelta

from jit.ports.records import LockBusy
from jit.store.locks import DEFAULT_LEASE, DEFAULT_WAIT


class InMemoryTurns:
    """Named locks for the coroutines of one test. Leases are not modelled: nothing here crashes while holding one.

    ``default_wait`` stands in for the Redis adapter's ``DEFAULT_WAIT`` when a caller gives none (use cases do not),
    so a test can make a busy lock refuse at once instead of after 90 seconds.
    """

    def __init__(self, default_wait: timedelta = DEFAULT_WAIT):
        self.default_wait = default_wait
        self._locks: dict[str, asyncio.Lock] = {}

    @contextlib.asynccontextmanager
    async def hold(
        self, name: str, *, lease: timedelta = DEFAULT_LEASE, wait: timedelta | None = None
    ) -> AsyncIterator[None]:
        """Hold ``name`` for the body; raises LockBusy when it stays taken for ``wait``."""
        lock = self._locks.setdefault(name, asyncio.Lock())
        patience = (self.default_wait if wait is None else wait).total_seconds()
        if lock.locked():
            try:
                await asyncio.wait_for(lock.acquire(), timeout=patience)
            except TimeoutError:
                raise LockBusy(name) from None
        else:
            await lock.acquire()
        try:
            yield
        finally:
            lock.release()

    def held(self, name: str) -> bool:
        """Whether someone holds ``name`` now."""
        lock = self._locks.get(name)
        return lock is not None and lock.locked()
