"""The record ports' contract, run on the in-memory doubles and on the Redis adapters alike.

The use-case unit tests trust ``tests.jit.doubles`` to behave like ``jit.store``; every check here runs against
both (``backend`` is parametrised), so the double cannot drift from the real store: state moves by the table,
compare-and-set on stored text (None: absent), appends, dedupe, the pending cap, audit records and the schedule
changes made in the same step, sent-markers and locks.
"""

from __future__ import annotations

import asyncio
from collections import deque
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime, timedelta

import pytest
import redis.asyncio as aioredis

from jit.clock import ManualClock
from jit.errors import UnknownRequest
from jit.model import AccessRequest, RequestState
from jit.ports.records import LockBusy, RequestNotFound, RequestRecords, Timetable, TooManyPending, Turns
from jit.states import TRANSITIONS, can_transition
from jit.store.audit import AuditFieldError, AuditRecord
from jit.store.codec import CodecError
from jit.store.locks import Locks
from jit.store.requests import RequestStore
from jit.store.schedule import Schedule
from tests.jit.doubles.records import InMemoryRecords, InMemoryTimetable
from tests.jit.doubles.turns import InMemoryTurns
from tests.jit.store.conftest import make_request

S = RequestState
PREFIX = "contract"


@dataclass
class Backend:
    """One implementation of the record ports, and how to read what the ports do not expose."""

    records: RequestRecords
    timetable: Timetable
    turns: Turns
    audit_for: Callable[[str], Awaitable[list[AuditRecord]]]
    due_at: Callable[[str], Awaitable[datetime | None]]


@pytest.fixture(params=["memory", "redis"])
def backend(request: pytest.FixtureRequest, clock: ManualClock) -> Backend:
    """The doubles, or the Redis adapters on the suite's redis-server."""
    if request.param == "memory":
        timetable = InMemoryTimetable()
        records = InMemoryRecords(clock, timetable)

        async def audit_for(request_id: str) -> list[AuditRecord]:
            return records.audit_for(request_id)

        return Backend(records, timetable, InMemoryTurns(), audit_for, timetable.due_at)
    redis: aioredis.Redis = request.getfixturevalue("redis_client")
    store = RequestStore(redis, clock, prefix=PREFIX)
    schedule = Schedule(redis, prefix=PREFIX)
    return Backend(store, schedule, Locks(redis, prefix=PREFIX), store.audit.for_request, schedule.due_at)


def path_to(target: S) -> list[S]:
    """The shortest sequence of moves from pending to ``target`` in the state table."""
    queue: deque[tuple[S, list[S]]] = deque([(S.PENDING, [])])
    seen = {S.PENDING}
    while queue:
        state, path = queue.popleft()
        if state is target:
            return path
        for after in sorted(TRANSITIONS[state]):
            if after not in seen:
                seen.add(after)
                queue.append((after, [*path, after]))
    raise AssertionError(f"{target} is unreachable")


async def new_in(backend: Backend, clock: ManualClock, state: S, requester: str = "U1") -> AccessRequest:
    request = make_request(clock, requester)
    await backend.records.create(request, dedupe_key=request.id, max_pending_per_user=100)
    for step in path_to(state):
        assert (await backend.records.transition(request.id, step, actor="setup")).ok
    return await backend.records.require(request.id)


async def events(backend: Backend, request_id: str) -> list[str]:
    return [record.event for record in await backend.audit_for(request_id)]


# -- create ---------------------------------------------------------------------------------------------------


async def test_create_stores_the_request_its_audit_record_and_its_schedule(
    backend: Backend, clock: ManualClock
) -> None:
    request = make_request(clock, extra={"route": "default"}, approvals=("U9",))
    due = clock.now() + timedelta(minutes=5)

    created = await backend.records.create(
        request, dedupe_key="k", max_pending_per_user=5, schedule={f"card:{request.id}": due}, audit={"via": "test"}
    )

    assert created.created and created.request == request
    assert await backend.records.get(request.id) == request
    [record] = await backend.audit_for(request.id)
    assert (record.event, record.actor, record.at) == ("requested", request.requester, clock.now())
    assert dict(record.detail) == {
        "to": "pending",
        "vm": request.vm.id,
        "ports": "22",
        "source": request.source,
        "duration": "7200",
        "reason": request.reason,
        "via": "test",
    }
    assert await backend.due_at(f"card:{request.id}") == due


