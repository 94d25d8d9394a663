"""Reads repeated for every subscription in scope, run a bounded number at a time.

One sweep over 500 subscriptions (the App Home inventory, the periodic sync, the per-subscription fallback) would
otherwise start about a thousand ARM reads at once: each holds its response body and a TLS connection until it is
parsed, so the bot's peak memory grows with the number of subscriptions, and ARM sees a burst that counts against
the principal's read limits all at once. A gateway has one ``FanOut``: sweeps running side by side share its limit,
so the sync and a cold inventory load together never have more than ``limit`` subscriptions in flight. Single
reads for a person's ``/jit`` do not pass through it and never wait behind a sweep.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Iterable
from typing import TypeVar

T = TypeVar("T")
R = TypeVar("R")


class FanOut:
    """Runs ``read(item)`` for every item, at most ``limit`` at a time across every sweep sharing this instance."""

    def __init__(self, limit: int):
        if limit < 1:
            raise ValueError(f"a fan-out limit must be at least 1, not {limit}")
        self._gate = asyncio.Semaphore(limit)

    async def each(self, items: Iterable[T], read: Callable[[T], Awaitable[R]]) -> list[R]:
        """The results in the order of ``items``; the first failure is raised at once (the other reads still run to
        their end and fill the caches, as with ``asyncio.gather``)."""

        async def one(item: T) -> R:
            async with self._gate:
                return await read(item)

        return list(await asyncio.gather(*(one(item) for item in items)))
