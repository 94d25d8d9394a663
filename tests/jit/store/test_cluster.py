"""The store's atomic steps on a real three-master Redis Cluster, reached through ``redis+cluster://``."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Iterator
from datetime import timedelta

import pytest
import redis.exceptions
from redis.asyncio.cluster import RedisCluster

from bot.doctor import redis_checks
from jit.checks import Verdict
from jit.clock import ManualClock
from jit.model import RequestState
from jit.ports.records import TooManyPending
from jit.redis_connect import RedisClient, connect_redis
from jit.store import lua
from jit.store.audit import histories
from jit.store.keys import Keys
from jit.store.limits import RateLimiter
from jit.store.requests import RequestStore
from jit.store.schedule import Schedule
from sandbox import redis_server
from sandbox.slack_workspace import APPROVER_1, ENGINEER
from sandbox.stack import Stack, StackOptions
from tests.e2e.flow import driver_of, request_card, wait_card_decided
from tests.jit.store.conftest import make_request

S = RequestState
LEASE = timedelta(seconds=60)


@pytest.fixture(scope="module")
def cluster() -> Iterator[redis_server.RedisCluster]:
    """Three masters, the slots split between them, for this module."""
    with redis_server.RedisCluster() as running:
        yield running


@pytest.fixture
async def client(cluster: redis_server.RedisCluster) -> AsyncIterator[RedisClient]:
    """A cluster client from the URL, on emptied nodes."""
    redis = connect_redis(cluster.url)
    assert isinstance(redis, RedisCluster)
    await redis.flushall(target_nodes=RedisCluster.PRIMARIES)
    yield redis
    await redis.aclose()


@pytest.fixture
def store(client: RedisClient, clock: ManualClock) -> RequestStore:
    return RequestStore(client, clock, prefix="test")


def _cluster(client: RedisClient) -> RedisCluster:
    assert isinstance(client, RedisCluster)
    return client


async def test_the_cluster_spreads_slots_but_jitbot_keys_share_one_node(client: RedisClient) -> None:
    cluster = _cluster(client)
    assert len(cluster.get_primaries()) == 3
    assert len({str(cluster.get_node_from_key(f"spread-{n}")) for n in range(30)}) == 3
    keys, other = Keys("test"), Keys("jitbot")
    names = [keys.request("jr-1"), keys.audit, keys.schedule, keys.user_state("U1", S.PENDING), other.rate("U9")]
    assert len({cluster.keyslot(name) for name in names}) == 1


async def test_create_transition_update_keep_indexes_audit_and_schedule(
    client: RedisClient, store: RequestStore, clock: ManualClock
) -> None:
    request = make_request(clock, "U1")
    made = await store.create(
        request, dedupe_key="ssh web 1h", max_pending_per_user=5, schedule={f"timeout:{request.id}": clock.now()}
    )
    assert made.created
    posted = await store.update_fields(request.id, {"card_channel": "C1", "card_ts": "1.2"}, actor="bot", event="card")
    assert posted.changed and posted.request.card_ts == "1.2"
    clock.advance(timedelta(seconds=5))
    approved = await store.transition(
        request.id,
        S.APPROVED,
        actor="U2",
        fields={"approver": "U2"},
        schedule={f"reconcile:{request.id}": clock.now()},
        unschedule=[f"timeout:{request.id}"],
    )
    assert approved.ok and approved.previous is S.PENDING and approved.request.approver == "U2"
    assert (await store.transition(request.id, S.ACTIVE, actor="bot")).ok
    assert not (await store.transition(request.id, S.DENIED, actor="U3")).ok

    assert [r.id for r in await store.by_requester("U1", [S.ACTIVE])] == [request.id]
    assert await store.by_requester("U1", [S.PENDING, S.APPROVED]) == []
    assert [r.id for r in await store.by_state(S.ACTIVE)] == [request.id]
    assert await store.count_pending("U1") == 0
    schedule = Schedule(client, prefix="test")
    assert await schedule.due_at(f"timeout:{request.id}") is None
    assert await schedule.due_at(f"reconcile:{request.id}") == clock.now()
    trail = await store.audit.for_request(request.id)
    assert [r.event for r in trail] == ["requested", "card", "approved", "active"]
    history = (await histories(store.audit))[request.id]
    assert history.states == (S.PENDING, S.APPROVED, S.ACTIVE)
    assert history.problems == []

    assert (await store.transition(request.id, S.EXPIRED, actor="bot")).ok
    assert await client.ttl(store.keys.request(request.id)) > 0
    assert [r.id for r in await store.by_state(S.EXPIRED)] == [request.id]


async def test_fifty_concurrent_decisions_from_ten_clients_give_one_outcome(
    cluster: redis_server.RedisCluster, store: RequestStore, clock: ManualClock
) -> None:
    request = make_request(clock, "U1")
    await store.create(request, dedupe_key=request.id, max_pending_per_user=5)
    clients = [connect_redis(cluster.url) for _ in range(10)]
    try:
        stores = [RequestStore(c, clock, prefix="test") for c in clients]
        moves = [S.APPROVED if i % 2 else S.DENIED for i in range(50)]
        results = await asyncio.gather(
            *(stores[i % 10].transition(request.id, to, actor=f"U{i}") for i, to in enumerate(moves))
        )
    finally:
        for c in clients:
            await c.aclose()
    winners = [r for r in results if r.ok]
    assert len(winners) == 1
    final = winners[0].request.state
    assert all(r.request.state is final for r in results)
    transitions = [r for r in await store.audit.for_request(request.id) if r.is_transition]
    assert len(transitions) == 1
    assert [r.id for r in await store.by_state(final)] == [request.id]
    assert await store.by_state(S.PENDING) == []


async def test_concurrent_quorum_approvals_are_each_counted_once(store: RequestStore, clock: ManualClock) -> None:
    request = make_request(clock, "U1")
    await store.create(request, dedupe_key=request.id, max_pending_per_user=5)
    approvers = [f"A{i}" for i in range(20)] * 2
    results = await asyncio.gather(
        *(
            store.update_fields(
                request.id, {}, actor=a, event="approval_recorded", expect_states={S.PENDING}, append={"approvals": a}
            )
            for a in approvers
        )
    )
    assert sum(r.changed for r in results) == 20
    stored = await store.get(request.id)
    assert stored is not None and sorted(stored.approvals) == sorted(set(approvers))


async def test_dedupe_hands_back_the_pending_request_and_lets_a_finished_one_go(
    client: RedisClient, store: RequestStore, clock: ManualClock
) -> None:
    first = make_request(clock, "U1")
    assert (await store.create(first, dedupe_key="ssh web 1h", max_pending_per_user=2)).created
    fresh_stores = [RequestStore(client, clock, prefix="test") for _ in range(20)]
    repeats = await asyncio.gather(
        *(s.create(make_request(clock, "U1"), dedupe_key="ssh web 1h", max_pending_per_user=2) for s in fresh_stores)
    )
    assert all(not r.created and r.request.id == first.id for r in repeats)
    assert await store.count_pending("U1") == 1

    assert (await store.transition(first.id, S.CANCELLED, actor="U1")).ok
    again = make_request(clock, "U1")
    made = await store.create(again, dedupe_key="ssh web 1h", max_pending_per_user=2)
    assert made.created and made.request.id == again.id
    assert (await store.create(make_request(clock, "U1"), dedupe_key="rdp", max_pending_per_user=2)).created
    with pytest.raises(TooManyPending):
        await store.create(make_request(clock, "U1"), dedupe_key="other", max_pending_per_user=2)
    assert [r.event for r in await store.audit.for_request(again.id)] == ["requested"]


async def test_schedule_claims_are_shared_completed_by_the_claimer_and_marked_once(
    cluster: redis_server.RedisCluster, client: RedisClient, clock: ManualClock
) -> None:
    other = connect_redis(cluster.url)
    try:
        mine, theirs = Schedule(client, prefix="test"), Schedule(other, prefix="test")
        await mine.update({f"remind:{n}": clock.now() - timedelta(seconds=n) for n in range(6)})
        a, b = await asyncio.gather(
            mine.claim(clock.now(), lease=LEASE, limit=3), theirs.claim(clock.now(), lease=LEASE, limit=3)
        )
        assert len(a) == len(b) == 3 and {i.key for i in a}.isdisjoint({i.key for i in b})
        assert await mine.complete_many(a) == [True, True, True]
        assert await theirs.retry(b[0], clock.now() + timedelta(seconds=10))
        assert not await theirs.complete(b[0])
        assert await theirs.release(b[1])
        assert await mine.size() == 3
        clock.advance(LEASE)
        again = {i.key: i.attempt for i in await mine.claim(clock.now(), lease=LEASE, limit=10)}
        assert again == {b[0].key: 2, b[1].key: 1, b[2].key: 2}
        marks = await asyncio.gather(*(s.mark_done("remind:0") for s in [mine, theirs] * 10))
        assert sum(marks) == 1
        assert await theirs.is_done("remind:0")
    finally:
        await other.aclose()


async def test_the_rate_limit_holds_under_concurrent_commands(client: RedisClient, clock: ManualClock) -> None:
    limiter = RateLimiter(client, clock, "test")
    decisions = await asyncio.gather(*(limiter.hit("U1", 5) for _ in range(12)))
    assert sum(d.allowed for d in decisions) == 5
    refused = await limiter.hit("U1", 5)
    assert not refused.allowed and refused.retry_after == timedelta(minutes=1)
    assert (await limiter.hit("U2", 5)).allowed


async def test_a_key_outside_the_hash_tag_is_refused(client: RedisClient) -> None:
    script = client.register_script(lua.RECORD)
    keys = Keys("test")
    with pytest.raises((redis.exceptions.RedisClusterException, redis.exceptions.ResponseError)):
        await script(keys=[keys.audit, "test:audit-without-tag"], args=["{}"])


async def test_doctor_checks_persistence_on_every_node(cluster: redis_server.RedisCluster) -> None:
    checks = await redis_checks(cluster.url)
    assert [(c.name, c.verdict) for c in checks] == [("reachable", Verdict.PASS), ("persistent", Verdict.WARN)]
    assert all(f"127.0.0.1:{port}" in checks[1].detail for port in cluster.ports)

    redis = _cluster(connect_redis(cluster.url))
    try:
        await redis.config_set("appendonly", "yes", target_nodes=RedisCluster.ALL_NODES)
        checks = await redis_checks(cluster.url)
        assert checks[1].verdict is Verdict.PASS and "all 3 cluster nodes" in checks[1].detail
        first = redis.get_node(host="127.0.0.1", port=cluster.ports[0])
        assert first is not None
        await redis.config_set("appendonly", "no", target_nodes=first)
        checks = await redis_checks(cluster.url)
        assert checks[1].verdict is Verdict.WARN
        assert f"127.0.0.1:{cluster.ports[0]}" in checks[1].detail
        assert f"127.0.0.1:{cluster.ports[1]}" not in checks[1].detail
    finally:
        await redis.config_set("appendonly", "no", target_nodes=RedisCluster.ALL_NODES)
        await redis.aclose()


async def test_request_to_approval_end_to_end_on_a_cluster(cluster: redis_server.RedisCluster) -> None:
    async with Stack(StackOptions(redis_url=cluster.url)) as stack:
        assert isinstance(stack.runtime.redis, RedisCluster)
        card, request_id = await request_card(stack, ENGINEER, "ssh web-01 1h fixing deploy")

        await driver_of(stack).click(APPROVER_1, card, "jit_approve", request_id)

        await wait_card_decided(stack, card)
        request = await stack.runtime.store.get(request_id)
        assert request is not None and request.state is S.ACTIVE and request.approver == APPROVER_1
        events = [r.event for r in await stack.runtime.audit.for_request(request_id)]
        assert "requested" in events and "approved" in events and "active" in events