async def test_only_a_pending_request_can_be_created(backend: Backend, clock: ManualClock) -> None:
    request = make_request(clock, state=S.APPROVED)

    with pytest.raises(ValueError, match="pending"):
        await backend.records.create(request, dedupe_key="k", max_pending_per_user=5)

    assert await backend.records.get(request.id) is None


async def test_the_same_command_hands_back_the_pending_request(backend: Backend, clock: ManualClock) -> None:
    first = make_request(clock)
    again = make_request(clock)
    await backend.records.create(first, dedupe_key="same", max_pending_per_user=5)

    repeated = await backend.records.create(
        again, dedupe_key="same", max_pending_per_user=5, schedule={f"card:{again.id}": clock.now()}
    )

    assert not repeated.created and repeated.request == first
    assert await backend.records.get(again.id) is None
    assert await backend.due_at(f"card:{again.id}") is None
    assert await events(backend, first.id) == ["requested"]
    assert await backend.audit_for(again.id) == []


async def test_dedupe_holds_only_while_the_request_is_pending_and_only_for_its_requester(
    backend: Backend, clock: ManualClock
) -> None:
    first = make_request(clock, "U1")
    await backend.records.create(first, dedupe_key="same", max_pending_per_user=5)
    someone_else = await backend.records.create(make_request(clock, "U2"), dedupe_key="same", max_pending_per_user=5)
    await backend.records.transition(first.id, S.CANCELLED, actor="U1")

    after_cancel = await backend.records.create(make_request(clock, "U1"), dedupe_key="same", max_pending_per_user=5)

    assert someone_else.created
    assert after_cancel.created and after_cancel.request.id != first.id


async def test_the_pending_cap_counts_the_requesters_pending_requests(backend: Backend, clock: ManualClock) -> None:
    first = make_request(clock)
    await backend.records.create(first, dedupe_key="a", max_pending_per_user=2)
    await backend.records.create(make_request(clock), dedupe_key="b", max_pending_per_user=2)
    await backend.records.create(make_request(clock, "U2"), dedupe_key="c", max_pending_per_user=2)
    refused = make_request(clock)

    with pytest.raises(TooManyPending) as caught:
        await backend.records.create(refused, dedupe_key="d", max_pending_per_user=2)
    repeated = await backend.records.create(make_request(clock), dedupe_key="a", max_pending_per_user=2)
    await backend.records.transition(first.id, S.DENIED, actor="U3")
    room_again = await backend.records.create(make_request(clock), dedupe_key="e", max_pending_per_user=2)

    assert (caught.value.count, caught.value.limit) == (2, 2)
    assert await backend.records.get(refused.id) is None and await backend.audit_for(refused.id) == []
    assert not repeated.created and repeated.request.id == first.id
    assert room_again.created


async def test_an_id_is_used_once(backend: Backend, clock: ManualClock) -> None:
    request = make_request(clock)
    await backend.records.create(request, dedupe_key="a", max_pending_per_user=5)

    with pytest.raises(ValueError, match="already used"):
        await backend.records.create(make_request(clock, id=request.id), dedupe_key="b", max_pending_per_user=5)


# -- transition -----------------------------------------------------------------------------------------------


@pytest.mark.parametrize("start", list(S))
async def test_a_move_happens_exactly_when_the_table_allows_it(backend: Backend, clock: ManualClock, start: S) -> None:
    for target in S:
        request = await new_in(backend, clock, start)
        before = await backend.audit_for(request.id)
        key = f"outcome:{request.id}"

        result = await backend.records.transition(
            request.id, target, actor="U7", fields={"failure": "why"}, schedule={key: clock.now()}, audit={"n": "1"}
        )

        current = await backend.records.require(request.id)
        after = await backend.audit_for(request.id)
        assert result.previous is start
        assert result.ok is can_transition(start, target), (start, target)
        if result.ok:
            assert current.state is target and current.failure == "why" and result.request == current
            assert await backend.due_at(key) == clock.now()
            last = after[-1]
            assert (last.event, last.actor) == (target.value, "U7")
            assert dict(last.detail) == {"from": start.value, "to": target.value, "n": "1"}
        else:
            assert current == request and result.request == request
            assert after == before
            assert await backend.due_at(key) is None


