"""Which VMs Azure Policy refused JIT on, remembered in Redis because no read API predicts such a refusal.

Azure only says "disallowed by policy" when a JIT policy write is attempted, so the inventory can list a VM as
"JIT disabled by policy" only if someone tried. A refusal is remembered for ``ttl`` (a week by default): long
enough to keep the inventory honest, short enough that an exemption granted meanwhile is noticed without anyone
clearing anything. A successful write forgets it at once. Entries older than ``ttl`` are ignored, and the hash
itself expires ``ttl`` after the last refusal, so nothing accumulates.
"""

from __future__ import annotations

import json
import logging
from datetime import timedelta

from jit.clock import Clock
from jit.model import PolicyDenial
from jit.redis_connect import RedisClient
from jit.store.codec import CodecError, decode_datetime, encode_datetime
from jit.store.keys import DEFAULT_PREFIX, Keys

log = logging.getLogger(__name__)

DEFAULT_DENIAL_TTL = timedelta(days=7)


def encode_denial(denial: PolicyDenial) -> str:
    """The JSON stored for one refusal."""
    return json.dumps(
        {
            "vm": denial.vm_id,
            "assignment": denial.assignment,
            "assignment_id": denial.assignment_id,
            "at": encode_datetime(denial.at),
        },
        separators=(",", ":"),
    )


def decode_denial(text: str | bytes) -> PolicyDenial:
    """Inverse of encode_denial; raises CodecError for anything else."""
    try:
        raw = json.loads(text)
        assignment_id = raw.get("assignment_id")
        return PolicyDenial(
            vm_id=str(raw["vm"]),
            assignment=str(raw.get("assignment") or ""),
            assignment_id=str(assignment_id) if assignment_id else None,
            at=decode_datetime(str(raw["at"])),
        )
    except (ValueError, TypeError, KeyError, AttributeError) as exc:
        raise CodecError(f"not a stored policy denial: {text!r:.200}") from exc


class PolicyDenials:
    """Remembers Azure Policy refusals of JIT per VM (ids compare case-insensitively, as in Azure)."""

    def __init__(
        self, redis: RedisClient, clock: Clock, *, prefix: str = DEFAULT_PREFIX, ttl: timedelta = DEFAULT_DENIAL_TTL
    ):
        self._redis = redis
        self._clock = clock
        self._key = Keys(prefix).policy_denied
        self.ttl = ttl

    async def remember(self, denial: PolicyDenial) -> None:
        """Record (or refresh) the refusal for ``denial.vm_id``; stale entries are ignored on read, so the expiry
        needs no transaction with the write."""
        await self._redis.hset(self._key, denial.vm_id.lower(), encode_denial(denial))
        await self._redis.pexpire(self._key, max(1, self.ttl // timedelta(milliseconds=1)))

    async def forget(self, vm_id: str) -> None:
        """Azure accepted JIT on the VM: the refusal no longer holds."""
        await self._redis.hdel(self._key, vm_id.lower())

    async def get(self, vm_id: str) -> PolicyDenial | None:
        """The VM's refusal while it is fresh, else None."""
        return self._fresh(await self._redis.hget(self._key, vm_id.lower()))

    async def all(self) -> dict[str, PolicyDenial]:
        """Every fresh refusal, by lower-cased VM id."""
        stored = await self._redis.hgetall(self._key)
        found: dict[str, PolicyDenial] = {}
        for text in stored.values():
            denial = self._fresh(text)
            if denial is not None:
                found[denial.vm_id.lower()] = denial
        return found

    def _fresh(self, text: str | bytes | None) -> PolicyDenial | None:
        if text is None:
            return None
        try:
            denial = decode_denial(text)
        except CodecError:
            log.warning("policy_denials.unreadable_entry")
            return None
        return denial if self._clock.now() - denial.at < self.ttl else None
