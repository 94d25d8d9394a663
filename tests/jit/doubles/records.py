"""Requests, the schedule and the audit trail in memory, with the semantics of ``jit.store`` on Redis.

``InMemoryRecords`` keeps each request as the flat hash ``jit.store.codec`` makes of it, and every write does what
the Lua scripts in ``jit.store.lua`` do, in the same order, as one step (nothing in a step awaits, so no other
coroutine runs in between): the state move is checked against ``jit.states``, ``expect_fields`` compares the
stored text (None: the field is absent), ``append`` adds a value to a JSON array unless it is already there
(written the way Redis's cjson writes it), and the audit record and the schedule changes happen in the same step
or not at all. ``tests/jit/store/test_records_contract.py`` runs the same checks on this double and on Redis.

What it leaves out: expiry. Redis expires terminal requests, dedupe keys and sent-markers on its own (wall-clock)
timer, days after a test has finished, so within a test nothing expires there either.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Iterable, Mapping
from datetime import datetime
from itertools import count

from jit.clock import Clock
from jit.errors import UnknownRequest
from jit.model import AccessRequest, RequestState
from jit.ports.records import CreateResult, RequestNotFound, TooManyPending, TransitionResult, UpdateResult
from jit.schedule_items import pointless_items
from jit.states import is_terminal, sources_of
from jit.store.audit import AuditRecord, check_detail, stream_id_ms
from jit.store.codec import CodecError, decode_request, encode_changes, encode_request, is_tuple_field

REQUESTED_EVENT = "requested"


class InMemoryTimetable:
    """``jit.ports.records.Timetable`` in memory: due items by key, sent-markers, first values.

    Claims are not modelled; ``take_due`` hands out what is due the way a scheduler pass would (see
    ``tests.jit.doubles.world.World.run_due``).
    """

    def __init__(self) -> None:
        self._due: dict[str, datetime] = {}
        self._done: set[str] = set()
        self._once: dict[str, str] = {}

    async def add(self, key: str, due: datetime) -> None:
        """Schedule (or move) ``key`` to ``due``."""
        self.apply({key: due}, ())

    async def update(self, add: Mapping[str, datetime], remove: Iterable[str] = ()) -> None:
        """Schedule and unschedule several keys at once."""
        self.apply(add, remove)

    async def remove(self, key: str) -> None:
        """Unschedule ``key``."""
        self.apply({}, [key])

    async def ensure(self, key: str, due: datetime) -> None:
        """Schedule ``key`` unless it is already scheduled: never postpones it."""
        self._due.setdefault(key, due)

    async def mark_done(self, key: str) -> bool:
        """Remember that the message ``key`` names went out; False when someone already had."""
        if key in self._done:
            return False
        self._done.add(key)
        return True

    async def is_done(self, key: str) -> bool:
        """Whether ``mark_done(key)`` happened."""
        return key in self._done

    async def clear_done(self, key: str) -> None:
        """Forget a sent-marker."""
        self._done.discard(key)

    async def first_value(self, name: str, value: str) -> str:
        """The value first stored under ``name`` (``value`` if none yet); kept for good."""
        return self._once.setdefault(name, value)

    async def due_at(self, key: str) -> datetime | None:
        """When ``key`` is due; None when it is not scheduled."""
        return self._due.get(key)

    def apply(self, add: Mapping[str, datetime], remove: Iterable[str]) -> None:
        """What ``apply_schedule`` does inside a store step: add (or move) first, then remove."""
        self._due.update(add)
        for key in remove:
            self._due.pop(key, None)

    def scheduled(self) -> dict[str, datetime]:
        """Every scheduled key and when it is due."""
        return dict(self._due)

    def due(self, now: datetime) -> list[str]:
        """The keys due at ``now``, earliest first (ties by key, as a Redis sorted set orders them)."""
        return [key for key, at in sorted(self._due.items(), key=lambda pair: (pair[1], pair[0])) if at <= now]

    def take(self, key: str) -> None:
        """A scheduler took ``key`` to run it: it is gone unless its handler schedules it again."""
        self._due.pop(key, None)


class InMemoryRecords:
    """``jit.ports.records.RequestRecords`` in memory, step for step what ``jit.store.requests`` does on Redis."""

    def __init__(self, clock: Clock, timetable: InMemoryTimetable):
        self._clock = clock
        self.timetable = timetable
        self._hashes: dict[str, dict[str, str]] = {}
        self._dedupe: dict[tuple[str, str], str] = {}
        self._entered: dict[str, datetime] = {}
        self.audit: list[AuditRecord] = []
        self._sequence = count(1)

    async def create(
        self,
        request: AccessRequest,
        *,
        dedupe_key: str,
        max_pending_per_user: int,
        schedule: Mapping[str, datetime] | None = None,
        audit: Mapping[str, str] | None = None,
    ) -> CreateResult:
        """Store a new pending request unless the same command already made one (raises TooManyPending)."""
        if request.state is not RequestState.PENDING:
            raise ValueError(f"a new request must be pending, not {request.state.value}")
        detail = {
            "vm": request.vm.id,
            "ports": ",".join(str(p) for p in request.ports),
            "source": request.source,
            "duration": str(int(request.duration.total_seconds())),
            "reason": request.reason,
            **(audit or {}),
        }
        check_detail(detail)
        fields = encode_request(request)
        existing = self._dedupe.get((request.requester, dedupe_key))
        if existing is not None and self._hashes.get(existing, {}).get("state") == RequestState.PENDING.value:
            return CreateResult(decode_request(self._hashes[existing]), created=False)
        pending = sum(
            1
            for stored in self._hashes.values()
            if stored["requester"] == request.requester and stored["state"] == RequestState.PENDING.value
        )
        if pending >= max_pending_per_user:
            raise TooManyPending(pending, max_pending_per_user)
        if request.id in self._hashes:
            raise ValueError(f"request id {request.id!r} is already used")
        self._hashes[request.id] = fields
        self._entered[request.id] = self._clock.now()
        self._dedupe[(request.requester, dedupe_key)] = request.id
        self.timetable.apply(schedule or {}, ())
        self._append(REQUESTED_EVENT, request.requester, request.id, {"to": RequestState.PENDING.value, **detail})
        return CreateResult(request, created=True)

    async def get(self, request_id: str) -> AccessRequest | None:
        """The request, or None when unknown."""
        stored = self._hashes.get(request_id)
        return decode_request(stored) if stored else None

    async def require(self, request_id: str) -> AccessRequest:
        """The request; raises UnknownRequest when there is none."""
        request = await self.get(request_id)
        if request is None:
            raise UnknownRequest(request_id)
        return request

    async def get_many(self, request_ids: Iterable[str]) -> dict[str, AccessRequest]:
        """The requests that exist among ``request_ids``, by id."""
        found = [decode_request(self._hashes[i]) for i in dict.fromkeys(request_ids) if i in self._hashes]
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
        """Move the request to ``to`` if ``jit.states`` allows it and ``expect_fields`` hold; else write nothing."""
        changes = encode_changes(fields or {})
        stored = self._stored(request_id)
        detail = check_detail(audit or {})
        expected = expectations(expect_fields or {})
        state = stored["state"]
        if state not in {s.value for s in sources_of(to)} or not fields_match(stored, expected):
            return TransitionResult(ok=False, request=decode_request(stored), previous=RequestState(state))
        stored["state"] = to.value
        self._entered[request_id] = self._clock.now()
        stored.update(changes.set)
        for name in changes.delete:
            stored.pop(name, None)
        self.timetable.apply(schedule or {}, [*unschedule, *pointless_items(request_id, to, keep=schedule or {})])
        self._append(to.value, actor, request_id, {"from": state, "to": to.value, **_pairs(detail)})
        return TransitionResult(ok=True, request=decode_request(stored), previous=RequestState(state))

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
        """Change fields without a state move if ``expect_states`` and ``expect_fields`` hold."""
        changes = encode_changes(fields)
        for name in append or {}:
            if not is_tuple_field(name) or name == "ports":
                raise CodecError(f"cannot append to {name!r}: only tuple-of-text fields")
        detail = check_detail(audit or {})
        expected = expectations(expect_fields or {})
        wanted_states = {s.value for s in expect_states or ()}
        removing = list(unschedule)
        stored = self._stored(request_id)
        state = stored["state"]
        if (wanted_states and state not in wanted_states) or not fields_match(stored, expected):
            return UpdateResult(ok=False, changed=False, request=decode_request(stored))
        to_set = dict(changes.set)
        changed = bool(to_set or changes.delete or schedule or removing)
        for name, value in (append or {}).items():
            current = to_set.get(name, stored.get(name, "[]"))
            if value not in json.loads(current):
                to_set[name] = cjson_append(current, value)
                changed = True
        if not changed:
            return UpdateResult(ok=True, changed=False, request=decode_request(stored))
        stored.update(to_set)
        for name in changes.delete:
            stored.pop(name, None)
        self.timetable.apply(schedule or {}, removing)
        self._append(event, actor, request_id, {"state": state, **_pairs(detail)})
        return UpdateResult(ok=True, changed=True, request=decode_request(stored))

    async def record(
        self, event: str, *, actor: str, request_id: str | None, detail: Mapping[str, str] | None = None
    ) -> str:
        """Append an audit-only event; returns its id."""
        return self._append(event, actor, request_id, _pairs(check_detail(detail or {}))).id

    async def by_state(self, state: RequestState) -> list[AccessRequest]:
        """Every request in ``state``, oldest first."""
        return self._sorted(r for r in self._all() if r.state is state)

    async def by_requester(self, user_id: str, states: Iterable[RequestState] | None = None) -> list[AccessRequest]:
        """A user's requests in ``states`` (default all), oldest first."""
        wanted = set(RequestState) if states is None else set(states)
        return self._sorted(r for r in self._all() if r.requester == user_id and r.state in wanted)

    async def touched_since(self, since: datetime) -> list[AccessRequest]:
        """Every unfinished request, and every finished one that finished at or after ``since``, oldest first."""
        return self._sorted(r for r in self._all() if not is_terminal(r.state) or self._entered[r.id] >= since)

    async def entries(self, since: datetime | None = None, until: datetime | None = None) -> AsyncIterator[AuditRecord]:
        """``jit.reporting.AuditTrail``: records with ``since <= at <= until``, oldest first."""
        for record in list(self.audit):
            if (since is None or record.at >= since) and (until is None or record.at <= until):
                yield record

    def audit_for(self, request_id: str) -> list[AuditRecord]:
        """Every audit record about one request, oldest first."""
        return [record for record in self.audit if record.request_id == request_id]

    def events(self, request_id: str | None = None) -> list[str]:
        """The events of the audit trail (about one request when ``request_id`` is given), oldest first."""
        return [r.event for r in self.audit if request_id is None or r.request_id == request_id]

    def _stored(self, request_id: str) -> dict[str, str]:
        stored = self._hashes.get(request_id)
        if stored is None:
            raise RequestNotFound(request_id)
        return stored

    def _all(self) -> list[AccessRequest]:
        return [decode_request(stored) for stored in self._hashes.values()]

    @staticmethod
    def _sorted(requests: Iterable[AccessRequest]) -> list[AccessRequest]:
        return sorted(requests, key=lambda r: (r.created_at, r.id))

    def _append(self, event: str, actor: str, request_id: str | None, detail: Mapping[str, str]) -> AuditRecord:
        now = self._clock.now()
        record = AuditRecord(
            id=f"{stream_id_ms(now)}-{next(self._sequence)}",
            at=now,
            event=event,
            actor=actor,
            request_id=request_id or None,
            detail=dict(detail),
        )
        self.audit.append(record)
        return record


