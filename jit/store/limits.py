"""Per-user rate limits: a sliding one-minute log in Redis, checked and updated atomically.

One limiter counts each kind of action apart: slash commands (``JITBOT_COMMANDS_PER_MINUTE``) and interactions —
button clicks and modal submissions (``JITBOT_INTERACTIONS_PER_MINUTE``) — so paging through a list does not use
up the commands an engineer needs, and neither kind is unlimited.

A sliding log (one sorted-set entry per allowed command in the last window) is exact — never more than
``limit`` commands in any window, unlike fixed windows that allow twice the limit across a boundary —
and costs at most ``limit`` small entries per active user. Refused commands are not logged, so a user
who keeps retrying gets in as soon as the oldest command leaves the window (``retry_after``).
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import timedelta

from jit.clock import Clock
from jit.redis_connect import RedisClient
from jit.store import lua
from jit.store.keys import DEFAULT_PREFIX, Keys


@dataclass(frozen=True)
class RateDecision:
    """Whether the command may run; if not, how long until it may. ``remaining`` is what is left now."""

    allowed: bool
    retry_after: timedelta
    remaining: int = 0


COMMANDS = ""
INTERACTIONS = "interactions"


class RateLimiter:
    """Caps how many actions of one kind a user takes per window (default one minute)."""

    def __init__(
        self,
        redis: RedisClient,
        clock: Clock,
        prefix: str = DEFAULT_PREFIX,
        *,
        window: timedelta = timedelta(minutes=1),
    ):
        self._clock = clock
        self._keys = Keys(prefix)
        self.window = window
        self._hit = redis.register_script(lua.RATE_HIT)

    async def hit(self, user_id: str, limit_per_minute: int, kind: str = COMMANDS) -> RateDecision:
        """Count one action of ``kind`` by ``user_id`` if under the limit. A limit of 0 or less means no limit."""
        if limit_per_minute <= 0:
            return RateDecision(True, timedelta(), 0)
        now_ms = int(self._clock.now().timestamp() * 1000)
        window_ms = max(1, self.window // timedelta(milliseconds=1))
        member = f"{now_ms}:{secrets.token_hex(4)}"
        allowed, wait_ms, remaining = await self._hit(
            keys=[self._keys.rate(user_id, kind)], args=[str(now_ms), str(window_ms), str(limit_per_minute), member]
        )
        return RateDecision(bool(allowed), timedelta(milliseconds=max(0, int(wait_ms))), int(remaining))