async def test_a_move_sets_and_deletes_fields_and_schedules_and_unschedules(
    backend: Backend, clock: ManualClock
) -> None:
    request = make_request(clock)
    await backend.records.create(
        request, dedupe_key="k", max_pending_per_user=5, schedule={f"timeout:{request.id}": clock.now()}
    )
    await backend.records.update_fields(request.id, {"failure": "old", "extra.gone": "x"}, actor="U1", event="e")
    later = clock.now() + timedelta(hours=1)

    result = await backend.records.transition(
        request.id,
        S.APPROVED,
        actor="U2",
        fields={"approver": "U2", "decided_at": clock.now(), "failure": None, "extra.gone": None},
        schedule={f"reconcile:{request.id}": later},
        unschedule=[f"timeout:{request.id}"],
    )

    assert result.ok
    assert (result.request.approver, result.request.decided_at, result.request.failure) == ("U2", clock.now(), None)
    assert "gone" not in result.request.extra
    assert await backend.due_at(f"timeout:{request.id}") is None
    assert await backend.due_at(f"reconcile:{request.id}") == later


@pytest.mark.parametrize("target", [S.APPROVED, S.DENIED, S.CANCELLED, S.TIMED_OUT])
async def test_a_decision_unschedules_the_approver_reminders_it_leaves_without_work(
    backend: Backend, clock: ManualClock, target: S
) -> None:
    request = make_request(clock)
    waiting = {f"{kind}:{request.id}": clock.now() + timedelta(minutes=10) for kind in ("nudge", "escalate", "card")}
    await backend.records.create(request, dedupe_key="k", max_pending_per_user=5, schedule=waiting)

    await backend.records.transition(request.id, target, actor="U2")

    assert await backend.due_at(f"nudge:{request.id}") is None
    assert await backend.due_at(f"escalate:{request.id}") is None
    assert await backend.due_at(f"card:{request.id}") == clock.now() + timedelta(minutes=10)


async def test_the_end_of_access_unschedules_its_reminder_but_keeps_what_it_schedules(
    backend: Backend, clock: ManualClock
) -> None:
    request = await new_in(backend, clock, S.ACTIVE)
    remind, expire = f"remind:{request.id}", f"expire:{request.id}"
    await backend.records.update_fields(
        request.id, {}, actor="U1", event="e", schedule={remind: clock.now(), expire: clock.now()}
    )

    await backend.records.transition(
        request.id, S.EXPIRED, actor="jitbot", schedule={f"outcome:{request.id}": clock.now()}
    )

    assert await backend.due_at(remind) is None
    assert await backend.due_at(expire) == clock.now()
    assert await backend.due_at(f"outcome:{request.id}") == clock.now()


async def test_a_guarded_move_needs_every_expected_field(backend: Backend, clock: ManualClock) -> None:
    request = await new_in(backend, clock, S.ACTIVE)
    ends = clock.now() + timedelta(hours=1)
    await backend.records.update_fields(request.id, {"ends_at": ends}, actor="U1", event="e")

    moved_meanwhile = await backend.records.transition(
        request.id, S.EXPIRED, actor="jitbot", expect_fields={"ends_at": ends - timedelta(minutes=1)}
    )
    absent_expected = await backend.records.transition(
        request.id, S.EXPIRED, actor="jitbot", expect_fields={"ends_at": None}
    )
    audit_before = await backend.audit_for(request.id)
    held = await backend.records.transition(
        request.id, S.EXPIRED, actor="jitbot", expect_fields={"ends_at": ends.isoformat(), "extra.x": None}
    )

    assert not moved_meanwhile.ok and moved_meanwhile.request.state is S.ACTIVE
    assert not absent_expected.ok and absent_expected.previous is S.ACTIVE
    assert len(await backend.audit_for(request.id)) == len(audit_before) + 1
    assert held.ok and held.request.state is S.EXPIRED


async def test_an_unknown_request_cannot_move_or_change(backend: Backend, clock: ManualClock) -> None:
    with pytest.raises(RequestNotFound):
        await backend.records.transition("jr-nobody", S.APPROVED, actor="U1")
    with pytest.raises(RequestNotFound):
        await backend.records.update_fields("jr-nobody", {"failure": "x"}, actor="U1", event="e")
    with pytest.raises(UnknownRequest):
        await backend.records.require("jr-nobody")
    assert await backend.records.get("jr-nobody") is None


# -- update_fields --------------------------------------------------------------------------------------------


