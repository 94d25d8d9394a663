"""RequestStore against a real redis-server: dedupe, pending cap, every transition, atomicity, lookups."""

from __future__ import annotations

import asyncio
import itertools
from collections import deque
from datetime import UTC, datetime, timedelta
from typing import cast

import pytest
import redis.asyncio as aioredis
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from jit.clock import ManualClock
from jit.model import AccessRequest, RequestState
from jit.ports.records import RequestNotFound, TooManyPending
from jit.request_ids import REQUEST_ID_PREFIX, new_request_id
from jit.states import TRANSITIONS, can_transition, is_terminal
from jit.store.audit import AuditFieldError, AuditRecord
from jit.store.codec import CodecError
from jit.store.requests import RequestStore
from sandbox.redis_server import RedisServer
from tests.jit.store.conftest import make_request
from tests.jit.store.strategies import access_requests

S = RequestState


def path_to(target: S) -> list[S]:
    """The shortest sequence of moves from pending to ``target``, found in the state table."""
    queue: deque[tuple[S, list[S]]] = deque([(S.PENDING, [])])
    seen = {S.PENDING}
    while queue:
        state, path = queue.popleft()
        if state == target:
            return path
        for nxt in sorted(TRANSITIONS[state]):
            if nxt not in seen:
                seen.add(nxt)
                queue.append((nxt, [*path, nxt]))
    raise AssertionError(f"{target} unreachable")


async def new_in_state(store: RequestStore, clock: ManualClock, state: S, requester: str = "U1") -> AccessRequest:
    request = make_request(clock, requester)
    await store.create(request, dedupe_key=request.id, max_pending_per_user=100)
    for step in path_to(state):
        assert (await store.transition(request.id, step, actor="setup")).ok
    current = await store.get(request.id)
    assert current is not None
    return current


async def audit_records(store: RequestStore) -> list[AuditRecord]:
    return [r async for r in store.audit.entries()]


async def index_members(redis: aioredis.Redis, key: str) -> set[str]:
    return {m.decode() for m in await redis.zrange(key, 0, -1) if isinstance(m, bytes)}


def test_request_ids_are_short_safe_and_unique() -> None:
    ids = {new_request_id() for _ in range(2000)}
    assert len(ids) == 2000
    for request_id in ids:
        assert request_id.startswith(REQUEST_ID_PREFIX)
        assert len(request_id) == 15
        assert all(c.isalnum() or c in "-_" for c in request_id)


async def test_create_then_get_round_trips(store: RequestStore, clock: ManualClock) -> None:
    request = make_request(clock, extra={"channel": "C1"})
    result = await store.create(request, dedupe_key="ssh vm-web-1 2h", max_pending_per_user=5)
    assert result.created
    assert result.request == request
    assert await store.get(request.id) == request
    assert await store.get("jr-unknown") is None


async def test_create_writes_one_requested_audit_record(store: RequestStore, clock: ManualClock) -> None:
    request = make_request(clock)
    await store.create(request, dedupe_key="k", max_pending_per_user=5, audit={"channel": "C9"})
    [record] = await audit_records(store)
    assert (record.event, record.actor, record.request_id, record.at) == ("requested", "U1", request.id, clock.now())
    assert record.detail["ports"] == "22"
    assert record.detail["duration"] == "7200"
    assert record.detail["channel"] == "C9"
    assert record.detail["vm"] == request.vm.id


async def test_create_indexes_and_schedules(
    store: RequestStore, clock: ManualClock, redis_client: aioredis.Redis
) -> None:
    request = make_request(clock)
    due = clock.now() + timedelta(minutes=30)
    await store.create(request, dedupe_key="k", max_pending_per_user=5, schedule={f"timeout:{request.id}": due})
    assert await index_members(redis_client, store.keys.user_state("U1", S.PENDING)) == {request.id}
    assert await index_members(redis_client, store.keys.state(S.PENDING)) == {request.id}
    assert await redis_client.zscore(store.keys.schedule, f"timeout:{request.id}") == due.timestamp()


