"""Refused unauthenticated requests in the audit trail, without letting anonymous traffic grow Redis.

Anyone on the internet can post to ``/slack/events``, so each refusal cannot be one audit record: that would let
unauthenticated traffic fill Redis. Instead each reason (a fixed, small set) has one tally hash holding the
current minute and its count, and the audit trail gets **at most one record per reason per minute**: the first
refusal of a minute appends ``request_refused`` (reason, path, the peer's address, how many were counted in
that first batch) and names the previous minute of that reason with its final total. Memory is constant (one
small hash per reason) and the trail grows by at most ``reasons × 1440`` records a day whatever the traffic.
The running count of the current minute is in the hash and in the ``jitbot_slack_requests_refused_total``
metric.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from datetime import UTC, datetime

from jit.clock import Clock
from jit.redis_connect import RedisClient
from jit.store import lua
from jit.store.audit import check_detail, stream_id_ms
from jit.store.codec import encode_datetime
from jit.store.keys import DEFAULT_PREFIX, Keys

REFUSED_EVENT = "request_refused"
UNAUTHENTICATED_ACTOR = "unauthenticated"


class RefusalTally:
    """Counts refusals per reason and minute; appends one audit record per reason and minute (see the module)."""

    def __init__(
        self, redis: RedisClient, clock: Clock, *, prefix: str = DEFAULT_PREFIX, audit_maxlen: int | None = None
    ):
        self._redis = redis
        self._clock = clock
        self._keys = Keys(prefix)
        self._maxlen = str(audit_maxlen or 0)
        self._tally = redis.register_script(lua.REFUSAL_TALLY)

    async def count(self, why: str, n: int, detail: Mapping[str, str]) -> bool:
        """Count ``n`` refusals for ``why`` now; True when this opened a new minute and wrote its audit record.

        ``why`` must come from a fixed set (it names a key); ``detail`` describes the first refusal counted.
        """
        now = self._clock.now()
        minute = int(now.timestamp()) // 60
        started = datetime.fromtimestamp(minute * 60, tz=UTC)
        at = encode_datetime(now)
        header = ["event", REFUSED_EVENT, "actor", UNAUTHENTICATED_ACTOR, "request_id", "", "at", at]
        fields = header + check_detail({"why": why, **detail, "minute": encode_datetime(started), "count": str(n)})
        payload = {
            "window": str(minute),
            "window_at": encode_datetime(started),
            "n": str(n),
            "ms": stream_id_ms(now),
            "maxlen": self._maxlen,
            "fields": fields,
        }
        wrote = await self._tally(keys=[self._keys.refusals(why), self._keys.audit], args=[json.dumps(payload)])
        return bool(wrote)

    async def current(self, why: str) -> tuple[datetime | None, int]:
        """The minute being counted for ``why`` and its count so far (for operators and tests)."""
        stored = await self._redis.hgetall(self._keys.refusals(why))
        values = {_text(k): _text(v) for k, v in stored.items()}
        if not values:
            return None, 0
        return datetime.fromtimestamp(int(values["window"]) * 60, tz=UTC), int(values.get("count", "0"))


def _text(value: str | bytes) -> str:
    return value.decode() if isinstance(value, bytes) else value
