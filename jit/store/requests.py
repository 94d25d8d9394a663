"""Access requests in Redis: create with dedupe and a pending cap, atomic state transitions, lookups.

Every write is one Lua script that also appends its audit record and schedules or unschedules due work,
so a crash, a double click or two replicas can never leave a request changed without its audit record,
or audited without the change. See ``jit.store.keys`` for the key layout.

Retention: a request that reaches a terminal state is kept for ``retention`` (default 90 days, for status
pages and investigations) and then expires from Redis; its index entries are pruned as newer requests
reach the same state. The audit stream is not trimmed, so the history outlives the request. Pass
``retention=None`` to keep terminal requests forever.

Dedupe: the key maps the requester and the caller's dedupe key (their normalised command) to the last
request it made, for ``dedupe_ttl`` (default a day, far longer than a request stays pending); only a
request that is still pending is handed back.

Cluster: every script receives every key it touches (see ``jit.store.lua``). A transition moves the request
between its requester's state indexes, so the store names that requester: remembered from requests it has
seen (a requester never changes), else read first; the script checks it and the store retries if it was
wrong. A create names the request its dedupe key points at only after the script reports one.
"""

from __future__ import annotations

import json
from collections import OrderedDict
from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime, timedelta
from typing import Any

from jit.clock import Clock
from jit.errors import UnknownRequest
from jit.model import AccessRequest, RequestState
from jit.ports.records import CreateResult, RequestNotFound, TooManyPending, TransitionResult, UpdateResult
from jit.redis_connect import RedisClient
from jit.schedule_items import pointless_items
from jit.states import is_terminal, sources_of
from jit.store import lua
from jit.store.audit import AuditLog, check_detail, stream_id_ms
from jit.store.codec import CodecError, decode_request, encode_changes, encode_datetime, encode_request, is_tuple_field
from jit.store.keys import DEFAULT_PREFIX, Keys

DEFAULT_RETENTION = timedelta(days=90)
DEFAULT_DEDUPE_TTL = timedelta(days=1)
REQUESTED_EVENT = "requested"
REQUESTER_MEMORY = 10_000


def _text(value: Any) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)


def _pairs(flat: Sequence[Any]) -> dict[str, str]:
    return {_text(flat[i]): _text(flat[i + 1]) for i in range(0, len(flat), 2)}


def _epoch(at: datetime) -> str:
    return repr(at.timestamp())


def _flat(mapping: Mapping[str, str]) -> list[str]:
    return [part for pair in mapping.items() for part in pair]


def _schedule_items(schedule: Mapping[str, datetime]) -> list[list[str]]:
    return [[key, _epoch(due)] for key, due in schedule.items()]


