"""One-time "from me" links in Redis: stored by the SHA-256 of their token, used at most once across replicas.

A link's key holds what the requester asked for (``record``), when the link stops working (``expires_ms``) and,
once used, when and from which address (``used_at``, ``used_from``). Using a link is one Lua script, so of two
confirmations racing on any replicas exactly one wins. The key itself lives ``KEEP_AFTER`` beyond the link's
expiry, so a late or repeated click is told "already used" or "expired" rather than "unknown"; then it goes.
The token itself is never stored: someone who can read Redis cannot confirm anyone's link.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum

from jit.redis_connect import RedisClient
from jit.results import RequestDraft
from jit.store import lua
from jit.store.codec import CodecError, decode_datetime, encode_datetime
from jit.store.keys import DEFAULT_PREFIX, Keys

KEEP_AFTER = timedelta(hours=1)


class LinkStatus(StrEnum):
    """Where a link stands when it is looked at or used."""

    VALID = "valid"
    USED = "used"
    EXPIRED = "expired"
    UNKNOWN = "unknown"


@dataclass(frozen=True)
class PendingSource:
    """A request waiting for its source: everything but the address, and where to tell the requester."""

    draft: RequestDraft
    requester_name: str
    reply_channel: str
    expires_at: datetime


@dataclass(frozen=True)
class LinkLookup:
    """A link's status and, unless it is unknown, the request it carries."""

    status: LinkStatus
    pending: PendingSource | None = None


def token_digest(token: str) -> str:
    """What is stored in place of the token."""
    return hashlib.sha256(token.encode()).hexdigest()


def encode_pending(pending: PendingSource) -> str:
    """The JSON stored for one link."""
    draft = pending.draft
    return json.dumps(
        {
            "requester": draft.requester,
            "name": pending.requester_name,
            "vm": draft.vm,
            "ports": list(draft.ports),
            "seconds": int(draft.duration.total_seconds()),
            "reason": draft.reason,
            "break_glass": draft.break_glass,
            "channel": pending.reply_channel,
            "expires_at": encode_datetime(pending.expires_at),
        },
        separators=(",", ":"),
    )


def decode_pending(text: str | bytes) -> PendingSource:
    """Inverse of encode_pending; raises CodecError for anything else."""
    try:
        raw = json.loads(text)
        draft = RequestDraft(
            requester=str(raw["requester"]),
            vm=str(raw["vm"]),
            ports=tuple(int(port) for port in raw["ports"]),
            duration=timedelta(seconds=int(raw["seconds"])),
            source=None,
            reason=str(raw["reason"]),
            break_glass=bool(raw["break_glass"]),
        )
        return PendingSource(
            draft=draft,
            requester_name=str(raw["name"]),
            reply_channel=str(raw["channel"]),
            expires_at=decode_datetime(str(raw["expires_at"])),
        )
    except (ValueError, TypeError, KeyError, AttributeError) as exc:
        raise CodecError(f"not a stored source link: {text!r:.200}") from exc


class SourceLinks:
    """Stores, looks up and uses one-time links (see the module for the rules)."""

    def __init__(self, redis: RedisClient, *, prefix: str = DEFAULT_PREFIX):
        self._redis = redis
        self._keys = Keys(prefix)
        self._consume = redis.register_script(lua.SOURCE_LINK_USE)

    async def save(self, token: str, pending: PendingSource, now: datetime) -> None:
        """Store a new link; the key outlives the link by ``KEEP_AFTER`` (counted by Redis from ``now``)."""
        key = self._keys.source_link(token_digest(token))
        expires_ms = int(pending.expires_at.timestamp() * 1000)
        async with self._redis.pipeline(transaction=True) as pipe:
            pipe.hset(key, mapping={"record": encode_pending(pending), "expires_ms": str(expires_ms)})
            pipe.pexpire(key, pending.expires_at + KEEP_AFTER - now)
            await pipe.execute()

    async def look(self, token: str, now: datetime) -> LinkLookup:
        """The link's status without using it (what a GET may do)."""
        key = self._keys.source_link(token_digest(token))
        record, expires_ms, used_at = await self._redis.hmget(key, ["record", "expires_ms", "used_at"])
        if record is None or expires_ms is None:
            return LinkLookup(LinkStatus.UNKNOWN)
        pending = decode_pending(record)
        if used_at is not None:
            return LinkLookup(LinkStatus.USED, pending)
        if int(expires_ms) <= int(now.timestamp() * 1000):
            return LinkLookup(LinkStatus.EXPIRED, pending)
        return LinkLookup(LinkStatus.VALID, pending)

    async def use(self, token: str, now: datetime, address: str) -> LinkLookup:
        """Use the link from ``address``: VALID exactly once, whoever else tries at the same moment."""
        key = self._keys.source_link(token_digest(token))
        payload = {"now_ms": str(int(now.timestamp() * 1000)), "at": encode_datetime(now), "from": address}
        reply = await self._consume(keys=[key], args=[json.dumps(payload)])
        status = LinkStatus(reply[0].decode() if isinstance(reply[0], bytes) else str(reply[0]))
        if status is LinkStatus.UNKNOWN:
            return LinkLookup(status)
        return LinkLookup(status, decode_pending(reply[1]))