async def test_same_command_while_pending_returns_the_existing_request(
    store: RequestStore, clock: ManualClock, redis_client: aioredis.Redis
) -> None:
    first = make_request(clock)
    await store.create(first, dedupe_key="ssh vm 2h", max_pending_per_user=5)
    clock.advance(timedelta(seconds=4))
    retry = make_request(clock)
    result = await store.create(
        retry, dedupe_key="ssh vm 2h", max_pending_per_user=5, schedule={f"timeout:{retry.id}": clock.now()}
    )
    assert not result.created
    assert result.request == first
    assert await store.get(retry.id) is None
    assert len(await audit_records(store)) == 1
    assert await redis_client.zcard(store.keys.schedule) == 0


async def test_dedupe_is_per_requester(store: RequestStore, clock: ManualClock) -> None:
    await store.create(make_request(clock, "U1"), dedupe_key="same", max_pending_per_user=5)
    other = await store.create(make_request(clock, "U2"), dedupe_key="same", max_pending_per_user=5)
    assert other.created


async def test_same_command_after_a_decision_makes_a_new_request(store: RequestStore, clock: ManualClock) -> None:
    first = make_request(clock)
    await store.create(first, dedupe_key="ssh vm 2h", max_pending_per_user=5)
    assert (await store.transition(first.id, S.DENIED, actor="U2")).ok
    second = make_request(clock)
    result = await store.create(second, dedupe_key="ssh vm 2h", max_pending_per_user=5)
    assert result.created
    assert result.request.id == second.id
    again = await store.create(make_request(clock), dedupe_key="ssh vm 2h", max_pending_per_user=5)
    assert again.request.id == second.id
    assert not again.created


async def test_dedupe_key_expires(store: RequestStore, clock: ManualClock, redis_client: aioredis.Redis) -> None:
    await store.create(make_request(clock), dedupe_key="k", max_pending_per_user=5)
    ttl = await redis_client.ttl(store.keys.dedupe("U1", "k"))
    assert 0 < ttl <= int(store.dedupe_ttl.total_seconds())


async def test_pending_cap(store: RequestStore, clock: ManualClock, redis_client: aioredis.Redis) -> None:
    made = [make_request(clock) for _ in range(3)]
    for request in made[:2]:
        await store.create(request, dedupe_key=request.id, max_pending_per_user=2)
    before = await redis_client.dbsize()
    with pytest.raises(TooManyPending) as caught:
        await store.create(made[2], dedupe_key=made[2].id, max_pending_per_user=2)
    assert (caught.value.count, caught.value.limit) == (2, 2)
    assert await redis_client.dbsize() == before
    assert len(await audit_records(store)) == 2
    assert await store.count_pending("U1") == 2
    other_user = make_request(clock, "U2")
    assert (await store.create(other_user, dedupe_key="x", max_pending_per_user=2)).created
    await store.transition(made[0].id, S.CANCELLED, actor="U1")
    assert (await store.create(made[2], dedupe_key=made[2].id, max_pending_per_user=2)).created


async def test_repeat_is_answered_even_at_the_cap(store: RequestStore, clock: ManualClock) -> None:
    request = make_request(clock)
    await store.create(request, dedupe_key="k", max_pending_per_user=1)
    result = await store.create(make_request(clock), dedupe_key="k", max_pending_per_user=1)
    assert result.request.id == request.id


async def test_create_refuses_non_pending_and_reused_ids(store: RequestStore, clock: ManualClock) -> None:
    with pytest.raises(ValueError, match="pending"):
        await store.create(make_request(clock, state=S.APPROVED), dedupe_key="a", max_pending_per_user=5)
    request = make_request(clock)
    await store.create(request, dedupe_key="a", max_pending_per_user=5)
    await store.transition(request.id, S.CANCELLED, actor="U1")
    with pytest.raises(ValueError, match="already used"):
        await store.create(request, dedupe_key="b", max_pending_per_user=5)
    assert (await store.get(request.id)) is not None
    assert (await store.get(request.id)).state is S.CANCELLED  # type: ignore[union-attr]


LEGAL = [(a, b) for a in S for b in S if can_transition(a, b)]
ILLEGAL = [(a, b) for a, b in itertools.product(S, S) if not can_transition(a, b)]