async def test_none_expected_means_the_field_is_absent(backend: Backend, clock: ManualClock) -> None:
    request = await new_in(backend, clock, S.ACTIVE)

    first = await backend.records.update_fields(
        request.id, {"extra.ext_state": "pending"}, actor="U1", event="ext", expect_fields={"extra.ext_state": None}
    )
    second = await backend.records.update_fields(
        request.id, {"extra.ext_state": "approved"}, actor="U2", event="ext", expect_fields={"extra.ext_state": None}
    )

    await backend.records.update_fields(request.id, {"extra.blank": ""}, actor="U1", event="blank")
    blank_is_present = await backend.records.update_fields(
        request.id, {"extra.n": "1"}, actor="U1", event="e", expect_fields={"extra.blank": None}
    )
    blank_is_blank = await backend.records.update_fields(
        request.id, {"extra.n": "2"}, actor="U1", event="e", expect_fields={"extra.blank": ""}
    )

    assert first.ok and first.changed
    assert not second.ok and not second.changed and second.request.extra["ext_state"] == "pending"
    assert (await events(backend, request.id)).count("ext") == 1
    assert not blank_is_present.ok
    assert blank_is_blank.ok


async def test_expected_values_are_compared_as_stored(backend: Backend, clock: ManualClock) -> None:
    request = await new_in(backend, clock, S.ACTIVE)
    ends = clock.now() + timedelta(hours=2)
    await backend.records.update_fields(
        request.id,
        {"ends_at": ends, "approvals": ("U1", "U2"), "extra.ext_seq": "3"},
        actor="U1",
        event="setup",
    )

    checks: dict[str, dict[str, object]] = {
        "typed time": {"ends_at": ends},
        "time as text": {"ends_at": ends.isoformat()},
        "tuple": {"approvals": ("U1", "U2")},
        "extra": {"extra.ext_seq": "3"},
    }
    mismatches: dict[str, dict[str, object]] = {
        "earlier time": {"ends_at": ends - timedelta(seconds=1)},
        "tuple in another order": {"approvals": ("U2", "U1")},
        "extra as a number's other spelling": {"extra.ext_seq": "03"},
        "present field expected absent": {"extra.ext_seq": None},
        "absent field expected present": {"extra.ext_state": "pending"},
    }
    for name, expected in checks.items():
        result = await backend.records.update_fields(
            request.id, {"extra.note": name}, actor="U1", event="check", expect_fields=expected
        )
        assert result.ok and result.changed, name
    for name, expected in mismatches.items():
        result = await backend.records.update_fields(
            request.id, {"extra.note": name}, actor="U1", event="check", expect_fields=expected
        )
        assert not result.ok and not result.changed, name
    assert (await events(backend, request.id)).count("check") == len(checks)


async def test_expected_states_guard_an_update(backend: Backend, clock: ManualClock) -> None:
    request = await new_in(backend, clock, S.PENDING)
    key = f"card:{request.id}"

    refused = await backend.records.update_fields(
        request.id,
        {"failure": "x"},
        actor="U1",
        event="e",
        expect_states=[S.ACTIVE, S.APPROVED],
        schedule={key: clock.now()},
    )
    allowed = await backend.records.update_fields(
        request.id, {"failure": "y"}, actor="U1", event="e", expect_states=[S.PENDING], audit={"n": "2"}
    )

    assert not refused.ok and not refused.changed and refused.request.failure is None
    assert await backend.due_at(key) is None
    assert allowed.ok and allowed.changed and allowed.request.failure == "y"
    last = (await backend.audit_for(request.id))[-1]
    assert (last.event, dict(last.detail)) == ("e", {"state": "pending", "n": "2"})
    assert (await events(backend, request.id)).count("e") == 1


async def test_append_adds_a_value_once(backend: Backend, clock: ManualClock) -> None:
    request = await new_in(backend, clock, S.PENDING)

    first = await backend.records.update_fields(request.id, {}, actor="U1", event="vote", append={"approvals": "U1"})
    again = await backend.records.update_fields(request.id, {}, actor="U1", event="vote", append={"approvals": "U1"})
    second = await backend.records.update_fields(request.id, {}, actor="U2", event="vote", append={"approvals": "U2"})

    assert first.ok and first.changed and first.request.approvals == ("U1",)
    assert again.ok and not again.changed and again.request.approvals == ("U1",)
    assert second.ok and second.changed and second.request.approvals == ("U1", "U2")
    assert (await events(backend, request.id)).count("vote") == 2


async def test_concurrent_appends_all_count(backend: Backend, clock: ManualClock) -> None:
    request = await new_in(backend, clock, S.PENDING)

    await asyncio.gather(
        *(
            backend.records.update_fields(request.id, {}, actor=f"U{i}", event="vote", append={"approvals": f"U{i}"})
            for i in range(8)
        )
    )

    stored = await backend.records.require(request.id)
    assert sorted(stored.approvals) == sorted(f"U{i}" for i in range(8))


