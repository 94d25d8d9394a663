"""Refuse replayed Slack requests: a signed body is accepted once, within Slack's 5-minute window."""

from __future__ import annotations

from slack_sdk.signature import SignatureVerifier

from jit.redis_connect import RedisClient
from jit.store.keys import Keys

REPLAY_WINDOW_SECONDS = 60 * 5 + 60


class ReplayGuard:
    """Checks the signature and remembers it in Redis (SET NX), so a byte-identical replay is refused."""

    def __init__(self, redis: RedisClient, signing_secret: str, *, prefix: str = "jitbot"):
        self.redis = redis
        self.verifier = SignatureVerifier(signing_secret)
        self.prefix = prefix

    def authentic(self, body: bytes, timestamp: str, signature: str) -> bool:
        """A valid signature over ``body`` with a timestamp within five minutes."""
        return self.verifier.is_valid(body=body, timestamp=timestamp, signature=signature)

    async def first_time(self, signature: str) -> bool:
        """True the first time a signature is seen; False for a replay. Raises when Redis is unreachable."""
        key = Keys(self.prefix).seen_signature(signature)
        return bool(await self.redis.set(key, b"1", nx=True, ex=REPLAY_WINDOW_SECONDS))