@pytest.mark.parametrize(("current", "target"), LEGAL)
async def test_every_legal_transition(
    store: RequestStore, clock: ManualClock, redis_client: aioredis.Redis, current: S, target: S
) -> None:
    request = await new_in_state(store, clock, current)
    before = len(await audit_records(store))
    clock.advance(timedelta(minutes=1))
    result = await store.transition(request.id, target, actor="U7", fields={"approver": "U7"}, audit={"why": "test"})
    assert result.ok
    assert result.previous is current
    assert result.request.state is target
    assert result.request.approver == "U7"
    assert await store.get(request.id) == result.request
    records = await audit_records(store)
    assert len(records) == before + 1
    last = records[-1]
    assert (last.event, last.actor, last.request_id, last.at) == (target.value, "U7", request.id, clock.now())
    assert dict(last.detail) == {"from": current.value, "to": target.value, "why": "test"}
    assert await index_members(redis_client, store.keys.state(current)) == set()
    assert await index_members(redis_client, store.keys.user_state("U1", current)) == set()
    assert await index_members(redis_client, store.keys.state(target)) == {request.id}
    assert await index_members(redis_client, store.keys.user_state("U1", target)) == {request.id}
    ttl = await redis_client.ttl(store.keys.request(request.id))
    if is_terminal(target):
        assert 89 * 86400 < ttl <= 90 * 86400
    else:
        assert ttl == -1


@pytest.mark.parametrize(("current", "target"), ILLEGAL)
async def test_every_illegal_transition_writes_nothing(
    store: RequestStore, clock: ManualClock, redis_client: aioredis.Redis, current: S, target: S
) -> None:
    request = await new_in_state(store, clock, current)
    due = clock.now() + timedelta(hours=1)
    await redis_client.zadd(store.keys.schedule, {"keep:me": 1.0})
    snapshot = {k: await redis_client.dump(k) for k in await redis_client.keys("*")}
    result = await store.transition(
        request.id,
        target,
        actor="U7",
        fields={"approver": "U7", "failure": None},
        schedule={"remind:x": due},
        unschedule=["keep:me"],
        audit={"why": "test"},
    )
    assert not result.ok
    assert result.previous is current
    assert result.request == request
    assert {k: await redis_client.dump(k) for k in await redis_client.keys("*")} == snapshot


async def test_transition_sets_and_deletes_fields_and_schedules_atomically(
    store: RequestStore, clock: ManualClock, redis_client: aioredis.Redis
) -> None:
    request = make_request(clock, failure="old", extra={"a": "1"})
    timeout = f"timeout:{request.id}"
    await store.create(request, dedupe_key="k", max_pending_per_user=5, schedule={timeout: clock.now()})
    ends = clock.now() + timedelta(hours=2)
    result = await store.transition(
        request.id,
        S.APPROVED,
        actor="U2",
        fields={"approver": "U2", "decided_at": clock.now(), "failure": None, "extra.a": None, "extra.b": "2"},
        schedule={f"remind:{request.id}": ends - timedelta(minutes=15), f"expire:{request.id}": ends},
        unschedule=[timeout],
    )
    assert result.ok
    stored = await store.get(request.id)
    assert stored is not None
    assert (stored.approver, stored.decided_at, stored.failure) == ("U2", clock.now(), None)
    assert stored.extra == {"b": "2"}
    members = dict(
        cast(list[tuple[bytes, float]], await redis_client.zrange(store.keys.schedule, 0, -1, withscores=True))
    )
    assert members == {
        f"remind:{request.id}".encode(): (ends - timedelta(minutes=15)).timestamp(),
        f"expire:{request.id}".encode(): ends.timestamp(),
    }


async def test_transition_of_unknown_request(store: RequestStore) -> None:
    with pytest.raises(RequestNotFound):
        await store.transition("jr-nope", S.APPROVED, actor="U2")


async def test_bad_fields_and_audit_keys_are_refused_before_anything_is_written(
    store: RequestStore, clock: ManualClock
) -> None:
    request = await new_in_state(store, clock, S.PENDING)
    with pytest.raises(CodecError):
        await store.transition(request.id, S.APPROVED, actor="U2", fields={"state": "active"})
    with pytest.raises(AuditFieldError):
        await store.transition(request.id, S.APPROVED, actor="U2", audit={"actor": "forged"})
    assert (await store.get(request.id)) == request
    assert len(await audit_records(store)) == 1


