"""chat.postMessage's rate limit, as Slack documents it: about one message per second per channel, short bursts
above that tolerated, then HTTP 429 ``ratelimited`` with a ``Retry-After`` header in whole seconds.

Sources: https://api.slack.com/docs/rate-limits ("Posting messages: 1 per second. Short bursts >1 allowed";
chat.postMessage "generally allows posting one message per second per channel, while also maintaining a
workspace-wide limit") and https://docs.slack.dev/apis/web-api/rate-limits ("Responding to rate limiting
conditions": HTTP 429 Too Many Requests with ``Retry-After``). Slack does not document how long a burst it
tolerates; ``burst`` models it (a token bucket of that size refilled at ``per_second``). The workspace-wide limit is
documented only as "several hundred messages per minute" and is not modelled.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import dataclass, field

DEFAULT_BURST = 10
DEFAULT_RATE = 1.0


@dataclass
class PostingLimit:
    """A token bucket per channel: ``burst`` posts at once, then ``per_second``."""

    burst: int = DEFAULT_BURST
    per_second: float = DEFAULT_RATE
    clock: Callable[[], float] = time.monotonic
    _buckets: dict[str, tuple[float, float]] = field(default_factory=dict)

    def take(self, channel: str) -> int | None:
        """Count one post to ``channel``: None when allowed, else the ``Retry-After`` seconds of the 429."""
        now = self.clock()
        tokens, at = self._buckets.get(channel, (float(self.burst), now))
        tokens = min(float(self.burst), tokens + (now - at) * self.per_second)
        if tokens >= 1.0:
            self._buckets[channel] = (tokens - 1.0, now)
            return None
        self._buckets[channel] = (tokens, now)
        return max(1, math.ceil((1.0 - tokens) / self.per_second))