def expectations(expected: Mapping[str, object]) -> list[tuple[str, str | None]]:
    """``(field, stored text or None)`` pairs, encoded exactly as the fields are stored."""
    out: list[tuple[str, str | None]] = []
    for name, value in expected.items():
        if value is None:
            out.append((name, None))
        else:
            out += list(encode_changes({name: value}).set.items())
    return out


def fields_match(stored: Mapping[str, str], expected: Iterable[tuple[str, str | None]]) -> bool:
    """The Lua ``fields_match``: None means the field must be absent, else its text must be exactly this."""
    for name, text in expected:
        if text is None:
            if name in stored:
                return False
        elif stored.get(name) != text:
            return False
    return True


def cjson_append(current: str, value: str) -> str:
    """The JSON array ``current`` with ``value`` appended, spelled as the UPDATE_FIELDS script spells it (Redis's
    cjson escapes ``/`` and DEL, which Python's json does not)."""
    encoded = json.dumps(value, ensure_ascii=False).replace("/", "\\/").replace("\x7f", "\\u007f")
    return f"[{encoded}]" if current == "[]" else f"{current[:-1]},{encoded}]"


def _pairs(flat: list[str]) -> dict[str, str]:
    return {flat[i]: flat[i + 1] for i in range(0, len(flat), 2)}