async def test_append_follows_a_value_set_in_the_same_step(backend: Backend, clock: ManualClock) -> None:
    request = await new_in(backend, clock, S.PENDING)

    result = await backend.records.update_fields(
        request.id, {"approvals": ("U1",)}, actor="U2", event="vote", append={"approvals": "U2"}
    )

    assert result.request.approvals == ("U1", "U2")


async def test_an_appended_array_is_spelled_as_redis_spells_it(backend: Backend, clock: ManualClock) -> None:
    """Redis's cjson writes ``/`` as ``\\/``: the value reads back the same, but a guard comparing the whole
    array with the Python spelling does not hold after an append (nothing guards an appended field today)."""
    request = await new_in(backend, clock, S.PENDING)
    await backend.records.update_fields(request.id, {}, actor="U1", event="vote", append={"approvals": "a/b"})

    guarded = await backend.records.update_fields(
        request.id, {"extra.n": "1"}, actor="U1", event="e", expect_fields={"approvals": ("a/b",)}
    )
    await backend.records.update_fields(request.id, {"approvals": ("a/b",)}, actor="U1", event="rewrite")
    rewritten = await backend.records.update_fields(
        request.id, {"extra.n": "2"}, actor="U1", event="e", expect_fields={"approvals": ("a/b",)}
    )

    assert (await backend.records.require(request.id)).approvals == ("a/b",)
    assert not guarded.ok
    assert rewritten.ok


async def test_only_tuples_of_text_take_appends(backend: Backend, clock: ManualClock) -> None:
    request = await new_in(backend, clock, S.PENDING)

    for field in ("ports", "reason", "extra.route", "nonsense"):
        with pytest.raises(CodecError):
            await backend.records.update_fields(request.id, {}, actor="U1", event="e", append={field: "1"})
    assert await events(backend, request.id) == ["requested"]


async def test_nothing_to_write_is_unchanged_and_unaudited(backend: Backend, clock: ManualClock) -> None:
    request = await new_in(backend, clock, S.PENDING)
    key = f"card:{request.id}"

    nothing = await backend.records.update_fields(request.id, {}, actor="U1", event="e")
    schedule_only = await backend.records.update_fields(
        request.id, {}, actor="U1", event="rescheduled", schedule={key: clock.now()}
    )
    same_value = await backend.records.update_fields(request.id, {"reason": request.reason}, actor="U1", event="same")

    assert nothing.ok and not nothing.changed
    assert schedule_only.ok and schedule_only.changed and await backend.due_at(key) == clock.now()
    assert same_value.ok and same_value.changed
    assert await events(backend, request.id) == ["requested", "rescheduled", "same"]


async def test_concurrent_compare_and_set_has_one_winner(backend: Backend, clock: ManualClock) -> None:
    request = await new_in(backend, clock, S.ACTIVE)

    results = await asyncio.gather(
        *(
            backend.records.update_fields(
                request.id,
                {"extra.ext_state": "approved", "extra.ext_by": f"U{i}"},
                actor=f"U{i}",
                event="won",
                expect_states={S.ACTIVE},
                expect_fields={"extra.ext_state": None},
            )
            for i in range(10)
        )
    )

    assert sum(result.ok for result in results) == 1
    assert (await events(backend, request.id)).count("won") == 1


async def test_fields_that_identify_a_request_cannot_change(backend: Backend, clock: ManualClock) -> None:
    request = await new_in(backend, clock, S.PENDING)

    for field in ("id", "requester", "state"):
        with pytest.raises(CodecError):
            await backend.records.update_fields(request.id, {field: "x"}, actor="U1", event="e")
    with pytest.raises(CodecError):
        await backend.records.transition(request.id, S.APPROVED, actor="U1", fields={"reason": None})
    assert (await backend.records.require(request.id)) == request


async def test_audit_details_cannot_forge_a_header(backend: Backend, clock: ManualClock) -> None:
    request = await new_in(backend, clock, S.PENDING)

    with pytest.raises(AuditFieldError):
        await backend.records.transition(request.id, S.APPROVED, actor="U1", audit={"actor": "someone"})
    with pytest.raises(AuditFieldError):
        await backend.records.update_fields(request.id, {"failure": "x"}, actor="U1", event="e", audit={"to": "y"})
    with pytest.raises(AuditFieldError):
        await backend.records.record("e", actor="U1", request_id=request.id, detail={"event": "forged"})
    with pytest.raises(AuditFieldError):
        await backend.records.create(
            make_request(clock), dedupe_key="x", max_pending_per_user=5, audit={"request_id": "jr-other"}
        )
    assert (await backend.records.require(request.id)) == request
    assert await events(backend, request.id) == ["requested"]


