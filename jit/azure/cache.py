"""A short-lived cache of ARM reads that shares one in-flight fetch between concurrent callers.

Listing VMs or JIT policies is slow and rate-limited by ARM; a burst of ``/jit`` commands must not turn into
a burst of identical list calls, and a write we just made must be visible on the next read.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Hashable, Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Generic, TypeVar

from jit.clock import Clock

K = TypeVar("K", bound=Hashable)
V = TypeVar("V")


@dataclass(frozen=True, slots=True)
class _Entry(Generic[V]):
    value: V
    stored: datetime
    expires: datetime


class TtlCache(Generic[K, V]):
    """Values expire after ``ttl`` on the injected clock; concurrent misses for one key share a single load."""

    def __init__(self, clock: Clock, ttl: timedelta):
        self._clock = clock
        self._ttl = ttl
        self._entries: dict[K, _Entry[V]] = {}
        self._inflight: dict[K, asyncio.Task[V]] = {}
        self._generation: dict[K, int] = {}

    def peek(self, key: K) -> V | None:
        """The cached value if still fresh, without loading."""
        entry = self._entries.get(key)
        if entry is None or entry.expires <= self._clock.now():
            return None
        return entry.value

    def stored_keys(self) -> list[K]:
        """The keys with a stored value (fresh or not)."""
        return list(self._entries)

    def age(self, key: K) -> timedelta | None:
        """How long ago the fresh cached value was loaded; None when there is none."""
        return None if self.peek(key) is None else self._clock.now() - self._entries[key].stored

    async def get(self, key: K, load: Callable[[], Awaitable[V]]) -> V:
        """The fresh cached value, or the result of ``load`` (started at most once per key at a time)."""
        cached = self.peek(key)
        if cached is not None:
            return cached
        task = self._inflight.get(key)
        if task is None:
            task = asyncio.ensure_future(self._load(key, load, self._generation.get(key, 0)))
            self._inflight[key] = task
            task.add_done_callback(lambda done: self._finished(key, done))
        return await asyncio.shield(task)

    def put(self, key: K, value: V) -> None:
        """Store a value we just read fresh for another reason, so the next lookup can use it."""
        self.put_many(((key, value),))

    def put_many(self, items: Iterable[tuple[K, V]]) -> None:
        """Store values read fresh together (a whole inventory's VMs): one ``put`` each, sharing one timestamp."""
        now = self._clock.now()
        expires = now + self._ttl
        for key, value in items:
            self._generation[key] = self._generation.get(key, 0) + 1
            self._entries[key] = _Entry(value, now, expires)

    def invalidate(self, key: K | None = None) -> None:
        """Forget one key (or everything); an in-flight load for it will not be stored."""
        keys = list(set(self._entries) | set(self._inflight)) if key is None else [key]
        for each in keys:
            self._entries.pop(each, None)
            self._inflight.pop(each, None)
            self._generation[each] = self._generation.get(each, 0) + 1

    async def drain(self) -> None:
        """Cancel the loads still in flight and wait until they have stopped: callers may stop waiting for a load
        (a read given a time budget), and its task must not outlive the clients it uses."""
        tasks = list(self._inflight.values())
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)

    async def _load(self, key: K, load: Callable[[], Awaitable[V]], generation: int) -> V:
        value = await load()
        if self._generation.get(key, 0) == generation:
            self._store(key, value)
        return value

    def _store(self, key: K, value: V) -> None:
        now = self._clock.now()
        self._entries[key] = _Entry(value, now, now + self._ttl)

    def _finished(self, key: K, task: asyncio.Task[V]) -> None:
        if self._inflight.get(key) is task:
            del self._inflight[key]
        if not task.cancelled():
            task.exception()
