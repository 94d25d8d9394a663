"""Due work in a Redis sorted set, claimed with a lease so several replicas share it safely.

Items are keys like ``remind:<request id>`` scored by their due time (epoch seconds). ``claim`` takes the
due ones and pushes each to ``now + lease`` in one Lua step, recording a claim token: if the worker dies,
the item simply becomes due again when the lease runs out (at-least-once delivery). ``complete`` removes
an item only for the worker that still holds its claim, so a slow worker can never delete work that was
re-claimed or rescheduled meanwhile. Sent-markers (``mark_done``) turn at-least-once into exactly-once for
notifications: whoever marks first sends. See ``jit.store.keys`` for the key layout.
"""

from __future__ import annotations

import json
import secrets
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from jit.redis_connect import RedisClient
from jit.store import lua
from jit.store.keys import DEFAULT_PREFIX, Keys

DEFAULT_DONE_TTL = timedelta(days=14)


def item_key(kind: str, subject: str) -> str:
    """``kind:subject``, e.g. ``remind:jr-abc``: one due item per kind of work and request."""
    if ":" in kind:
        raise ValueError(f"item kind {kind!r} cannot contain ':'")
    return f"{kind}:{subject}"


def _epoch(at: datetime) -> str:
    return repr(at.timestamp())


def _from_epoch(value: Any) -> datetime:
    return datetime.fromtimestamp(float(_text(value)), UTC)


def _text(value: Any) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)


@dataclass(frozen=True)
class DueItem:
    """A claimed item: ``token`` proves the claim; ``attempt`` counts deliveries since it was scheduled."""

    key: str
    due: datetime
    token: str
    attempt: int = 1

    @property
    def kind(self) -> str:
        """What to do (``remind``, ``expire``, ``timeout``, ``reconcile`` …)."""
        return self.key.partition(":")[0]

    @property
    def subject(self) -> str:
        """What to do it to: usually a request id."""
        return self.key.partition(":")[2]


@dataclass(frozen=True)
class ClaimBatch:
    """What one claim took, and when the earliest remaining item is due (for the runner's sleep)."""

    items: list[DueItem]
    next_due: datetime | None