class RequestStore:
    """The only code that reads or writes access requests in Redis."""

    def __init__(
        self,
        redis: RedisClient,
        clock: Clock,
        *,
        prefix: str = DEFAULT_PREFIX,
        retention: timedelta | None = DEFAULT_RETENTION,
        dedupe_ttl: timedelta = DEFAULT_DEDUPE_TTL,
        audit_maxlen: int | None = None,
    ):
        self._redis = redis
        self._clock = clock
        self.keys = Keys(prefix)
        self.retention = retention
        self.dedupe_ttl = dedupe_ttl
        self._maxlen = str(audit_maxlen or 0)
        self.audit = AuditLog(redis, prefix=prefix)
        self._create = redis.register_script(lua.CREATE)
        self._transition = redis.register_script(lua.TRANSITION)
        self._update = redis.register_script(lua.UPDATE_FIELDS)
        self._record = redis.register_script(lua.RECORD)
        self._requesters: OrderedDict[str, str] = OrderedDict()

    def _remember(self, request: AccessRequest) -> AccessRequest:
        """Keep who asked for ``request`` (it never changes), so a transition need not read it first."""
        self._requesters[request.id] = request.requester
        self._requesters.move_to_end(request.id)
        while len(self._requesters) > REQUESTER_MEMORY:
            self._requesters.popitem(last=False)
        return request

    async def _requester_of(self, request_id: str) -> str:
        known = self._requesters.get(request_id)
        if known is not None:
            return known
        stored = await self._redis.hget(self.keys.request(request_id), "requester")
        if stored is None:
            raise RequestNotFound(request_id)
        return _text(stored)

    def _stamp(self) -> dict[str, str]:
        now = self._clock.now()
        return {"now": _epoch(now), "ms": stream_id_ms(now), "at": encode_datetime(now), "maxlen": self._maxlen}

    def _schedule_keys(self) -> list[str]:
        return [self.keys.schedule, self.keys.claims, self.keys.attempts]

    async def create(
        self,
        request: AccessRequest,
        *,
        dedupe_key: str,
        max_pending_per_user: int,
        schedule: Mapping[str, datetime] | None = None,
        audit: Mapping[str, str] | None = None,
    ) -> CreateResult:
        """Store a new pending request, unless the same command already made one that is still pending.

        One atomic step: dedupe check, pending cap (raises TooManyPending), write, index, schedule, and the
        ``requested`` audit record.
        """
        if request.state is not RequestState.PENDING:
            raise ValueError(f"a new request must be pending, not {request.state.value}")
        stamp = self._stamp()
        detail = {
            "vm": request.vm.id,
            "ports": ",".join(str(p) for p in request.ports),
            "source": request.source,
            "duration": str(int(request.duration.total_seconds())),
            "reason": request.reason,
            **(audit or {}),
        }
        header = ["event", REQUESTED_EVENT, "actor", request.requester, "request_id", request.id, "at", stamp["at"]]
        header += ["to", RequestState.PENDING.value]
        payload: dict[str, Any] = {
            **stamp,
            "existing": None,
            "id": request.id,
            "fields": _flat(encode_request(request)),
            "max_pending": str(max_pending_per_user),
            "dedupe_ttl": str(max(1, int(self.dedupe_ttl.total_seconds()))),
            "schedule": _schedule_items(schedule or {}),
            "audit": header + check_detail(detail),
        }
        keys = [
            self.keys.request(request.id),
            self.keys.dedupe(request.requester, dedupe_key),
            self.keys.user_state(request.requester, RequestState.PENDING),
            self.keys.state(RequestState.PENDING),
            self.keys.audit,
            *self._schedule_keys(),
        ]
        reply = await self._create(keys=keys, args=[_dumps(payload)])
        while _text(reply[0]) == "dedupe_moved":
            payload["existing"] = _text(reply[1])
            named = [*keys, self.keys.request(payload["existing"])]
            reply = await self._create(keys=named, args=[_dumps(payload)])
        status = _text(reply[0])
        if status == "existing":
            return CreateResult(self._remember(decode_request(_pairs(reply[1]))), created=False)
        if status == "too_many":
            raise TooManyPending(int(reply[1]), max_pending_per_user)
        if status == "id_taken":
            raise ValueError(f"request id {request.id!r} is already used")
        return CreateResult(self._remember(request), created=True)

    async def get(self, request_id: str) -> AccessRequest | None:
        """The request, or None when unknown or expired."""
        fields = await self._redis.hgetall(self.keys.request(request_id))
        return self._remember(decode_request(fields)) if fields else None

    async def require(self, request_id: str) -> AccessRequest:
        """The request; raises UnknownRequest (which people see as "unknown to jitbot") when there is none."""
        request = await self.get(request_id)
        if request is None:
            raise UnknownRequest(request_id)
        return request

    async def get_many(self, request_ids: Iterable[str]) -> dict[str, AccessRequest]:
        """The requests that exist among ``request_ids``, by id, in one round trip."""
        ids = list(dict.fromkeys(request_ids))
        if not ids:
            return {}
        async with self._redis.pipeline(transaction=False) as pipe:
            for request_id in ids:
                pipe.hgetall(self.keys.request(request_id))
            hashes = await pipe.execute()
        found = [self._remember(decode_request(fields)) for fields in hashes if fields]
        return {request.id: request for request in found}

    async def transition(
        self,
        request_id: str,
        to: RequestState,
        *,
        actor: str,
        fields: Mapping[str, object] | None = None,
        schedule: Mapping[str, datetime] | None = None,
        unschedule: Iterable[str] = (),
        audit: Mapping[str, str] | None = None,
        expect_fields: Mapping[str, object] | None = None,
    ) -> TransitionResult:
        """Move a request to ``to`` if the state machine allows it from its current state, atomically.

        Sets ``fields`` (None deletes), moves the state indexes, schedules and unschedules items (also those the
        new state leaves without work, ``jit.schedule_items.pointless_items``) and appends
        one audit record (event = new state, with ``from``/``to`` and ``audit``). If the move is illegal,
        nothing is written and ``ok`` is False, which is how concurrent clicks learn they lost.
        ``expect_fields`` adds a compare-and-set guard: each field must hold that value (None: be absent),
        e.g. expiry only if ``ends_at`` was not moved by an extension meanwhile. Raises RequestNotFound.
        """
        changes = encode_changes(fields or {})
        stamp = self._stamp()
        terminal = is_terminal(to)
        retention = int(self.retention.total_seconds()) if self.retention and terminal else 0
        prune_before = self._clock.now() - (self.retention or timedelta())
        states = sorted({*sources_of(to), to}, key=lambda s: s.value)
        payload: dict[str, Any] = {
            **stamp,
            "requester": await self._requester_of(request_id),
            "states": [s.value for s in states],
            "id": request_id,
            "to": to.value,
            "allowed": sorted(s.value for s in sources_of(to)),
            "set": _flat(changes.set),
            "delete": list(changes.delete),
            "terminal": terminal,
            "retention": str(max(retention, 1) if retention else 0),
            "prune_before": _epoch(prune_before),
            "schedule": _schedule_items(schedule or {}),
            "unschedule": [*unschedule, *pointless_items(request_id, to, keep=schedule or {})],
            "actor": actor,
            "detail": check_detail(audit or {}),
            "expect_fields": _expectations(expect_fields or {}),
        }
        fixed = [self.keys.request(request_id), self.keys.audit, *self._schedule_keys()]
        while True:
            requester = payload["requester"]
            indexes = [self.keys.user_state(requester, s) for s in states] + [self.keys.state(s) for s in states]
            reply = await self._transition(keys=fixed + indexes, args=[_dumps(payload)])
            if _text(reply[0]) != "requester":
                break
            if not _text(reply[1]):
                raise CodecError(f"request {request_id!r} is stored without a requester")
            payload["requester"] = _text(reply[1])
        status = _text(reply[0])
        if status == "missing":
            raise RequestNotFound(request_id)
        return TransitionResult(
            ok=status == "ok",
            request=self._remember(decode_request(_pairs(reply[2]))),
            previous=RequestState(_text(reply[1])),
        )

    async def update_fields(
        self,
        request_id: str,
        fields: Mapping[str, object],
        *,
        actor: str,
        event: str,
        audit: Mapping[str, str] | None = None,
        expect_states: Iterable[RequestState] | None = None,
        append: Mapping[str, str] | None = None,
        schedule: Mapping[str, datetime] | None = None,
        unschedule: Iterable[str] = (),
        expect_fields: Mapping[str, object] | None = None,
    ) -> UpdateResult:
        """Change fields without a state move, with one audit record ``event``, atomically.

        ``expect_states`` guards the write (nothing happens unless the request is in one of them);
        ``expect_fields`` guards it further (each field must hold that value, None: be absent), which
        makes compare-and-set steps such as "this extension is still the pending one";
        ``append`` adds a value to a tuple field such as ``approvals`` unless already present, so
        concurrent approvers for a quorum never overwrite each other. Raises RequestNotFound.
        """
        changes = encode_changes(fields)
        for name in append or {}:
            if not is_tuple_field(name) or name == "ports":
                raise CodecError(f"cannot append to {name!r}: only tuple-of-text fields")
        payload = {
            **self._stamp(),
            "id": request_id,
            "set": _flat(changes.set),
            "delete": list(changes.delete),
            "expect": sorted(s.value for s in expect_states or ()),
            "append": [[name, value] for name, value in (append or {}).items()],
            "schedule": _schedule_items(schedule or {}),
            "unschedule": list(unschedule),
            "event": event,
            "actor": actor,
            "detail": check_detail(audit or {}),
            "expect_fields": _expectations(expect_fields or {}),
        }
        keys = [self.keys.request(request_id), self.keys.audit, *self._schedule_keys()]
        reply = await self._update(keys=keys, args=[_dumps(payload)])
        status = _text(reply[0])
        if status == "missing":
            raise RequestNotFound(request_id)
        return UpdateResult(
            ok=status in ("ok", "unchanged"),
            changed=status == "ok",
            request=self._remember(decode_request(_pairs(reply[2]))),
        )

    async def record(
        self, event: str, *, actor: str, request_id: str | None, detail: Mapping[str, str] | None = None
    ) -> str:
        """Append an audit-only event (a refused click, a rate-limited command, an admin's policy change).

        Returns the stream entry id.
        """
        stamp = self._stamp()
        header = ["event", event, "actor", actor, "request_id", request_id or "", "at", stamp["at"]]
        payload = {**stamp, "fields": header + check_detail(detail or {})}
        return _text(await self._record(keys=[self.keys.audit], args=[_dumps(payload)]))

    async def by_requester(self, user_id: str, states: Iterable[RequestState] | None = None) -> list[AccessRequest]:
        """A user's requests in the given states (default: all), oldest first."""
        wanted = list(RequestState) if states is None else list(states)
        return await self._load([self.keys.user_state(user_id, s) for s in wanted], set(wanted))

    async def by_state(self, state: RequestState) -> list[AccessRequest]:
        """Every request in ``state``, oldest first; for the scheduler's reconciliation and status pages."""
        return await self._load([self.keys.state(state)], {state})

    async def touched_since(self, since: datetime) -> list[AccessRequest]:
        """Every unfinished request, and every finished one that finished at or after ``since``, oldest first.

        The state indexes are scored by when a request entered its state, so a finished request is read only when
        it finished inside the window (the access review's rows; ``jit.reviewing``)."""
        async with self._redis.pipeline(transaction=False) as pipe:
            for state in RequestState:
                if is_terminal(state):
                    pipe.zrangebyscore(self.keys.state(state), _epoch(since), "+inf")
                else:
                    pipe.zrange(self.keys.state(state), 0, -1)
            id_lists = await pipe.execute()
        return await self._read(list(dict.fromkeys(_text(i) for ids in id_lists for i in ids)), set(RequestState))

    async def count_pending(self, user_id: str) -> int:
        """How many requests the user has pending (what the cap in ``create`` counts)."""
        return int(await self._redis.zcard(self.keys.user_state(user_id, RequestState.PENDING)))

    async def _load(self, index_keys: list[str], states: set[RequestState]) -> list[AccessRequest]:
        async with self._redis.pipeline(transaction=False) as pipe:
            for key in index_keys:
                pipe.zrange(key, 0, -1)
            id_lists = await pipe.execute()
        return await self._read(list(dict.fromkeys(_text(i) for ids in id_lists for i in ids)), states)

    async def _read(self, ids: list[str], states: set[RequestState]) -> list[AccessRequest]:
        if not ids:
            return []
        async with self._redis.pipeline(transaction=False) as pipe:
            for request_id in ids:
                pipe.hgetall(self.keys.request(request_id))
            hashes = await pipe.execute()
        found = [self._remember(decode_request(h)) for h in hashes if h]
        return sorted((r for r in found if r.state in states), key=lambda r: (r.created_at, r.id))


def _expectations(expected: Mapping[str, object]) -> list[list[str | None]]:
    """``[field, stored text or None]`` pairs, encoded exactly as the fields are stored."""
    out: list[list[str | None]] = []
    for name, value in expected.items():
        if value is None:
            out.append([name, None])
        else:
            out += [[field, text] for field, text in encode_changes({name: value}).set.items()]
    return out


def _dumps(payload: Mapping[str, Any]) -> str:
    return json.dumps(payload, ensure_ascii=False)