async def test_fifty_concurrent_approvals_on_one_client_give_one_winner(
    store: RequestStore, clock: ManualClock
) -> None:
    request = await new_in_state(store, clock, S.PENDING)
    results = await asyncio.gather(
        *(store.transition(request.id, S.APPROVED, actor=f"U{i}", fields={"approver": f"U{i}"}) for i in range(50))
    )
    winners = [r for r in results if r.ok]
    assert len(winners) == 1
    winner = winners[0].request.approver
    assert all(r.request.approver == winner and r.request.state is S.APPROVED for r in results)
    approvals = [r for r in await audit_records(store) if r.event == "approved"]
    assert [r.actor for r in approvals] == [winner]


async def test_fifty_concurrent_decisions_from_separate_connections_give_one_outcome(
    redis_server: RedisServer, redis_client: aioredis.Redis, clock: ManualClock
) -> None:
    setup = RequestStore(redis_client, clock, prefix="race")
    request = await new_in_state(setup, clock, S.PENDING)
    clients = [aioredis.Redis.from_url(redis_server.url, single_connection_client=True) for _ in range(10)]
    try:
        stores = [RequestStore(c, clock, prefix="race") for c in clients]
        moves = [S.APPROVED if i % 2 else S.DENIED for i in range(50)]
        results = await asyncio.gather(
            *(stores[i % 10].transition(request.id, to, actor=f"U{i}") for i, to in enumerate(moves))
        )
    finally:
        for client in clients:
            await client.aclose()
    assert sum(r.ok for r in results) == 1
    transitions = [r for r in await audit_records(setup) if r.is_transition]
    assert len(transitions) == 1


async def test_update_fields_writes_one_audit_record(store: RequestStore, clock: ManualClock) -> None:
    request = await new_in_state(store, clock, S.PENDING)
    result = await store.update_fields(
        request.id, {"card_channel": "C1", "card_ts": "1.2"}, actor="bot", event="card_posted", audit={"n": "1"}
    )
    assert result.ok
    assert result.changed
    assert (result.request.card_channel, result.request.card_ts) == ("C1", "1.2")
    assert result.request.state is S.PENDING
    last = (await audit_records(store))[-1]
    assert (last.event, last.actor, last.request_id) == ("card_posted", "bot", request.id)
    assert dict(last.detail) == {"state": "pending", "n": "1"}
    assert not last.is_transition


async def test_update_fields_guarded_by_state(store: RequestStore, clock: ManualClock) -> None:
    request = await new_in_state(store, clock, S.DENIED)
    before = len(await audit_records(store))
    result = await store.update_fields(
        request.id, {}, actor="U3", event="approval_added", expect_states=[S.PENDING], append={"approvals": "U3"}
    )
    assert not result.ok
    assert result.request == request
    assert len(await audit_records(store)) == before


async def test_concurrent_appends_are_all_kept_once(store: RequestStore, clock: ManualClock) -> None:
    request = await new_in_state(store, clock, S.PENDING)
    approvers = [f"U{i}" for i in range(20)] * 2
    results = await asyncio.gather(
        *(
            store.update_fields(request.id, {}, actor=a, event="approval_added", append={"approvals": a})
            for a in approvers
        )
    )
    assert sum(r.changed for r in results) == 20
    stored = await store.get(request.id)
    assert stored is not None
    assert sorted(stored.approvals) == sorted(set(approvers))
    assert len([r for r in await audit_records(store) if r.event == "approval_added"]) == 20


async def test_append_keeps_text_exact(store: RequestStore, clock: ManualClock) -> None:
    request = await new_in_state(store, clock, S.PENDING)
    odd = 'U/1 "é" \\ \u2028 \U0001f600'
    await store.update_fields(request.id, {}, actor="a", event="e", append={"approvals": "U0"})
    await store.update_fields(request.id, {}, actor="a", event="e", append={"approvals": odd})
    stored = await store.get(request.id)
    assert stored is not None
    assert stored.approvals == ("U0", odd)


async def test_append_only_to_text_tuples(store: RequestStore, clock: ManualClock) -> None:
    request = await new_in_state(store, clock, S.PENDING)
    for name in ("ports", "reason"):
        with pytest.raises(CodecError):
            await store.update_fields(request.id, {}, actor="a", event="e", append={name: "1"})


async def test_update_of_unknown_request(store: RequestStore) -> None:
    with pytest.raises(RequestNotFound):
        await store.update_fields("jr-nope", {"card_ts": "1"}, actor="a", event="e")