class Schedule:
    """The shared schedule of due work."""

    def __init__(self, redis: RedisClient, *, prefix: str = DEFAULT_PREFIX, done_ttl: timedelta = DEFAULT_DONE_TTL):
        self._redis = redis
        self.keys = Keys(prefix)
        self.done_ttl = done_ttl
        self._set = redis.register_script(lua.SCHEDULE_SET)
        self._claim = redis.register_script(lua.CLAIM)
        self._claim_one = redis.register_script(lua.CLAIM_ONE)
        self._complete = redis.register_script(lua.COMPLETE)
        self._requeue = redis.register_script(lua.REQUEUE)
        self._hold = redis.register_script(lua.HOLD)

    @property
    def _keys(self) -> list[str]:
        return [self.keys.schedule, self.keys.claims, self.keys.attempts]

    async def add(self, key: str, due: datetime) -> None:
        """Schedule (or move) ``key`` to ``due``; a claim held on it is dropped, so its holder cannot remove it."""
        await self.update({key: due})

    async def remove(self, key: str) -> None:
        """Unschedule ``key`` (and drop any claim on it)."""
        await self.update({}, remove=[key])

    async def update(self, add: Mapping[str, datetime], remove: Iterable[str] = ()) -> None:
        """Add and remove several items in one atomic step."""
        payload = {"add": [[k, _epoch(d)] for k, d in add.items()], "remove": list(remove)}
        await self._set(keys=self._keys, args=[json.dumps(payload, ensure_ascii=False)])

    async def due_at(self, key: str) -> datetime | None:
        """When ``key`` is due (or its lease ends, while claimed); None when not scheduled."""
        score = await self._redis.zscore(self.keys.schedule, key)
        return None if score is None else _from_epoch(score)

    async def claim_batch(self, now: datetime, *, lease: timedelta, limit: int) -> ClaimBatch:
        """Claim up to ``limit`` items due at ``now`` and report the next due time, in one command.

        O(log n + limit): the runner's idle tick is exactly this one call.
        """
        token_base = secrets.token_hex(8)
        reply = await self._claim(keys=self._keys, args=[_epoch(now), _epoch(now + lease), str(limit), token_base])
        flat: Sequence[Any] = reply[0]
        items = [
            DueItem(_text(flat[i]), _from_epoch(flat[i + 1]), _text(flat[i + 2]), int(flat[i + 3]))
            for i in range(0, len(flat), 4)
        ]
        next_due = _from_epoch(reply[1]) if len(reply) > 1 and reply[1] is not None else None
        return ClaimBatch(items, next_due)

    async def claim_one(self, key: str, now: datetime, *, lease: timedelta) -> DueItem | None:
        """Claim ``key`` alone, like ``claim_batch`` would, if it is due at ``now`` and nobody holds it; else None."""
        token = f"{secrets.token_hex(8)}.1"
        reply = await self._claim_one(keys=self._keys, args=[key, _epoch(now), _epoch(now + lease), token])
        if not reply:
            return None
        return DueItem(key, _from_epoch(reply[0]), token, int(reply[1]))

    async def claim(self, now: datetime, *, lease: timedelta, limit: int) -> list[DueItem]:
        """Claim up to ``limit`` items due at ``now``; each comes back due at ``now + lease`` unless completed."""
        return (await self.claim_batch(now, lease=lease, limit=limit)).items

    async def complete(self, item: DueItem) -> bool:
        """Remove a handled item, only if ``item``'s claim still holds; False if it was re-claimed or moved."""
        return (await self.complete_many([item]))[0]

    async def complete_many(self, items: Sequence[DueItem]) -> list[bool]:
        """``complete`` for a batch in one command (the runner completes a whole pass at once)."""
        if not items:
            return []
        args = [part for item in items for part in (item.key, item.token)]
        return [bool(done) for done in await self._complete(keys=self._keys, args=args)]

    async def release(self, item: DueItem) -> bool:
        """Hand an unhandled item back, due at its original time (graceful shutdown)."""
        return bool(await self._requeue(keys=self._keys, args=[item.key, item.token, _epoch(item.due), "-1"]))

    async def retry(self, item: DueItem, at: datetime) -> bool:
        """Hand a failed item back to run again at ``at`` (the runner's backoff)."""
        return bool(await self._requeue(keys=self._keys, args=[item.key, item.token, _epoch(at), "0"]))

    async def hold(self, item: DueItem, until: datetime) -> bool:
        """Keep ``item`` claimed, its lease now ending at ``until`` (its holder runs it again before then); False
        if the claim was lost (the item was moved or re-claimed meanwhile, so it runs where it now is)."""
        return bool(await self._hold(keys=self._keys[:2], args=[item.key, item.token, _epoch(until)]))

    async def mark_done(self, key: str) -> bool:
        """Record that the notification ``key`` went out; False if someone already did (so don't send)."""
        ttl = max(1, int(self.done_ttl.total_seconds()))
        return bool(await self._redis.set(self.keys.done(key), "1", nx=True, ex=ttl))

    async def is_done(self, key: str) -> bool:
        """Whether ``mark_done(key)`` already happened."""
        return bool(await self._redis.exists(self.keys.done(key)))

    async def first_value(self, name: str, value: str) -> str:
        """The value first stored under ``name`` (``value`` if nobody stored one yet); kept for good."""
        key = self.keys.once(name)
        await self._redis.set(key, value, nx=True)
        stored = await self._redis.get(key)
        return _text(stored) if stored is not None else value

    async def ensure(self, key: str, due: datetime) -> None:
        """Schedule ``key`` at ``due`` unless it is already scheduled (or claimed): never postpones it."""
        await self._redis.zadd(self.keys.schedule, {key: float(_epoch(due))}, nx=True)

    async def clear_done(self, key: str) -> None:
        """Forget a sent-marker, e.g. when sending failed after marking and must be retried."""
        await self._redis.delete(self.keys.done(key))

    async def upcoming(self, limit: int) -> list[tuple[str, datetime]]:
        """The first ``limit`` items and when each is due, earliest first (claimed ones at their lease's end)."""
        first = await self._redis.zrange(self.keys.schedule, 0, limit - 1, withscores=True)
        return [(_text(pair[0]), _from_epoch(pair[1])) for pair in first if isinstance(pair, tuple | list)]

    async def size(self) -> int:
        """How many items are scheduled (claimed ones included)."""
        return int(await self._redis.zcard(self.keys.schedule))

    async def overdue(self, now: datetime) -> int:
        """How many items are due at ``now`` and not yet claimed: the backlog metric."""
        return int(await self._redis.zcount(self.keys.schedule, "-inf", _epoch(now)))
