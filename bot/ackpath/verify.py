"""Is this request from Slack, and new? Its signature, its timestamp, and a replay check in Redis.

A signed body is accepted once, within Slack's 5-minute window; anything else is answered 401 before it is
parsed, with the reason (``Refused``) counted.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import re
import time
from collections.abc import Callable
from contextvars import ContextVar
from enum import StrEnum

from jit.redis_connect import RedisClient
from jit.store.keys import Keys

REPLAY_WINDOW_SECONDS = 60 * 5 + 60
SIGNATURE_MAX_AGE_SECONDS = 60 * 5
_TIMESTAMP = re.compile(r"[0-9]{1,15}")


class Refused(StrEnum):
    """Why a request to ``/slack/events`` was answered 401 before it was parsed (a fixed set: it names keys)."""

    UNSIGNED = "unsigned"
    NO_TIMESTAMP = "no_timestamp"
    BAD_TIMESTAMP = "bad_timestamp"
    STALE = "stale_timestamp"
    BAD_SIGNATURE = "bad_signature"
    REPLAYED = "replayed"


# The replay verdict of the Slack request being answered. The HTTP handler checks for a replay while Bolt
# runs the (side-effect free) ack listener, and the work after the ack waits for the verdict: a replay is
# answered 401 and its work never starts.
first_sighting: ContextVar[asyncio.Future[bool] | None] = ContextVar("jitbot_first_sighting", default=None)


async def confirmed_first(verdict: asyncio.Future[bool] | None) -> bool:
    """True when there is no verdict to wait for (Socket Mode) or the request was seen for the first time."""
    if verdict is None:
        return True
    try:
        return await asyncio.shield(verdict)
    except asyncio.CancelledError:
        if verdict.cancelled():  # the ack itself failed: nothing was promised, so nothing may happen
            return False
        raise
    except Exception:  # Redis failed: the request was answered "unavailable", so nothing may happen
        return False


class RequestVerifier:
    """Checks the signature and remembers it in Redis (SET NX), so a byte-identical replay is refused.

    The replay check sits on every ack, so it batches: one at a time it is a plain ``SET``; while one is in
    flight, the checks that arrive meanwhile wait and go together as one pipeline, so a burst of requests
    costs a few round trips on one or two connections rather than a Redis connection per request.
    """

    def __init__(
        self, redis: RedisClient, signing_secret: str, *, prefix: str = "jitbot", now: Callable[[], float] = time.time
    ):
        self.redis = redis
        self._secret = signing_secret.encode()
        self._now = now
        self.keys = Keys(prefix)
        self._busy = False
        self._queued: list[tuple[str, asyncio.Future[bool]]] = []
        self._senders: set[asyncio.Task[None]] = set()

    def refusal(self, body: bytes, timestamp: str, signature: str) -> Refused | None:
        """Why the request is not authentic, or None for a valid signature with a timestamp within five minutes.

        Slack's v0 scheme (https://api.slack.com/authentication/verifying-requests-from-slack): HMAC-SHA256 of
        ``v0:{timestamp}:{body}`` over the raw body bytes. Every header is checked for shape first and compared
        as bytes, so a missing, non-numeric or non-ASCII header is just another forgery, never an exception.
        """
        if not signature:
            return Refused.UNSIGNED
        if not timestamp:
            return Refused.NO_TIMESTAMP
        if not _TIMESTAMP.fullmatch(timestamp):
            return Refused.BAD_TIMESTAMP
        if abs(self._now() - int(timestamp)) > SIGNATURE_MAX_AGE_SECONDS:
            return Refused.STALE
        digest = hmac.new(self._secret, b"v0:" + timestamp.encode() + b":" + body, hashlib.sha256).hexdigest()
        if not hmac.compare_digest(f"v0={digest}".encode(), signature.encode("utf-8", "surrogateescape")):
            return Refused.BAD_SIGNATURE
        return None

    async def first_time(self, signature: str) -> bool:
        """True the first time a signature is seen; False for a replay. Raises when Redis is unreachable."""
        key = self.keys.seen_signature(signature)
        if self._busy:
            future: asyncio.Future[bool] = asyncio.get_running_loop().create_future()
            self._queued.append((key, future))
            return await future
        self._busy = True
        try:
            return bool(await self.redis.set(key, b"1", nx=True, ex=REPLAY_WINDOW_SECONDS))
        finally:
            self._next_or_idle()

    def _next_or_idle(self) -> None:
        if not self._queued:
            self._busy = False
            return
        sender = asyncio.get_running_loop().create_task(self._send_queued(), name="jitbot-replay-check")
        self._senders.add(sender)
        sender.add_done_callback(self._senders.discard)

    async def _send_queued(self) -> None:
        batch, self._queued = self._queued, []
        try:
            async with self.redis.pipeline(transaction=False) as pipe:
                for key, _ in batch:
                    pipe.set(key, b"1", nx=True, ex=REPLAY_WINDOW_SECONDS)
                results = await pipe.execute()
        except asyncio.CancelledError:
            for _, future in batch:
                future.cancel()
            raise
        except Exception as exc:
            for _, future in batch:
                if not future.done():
                    future.set_exception(exc)
        else:
            for (_, future), result in zip(batch, results, strict=True):
                if not future.done():
                    future.set_result(bool(result))
        finally:
            self._next_or_idle()