async def test_record_audit_only_events(store: RequestStore, clock: ManualClock) -> None:
    entry_id = await store.record("click_refused", actor="U9", request_id="jr-x", detail={"reason": "self-approval"})
    await store.record("policy_changed", actor="UADMIN", request_id=None)
    first, second = await audit_records(store)
    assert first.id == entry_id
    assert (first.event, first.actor, first.request_id, dict(first.detail)) == (
        "click_refused",
        "U9",
        "jr-x",
        {"reason": "self-approval"},
    )
    assert (second.event, second.request_id, dict(second.detail)) == ("policy_changed", None, {})
    with pytest.raises(AuditFieldError):
        await store.record("x", actor="a", request_id=None, detail={"event": "forged"})


async def test_lookups(store: RequestStore, clock: ManualClock) -> None:
    a = await new_in_state(store, clock, S.PENDING)
    clock.advance(timedelta(seconds=1))
    b = await new_in_state(store, clock, S.ACTIVE)
    clock.advance(timedelta(seconds=1))
    c = await new_in_state(store, clock, S.DENIED)
    other = await new_in_state(store, clock, S.PENDING, requester="U2")
    assert [r.id for r in await store.by_requester("U1")] == [a.id, b.id, c.id]
    assert [r.id for r in await store.by_requester("U1", [S.PENDING, S.ACTIVE])] == [a.id, b.id]
    assert await store.by_requester("U1", []) == []
    assert await store.by_requester("U3") == []
    assert [r.id for r in await store.by_state(S.PENDING)] == [a.id, other.id]
    assert [r.id for r in await store.by_state(S.ACTIVE)] == [b.id]


async def test_terminal_requests_expire_and_leave_the_indexes(redis_client: aioredis.Redis, clock: ManualClock) -> None:
    store = RequestStore(redis_client, clock, prefix="ret", retention=timedelta(days=1))
    old = await new_in_state(store, clock, S.DENIED)
    await redis_client.delete(store.keys.request(old.id))
    assert await store.by_state(S.DENIED) == []
    clock.advance(timedelta(days=2))
    fresh = await new_in_state(store, clock, S.DENIED)
    assert await index_members(redis_client, store.keys.state(S.DENIED)) == {fresh.id}
    assert await index_members(redis_client, store.keys.user_state("U1", S.DENIED)) == {fresh.id}


async def test_retention_none_keeps_terminal_requests(redis_client: aioredis.Redis, clock: ManualClock) -> None:
    store = RequestStore(redis_client, clock, prefix="keep", retention=None)
    request = await new_in_state(store, clock, S.EXPIRED)
    clock.advance(timedelta(days=400))
    await new_in_state(store, clock, S.EXPIRED)
    assert await redis_client.ttl(store.keys.request(request.id)) == -1
    assert request.id in await index_members(redis_client, store.keys.state(S.EXPIRED))


async def test_prefixes_isolate_stores(redis_client: aioredis.Redis, clock: ManualClock) -> None:
    one = RequestStore(redis_client, clock, prefix="one")
    two = RequestStore(redis_client, clock, prefix="two")
    request = await new_in_state(one, clock, S.PENDING)
    assert await two.get(request.id) is None
    assert [r async for r in two.audit.entries()] == []
    assert all(cast(bytes, k).startswith(b"one:{jit}:") for k in await redis_client.keys("*"))


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    request=access_requests(request_id=st.text(min_size=1, max_size=20)).map(
        lambda r: AccessRequest(**{**r.__dict__, "state": S.PENDING, "created_at": datetime(2026, 1, 1, tzinfo=UTC)})
    )
)
async def test_any_request_round_trips_through_the_lua_steps(
    redis_client: aioredis.Redis, clock: ManualClock, request: AccessRequest
) -> None:
    store = RequestStore(redis_client, clock, prefix="rt")
    await redis_client.flushdb()
    await store.create(request, dedupe_key="k", max_pending_per_user=5)
    assert await store.get(request.id) == request
    moved = await store.transition(request.id, S.APPROVED, actor="U2", fields={"approver": request.requester})
    assert moved.request == AccessRequest(**{**request.__dict__, "state": S.APPROVED, "approver": request.requester})
    assert [r.id for r in await store.by_requester(request.requester)] == [request.id]