# -- reading and recording ------------------------------------------------------------------------------------


async def test_lookups_by_state_requester_and_id(backend: Backend, clock: ManualClock) -> None:
    older = await new_in(backend, clock, S.PENDING, "U1")
    clock.advance(timedelta(minutes=1))
    active = await new_in(backend, clock, S.ACTIVE, "U1")
    clock.advance(timedelta(minutes=1))
    newer = await new_in(backend, clock, S.PENDING, "U1")
    theirs = await new_in(backend, clock, S.PENDING, "U2")

    assert [r.id for r in await backend.records.by_state(S.PENDING)] == [older.id, *sorted([newer.id, theirs.id])]
    assert [r.id for r in await backend.records.by_requester("U1")] == [older.id, active.id, newer.id]
    assert [r.id for r in await backend.records.by_requester("U1", [S.ACTIVE])] == [active.id]
    assert await backend.records.by_requester("U3") == []
    many = await backend.records.get_many([active.id, "jr-nobody", older.id, active.id])
    assert many == {active.id: active, older.id: older}


async def test_touched_since_skips_only_what_finished_before(backend: Backend, clock: ManualClock) -> None:
    finished_early = await new_in(backend, clock, S.EXPIRED, "U1")
    clock.advance(timedelta(minutes=1))
    open_long = await new_in(backend, clock, S.ACTIVE, "U1")
    clock.advance(timedelta(minutes=1))
    pending = await new_in(backend, clock, S.PENDING, "U2")
    clock.advance(timedelta(days=2))
    since = clock.now()
    clock.advance(timedelta(hours=1))
    denied_later = await new_in(backend, clock, S.DENIED, "U2")

    touched = await backend.records.touched_since(since)

    assert [r.id for r in touched] == [open_long.id, pending.id, denied_later.id]
    assert {r.id for r in await backend.records.touched_since(since - timedelta(days=3))} >= {finished_early.id}


async def test_record_appends_an_audit_only_event(backend: Backend, clock: ManualClock) -> None:
    request = await new_in(backend, clock, S.PENDING)

    entry_id = await backend.records.record("click_refused", actor="U9", request_id=request.id, detail={"why": "x"})

    last = (await backend.audit_for(request.id))[-1]
    assert (last.id, last.event, last.actor, dict(last.detail)) == (entry_id, "click_refused", "U9", {"why": "x"})
    assert (await backend.records.require(request.id)) == request


# -- the timetable and the locks ------------------------------------------------------------------------------


async def test_the_timetable_adds_moves_ensures_and_removes(backend: Backend, clock: ManualClock) -> None:
    now = clock.now()
    await backend.timetable.add("remind:a", now + timedelta(hours=1))
    await backend.timetable.add("remind:a", now + timedelta(hours=2))
    await backend.timetable.ensure("remind:a", now + timedelta(hours=3))
    await backend.timetable.ensure("expire:a", now + timedelta(hours=4))
    await backend.timetable.update({"card:a": now, "card:b": now}, remove=["card:b", "expire:a"])

    assert await backend.due_at("remind:a") == now + timedelta(hours=2)
    assert await backend.due_at("expire:a") is None
    assert await backend.due_at("card:a") == now
    assert await backend.due_at("card:b") is None


async def test_sent_markers_and_first_values_are_kept(backend: Backend) -> None:
    assert not await backend.timetable.is_done("told:a")
    assert await backend.timetable.mark_done("told:a")
    assert not await backend.timetable.mark_done("told:a")
    assert await backend.timetable.is_done("told:a")
    assert await backend.timetable.first_value("since", "one") == "one"
    assert await backend.timetable.first_value("since", "two") == "one"


async def test_a_held_turn_refuses_others_until_released(backend: Backend) -> None:
    async with backend.turns.hold("vm:a"):
        with pytest.raises(LockBusy):
            async with backend.turns.hold("vm:a", wait=timedelta(0)):
                raise AssertionError("two holders at once")
        async with backend.turns.hold("vm:b", wait=timedelta(0)):
            pass
    async with backend.turns.hold("vm:a", wait=timedelta(0)):
        pass
