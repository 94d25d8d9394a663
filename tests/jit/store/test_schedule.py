"""The leased schedule: claim, lease expiry re-delivery, completion only by the claimer, sent-markers."""

from __future__ import annotations

import asyncio
from datetime import datetime, timedelta

import pytest
import redis.asyncio as aioredis

from jit.clock import ManualClock
from jit.model import RequestState
from jit.store.requests import RequestStore
from jit.store.schedule import DueItem, Schedule, item_key
from tests.jit.store.conftest import make_request

LEASE = timedelta(seconds=60)


@pytest.fixture
def schedule(redis_client: aioredis.Redis) -> Schedule:
    return Schedule(redis_client, prefix="test")


def at(clock: ManualClock, seconds: float) -> datetime:
    return clock.now() + timedelta(seconds=seconds)


async def test_claims_only_due_items_in_due_order(schedule: Schedule, clock: ManualClock) -> None:
    await schedule.add("remind:b", at(clock, -5))
    await schedule.add("remind:a", at(clock, -10))
    await schedule.add("expire:c", at(clock, 0))
    await schedule.add("later:d", at(clock, 1))
    items = await schedule.claim(clock.now(), lease=LEASE, limit=10)
    assert [i.key for i in items] == ["remind:a", "remind:b", "expire:c"]
    assert [i.due for i in items] == [at(clock, -10), at(clock, -5), at(clock, 0)]
    assert all(i.attempt == 1 for i in items)
    assert len({i.token for i in items}) == 3
    assert await schedule.claim(clock.now(), lease=LEASE, limit=10) == []


async def test_claim_respects_the_limit(schedule: Schedule, clock: ManualClock) -> None:
    for n in range(10):
        await schedule.add(f"remind:{n}", at(clock, -n))
    first = await schedule.claim(clock.now(), lease=LEASE, limit=4)
    second = await schedule.claim(clock.now(), lease=LEASE, limit=100)
    assert len(first) == 4
    assert len(second) == 6
    assert {i.key for i in first}.isdisjoint({i.key for i in second})


async def test_claim_batch_reports_the_next_due_time(schedule: Schedule, clock: ManualClock) -> None:
    empty = await schedule.claim_batch(clock.now(), lease=LEASE, limit=10)
    assert empty.items == []
    assert empty.next_due is None
    await schedule.add("remind:soon", at(clock, 30))
    batch = await schedule.claim_batch(clock.now(), lease=LEASE, limit=10)
    assert batch.next_due == at(clock, 30)
    await schedule.add("remind:now", at(clock, 0))
    batch = await schedule.claim_batch(clock.now(), lease=LEASE, limit=10)
    assert [i.key for i in batch.items] == ["remind:now"]
    assert batch.next_due == at(clock, 30)


async def test_an_unfinished_claim_comes_back_after_the_lease(schedule: Schedule, clock: ManualClock) -> None:
    await schedule.add("remind:x", clock.now())
    [first] = await schedule.claim(clock.now(), lease=LEASE, limit=10)
    assert await schedule.due_at("remind:x") == at(clock, 60)
    clock.advance(LEASE - timedelta(seconds=1))
    assert await schedule.claim(clock.now(), lease=LEASE, limit=10) == []
    clock.advance(timedelta(seconds=1))
    [again] = await schedule.claim(clock.now(), lease=LEASE, limit=10)
    assert again.key == "remind:x"
    assert again.attempt == 2
    assert again.token != first.token
    assert not await schedule.complete(first)
    assert await schedule.due_at("remind:x") is not None
    assert await schedule.complete(again)
    assert await schedule.due_at("remind:x") is None
    assert not await schedule.complete(again)


async def test_complete_many_removes_only_what_it_still_holds(schedule: Schedule, clock: ManualClock) -> None:
    await schedule.update({"a:1": clock.now(), "b:1": clock.now(), "c:1": clock.now()})
    a, b, c = await schedule.claim(clock.now(), lease=LEASE, limit=10)
    await schedule.add("b:1", at(clock, 5))
    assert await schedule.complete_many([a, b, DueItem(c.key, c.due, "forged")]) == [True, False, False]
    assert await schedule.complete_many([]) == []
    assert await schedule.due_at("a:1") is None
    assert await schedule.due_at("b:1") == at(clock, 5)
    assert await schedule.complete(c)


async def test_a_forged_token_completes_nothing(schedule: Schedule, clock: ManualClock) -> None:
    await schedule.add("remind:x", clock.now())
    [item] = await schedule.claim(clock.now(), lease=LEASE, limit=10)
    assert not await schedule.complete(DueItem(item.key, item.due, "forged"))
    assert await schedule.size() == 1


async def test_rescheduling_a_claimed_item_survives_its_old_claim(schedule: Schedule, clock: ManualClock) -> None:
    await schedule.add("expire:x", clock.now())
    [item] = await schedule.claim(clock.now(), lease=LEASE, limit=10)
    await schedule.add("expire:x", at(clock, 3600))
    assert not await schedule.complete(item)
    assert not await schedule.release(item)
    assert await schedule.due_at("expire:x") == at(clock, 3600)
    clock.advance(timedelta(hours=1))
    [fresh] = await schedule.claim(clock.now(), lease=LEASE, limit=10)
    assert fresh.attempt == 1


