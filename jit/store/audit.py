"""The audit trail: a Redis stream with one entry per event, written in the same atomic step as the change.

Each entry holds ``event`` (the new state for a transition, else a verb such as ``requested`` or
``click_refused``), ``actor``, ``request_id`` (empty for events about no request), ``at`` (ISO 8601 UTC
from the injected clock) and the event's detail fields; a transition's detail always has ``from`` and
``to``. Entry ids follow the clock's milliseconds, so XRANGE by time works; when a clock runs behind the
newest entry (skewed replicas), Redis picks the next id instead and ``at`` stays authoritative.

The stream is not trimmed by default: it is the only record that outlives a request's retention period.
Pass ``maxlen`` to cap it (approximate trimming, oldest first) when something else archives it.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from jit.model import RequestState
from jit.redis_connect import RedisClient
from jit.states import can_transition
from jit.store.codec import decode_datetime, encode_datetime
from jit.store.keys import DEFAULT_PREFIX, Keys

RESERVED_FIELDS = frozenset({"event", "actor", "request_id", "at", "from", "to", "state"})
HEADER_FIELDS = ("event", "actor", "request_id", "at")


class AuditFieldError(ValueError):
    """An audit detail key collides with a field every record already has."""


def check_detail(detail: Mapping[str, str]) -> list[str]:
    """Flatten ``detail`` for XADD, refusing reserved names so a detail can never forge a header."""
    clash = RESERVED_FIELDS.intersection(detail)
    if clash:
        raise AuditFieldError(f"audit detail cannot use reserved field(s) {sorted(clash)}")
    flat: list[str] = []
    for key, value in detail.items():
        flat += [key, value]
    return flat


def stream_id_ms(at: datetime) -> str:
    """Milliseconds since the epoch: the time part of the stream entry id for an event at ``at``."""
    return str(int(at.timestamp() * 1000))


@dataclass(frozen=True)
class AuditRecord:
    """One event of the audit trail."""

    id: str
    at: datetime
    event: str
    actor: str
    request_id: str | None
    detail: Mapping[str, str] = field(default_factory=dict, hash=False)

    def to_json(self) -> dict[str, Any]:
        """A JSON-ready dict: what ``jitbot audit export`` writes, one per line."""
        return {
            "id": self.id,
            "at": encode_datetime(self.at),
            "event": self.event,
            "actor": self.actor,
            "request_id": self.request_id,
            "detail": dict(self.detail),
        }

    @property
    def is_transition(self) -> bool:
        """Whether this record is a state change (it then names ``from`` and ``to``)."""
        return "from" in self.detail and "to" in self.detail


def _text(value: str | bytes) -> str:
    return value.decode() if isinstance(value, bytes) else value


def decode_entry(entry_id: str | bytes, fields: Mapping[Any, Any]) -> AuditRecord:
    """Turn one XRANGE entry into an AuditRecord."""
    raw = {_text(k): _text(v) for k, v in fields.items()}
    request_id = raw.pop("request_id", "")
    return AuditRecord(
        id=_text(entry_id),
        at=decode_datetime(raw.pop("at")),
        event=raw.pop("event"),
        actor=raw.pop("actor"),
        request_id=request_id or None,
        detail=raw,
    )


class AuditLog:
    """Reads the audit stream; writing happens inside the store's atomic steps."""

    def __init__(self, redis: RedisClient, *, prefix: str = DEFAULT_PREFIX):
        self._redis = redis
        self._key = Keys(prefix).audit

    async def entries(
        self, since: datetime | None = None, until: datetime | None = None, *, page_size: int = 500
    ) -> AsyncIterator[AuditRecord]:
        """Records with ``since <= at <= until``, oldest first, paged with XRANGE so memory stays flat."""
        start = stream_id_ms(since) if since else "-"
        end = f"{stream_id_ms(until)}-18446744073709551615" if until else "+"
        while True:
            page = await self._redis.xrange(self._key, min=start, max=end, count=page_size) or []
            for entry_id, fields in page:
                if entry_id is None or fields is None:
                    continue
                record = decode_entry(entry_id, fields)
                if (since is None or record.at >= since) and (until is None or record.at <= until):
                    yield record
            last_id = page[-1][0] if page else None
            if len(page) < page_size or last_id is None:
                return
            start = "(" + _text(last_id)

    async def for_request(self, request_id: str) -> list[AuditRecord]:
        """Every record about one request, oldest first (a full scan: for status pages and tests)."""
        return [r async for r in self.entries() if r.request_id == request_id]

    async def length(self) -> int:
        """How many records the stream holds."""
        return int(await self._redis.xlen(self._key))


@dataclass(frozen=True)
class RequestHistory:
    """One request's story as the audit trail tells it."""

    request_id: str
    records: tuple[AuditRecord, ...]

    @property
    def states(self) -> tuple[RequestState, ...]:
        """Every state the request was in, in order, starting with ``pending`` when it was created here."""
        path: list[RequestState] = []
        for record in self.records:
            if record.is_transition:
                if not path:
                    path.append(RequestState(record.detail["from"]))
                path.append(RequestState(record.detail["to"]))
            elif record.event == "requested" and not path:
                path.append(RequestState.PENDING)
        return tuple(path)

    @property
    def state(self) -> RequestState | None:
        """The last known state."""
        return self.states[-1] if self.states else None

    @property
    def problems(self) -> list[str]:
        """Where the trail contradicts the state machine: a move that was not legal or does not chain."""
        found: list[str] = []
        current: RequestState | None = None
        for record in self.records:
            if record.event == "requested":
                if current is not None:
                    found.append(f"{record.id}: requested twice")
                current = RequestState.PENDING
            elif record.is_transition:
                before, after = RequestState(record.detail["from"]), RequestState(record.detail["to"])
                if current is not None and before != current:
                    found.append(f"{record.id}: moved from {before.value} but was {current.value}")
                if record.event != after.value:
                    found.append(f"{record.id}: event {record.event} but moved to {after.value}")
                if not can_transition(before, after):
                    found.append(f"{record.id}: {before.value} -> {after.value} is not a legal move")
                current = after
        return found


def replay(records: Iterable[AuditRecord]) -> dict[str, RequestHistory]:
    """Group records into per-request histories (records about no request are left out)."""
    grouped: dict[str, list[AuditRecord]] = {}
    for record in records:
        if record.request_id:
            grouped.setdefault(record.request_id, []).append(record)
    return {rid: RequestHistory(rid, tuple(recs)) for rid, recs in grouped.items()}


async def histories(
    log: AuditLog, since: datetime | None = None, until: datetime | None = None
) -> dict[str, RequestHistory]:
    """Replay a time range of the stream into per-request histories."""
    return replay([r async for r in log.entries(since, until)])