async def test_removing_a_claimed_item(schedule: Schedule, clock: ManualClock) -> None:
    await schedule.add("remind:x", clock.now())
    [item] = await schedule.claim(clock.now(), lease=LEASE, limit=10)
    await schedule.remove("remind:x")
    assert not await schedule.complete(item)
    assert await schedule.size() == 0


async def test_release_hands_an_item_back_at_once(schedule: Schedule, clock: ManualClock) -> None:
    await schedule.add("remind:x", at(clock, -3))
    [item] = await schedule.claim(clock.now(), lease=LEASE, limit=10)
    assert await schedule.release(item)
    assert not await schedule.release(item)
    [again] = await schedule.claim(clock.now(), lease=LEASE, limit=10)
    assert again.due == at(clock, -3)
    assert again.attempt == 1


async def test_retry_moves_a_failed_item_later(schedule: Schedule, clock: ManualClock) -> None:
    await schedule.add("remind:x", clock.now())
    [item] = await schedule.claim(clock.now(), lease=LEASE, limit=10)
    assert await schedule.retry(item, at(clock, 4))
    assert await schedule.claim(clock.now(), lease=LEASE, limit=10) == []
    clock.advance(timedelta(seconds=4))
    [again] = await schedule.claim(clock.now(), lease=LEASE, limit=10)
    assert again.attempt == 2


async def test_hold_keeps_the_claim_and_moves_the_lease_end(schedule: Schedule, clock: ManualClock) -> None:
    await schedule.add("card:x", clock.now())
    [item] = await schedule.claim(clock.now(), lease=LEASE, limit=10)
    assert await schedule.hold(item, at(clock, 600))
    assert await schedule.due_at("card:x") == at(clock, 600)
    clock.advance(LEASE * 2)
    assert await schedule.claim(clock.now(), lease=LEASE, limit=10) == [], "nobody else takes a held item"
    assert await schedule.complete(item), "its holder still completes it"


async def test_a_lost_claim_cannot_be_held(schedule: Schedule, clock: ManualClock) -> None:
    await schedule.add("card:x", clock.now())
    [item] = await schedule.claim(clock.now(), lease=LEASE, limit=10)
    await schedule.add("card:x", at(clock, 30))  # moved meanwhile
    assert not await schedule.hold(item, at(clock, 600))
    assert await schedule.due_at("card:x") == at(clock, 30)


async def test_concurrent_claims_never_share_an_item(redis_client: aioredis.Redis, clock: ManualClock) -> None:
    schedule = Schedule(redis_client, prefix="race")
    await schedule.update({f"remind:{n}": at(clock, -(n % 50)) for n in range(500)})
    batches = await asyncio.gather(*(schedule.claim(clock.now(), lease=LEASE, limit=7) for _ in range(100)))
    keys = [i.key for batch in batches for i in batch]
    assert len(keys) == len(set(keys)) == 500


async def test_mark_done_is_once(schedule: Schedule) -> None:
    results = await asyncio.gather(*(schedule.mark_done("remind:x") for _ in range(20)))
    assert sum(results) == 1
    assert await schedule.is_done("remind:x")
    assert not await schedule.is_done("remind:y")
    await schedule.clear_done("remind:x")
    assert await schedule.mark_done("remind:x")


async def test_sent_markers_expire(schedule: Schedule, redis_client: aioredis.Redis) -> None:
    await schedule.mark_done("remind:x")
    ttl = await redis_client.ttl(schedule.keys.done("remind:x"))
    assert 13 * 86400 < ttl <= 14 * 86400


async def test_upcoming_size_and_backlog(schedule: Schedule, clock: ManualClock) -> None:
    assert await schedule.upcoming(5) == []
    await schedule.update({"a:1": at(clock, 10), "b:1": at(clock, -10), "c:1": at(clock, -1)})
    assert await schedule.upcoming(2) == [("b:1", at(clock, -10)), ("c:1", at(clock, -1))]
    assert await schedule.size() == 3
    assert await schedule.overdue(clock.now()) == 2
    await schedule.update({}, remove=["b:1", "c:1"])
    assert await schedule.upcoming(5) == [("a:1", at(clock, 10))]


async def test_store_steps_schedule_into_the_same_set(redis_client: aioredis.Redis, clock: ManualClock) -> None:
    store = RequestStore(redis_client, clock, prefix="test")
    schedule = Schedule(redis_client, prefix="test")
    request = make_request(clock)
    await store.create(request, dedupe_key="k", max_pending_per_user=5, schedule={f"timeout:{request.id}": clock.now()})
    [item] = await schedule.claim(clock.now(), lease=LEASE, limit=10)
    assert item.subject == request.id
    assert item.kind == "timeout"
    await store.transition(request.id, RequestState.APPROVED, actor="U2", unschedule=[item.key])
    assert not await schedule.complete(item)
    assert await schedule.size() == 0


def test_item_keys() -> None:
    assert item_key("remind", "jr-1") == "remind:jr-1"
    item = DueItem("reconcile:jr-1:extra", datetime.now(), "t")
    assert (item.kind, item.subject) == ("reconcile", "jr-1:extra")
    with pytest.raises(ValueError, match="cannot contain"):
        item_key("a:b", "x")
