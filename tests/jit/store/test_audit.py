"""The audit stream: paging by time, clock skew, trimming only on request, and replay into histories."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import redis.asyncio as aioredis

from jit.clock import ManualClock
from jit.model import RequestState as S
from jit.store.audit import AuditLog, AuditRecord, RequestHistory, histories, replay
from jit.store.requests import RequestStore
from tests.jit.store.conftest import make_request


async def test_entries_page_through_everything_in_order(store: RequestStore, clock: ManualClock) -> None:
    for i in range(1234):
        await store.record("ping", actor=f"U{i}", request_id=None)
        if i % 7 == 0:
            clock.advance(timedelta(milliseconds=3))
    records = [r async for r in store.audit.entries(page_size=100)]
    assert [r.actor for r in records] == [f"U{i}" for i in range(1234)]
    assert len({r.id for r in records}) == 1234
    assert await store.audit.length() == 1234


async def test_entries_between_times(store: RequestStore, clock: ManualClock) -> None:
    start = clock.now()
    for minute in range(10):
        await store.record("tick", actor="bot", request_id=None, detail={"minute": str(minute)})
        clock.advance(timedelta(minutes=1))
    since, until = start + timedelta(minutes=3), start + timedelta(minutes=6)
    minutes = [r.detail["minute"] async for r in store.audit.entries(since, until, page_size=2)]
    assert minutes == ["3", "4", "5", "6"]
    assert [r.detail["minute"] async for r in store.audit.entries(since=start + timedelta(minutes=8))] == ["8", "9"]
    assert [r.detail["minute"] async for r in store.audit.entries(until=start)] == ["0"]


async def test_stream_ids_follow_the_clock(store: RequestStore, clock: ManualClock) -> None:
    await store.record("a", actor="bot", request_id=None)
    [record] = [r async for r in store.audit.entries()]
    assert record.id.split("-")[0] == str(int(clock.now().timestamp() * 1000))


async def test_a_clock_running_behind_still_appends(store: RequestStore, clock: ManualClock) -> None:
    await store.record("first", actor="bot", request_id=None)
    clock.advance(timedelta(hours=-1))
    await store.record("second", actor="bot", request_id=None)
    first, second = [r async for r in store.audit.entries()]
    assert (first.event, second.event) == ("first", "second")
    assert second.at == clock.now()
    assert second.id > first.id or len(second.id) > len(first.id)


async def test_not_trimmed_by_default_and_trimmed_when_asked(redis_client: aioredis.Redis, clock: ManualClock) -> None:
    kept = RequestStore(redis_client, clock, prefix="kept")
    capped = RequestStore(redis_client, clock, prefix="capped", audit_maxlen=10)
    for i in range(1000):
        await kept.record("e", actor=str(i), request_id=None)
        await capped.record("e", actor=str(i), request_id=None)
    assert await kept.audit.length() == 1000
    assert await capped.audit.length() <= 200
    assert [r.actor async for r in capped.audit.entries()][-1] == "999"


async def test_record_to_json(store: RequestStore, clock: ManualClock) -> None:
    await store.record("click_refused", actor="U9", request_id="jr-1", detail={"why": "not an approver"})
    [record] = [r async for r in store.audit.entries()]
    line = json.dumps(record.to_json())
    assert json.loads(line) == {
        "id": record.id,
        "at": "2026-12-01T09:00:00+00:00",
        "event": "click_refused",
        "actor": "U9",
        "request_id": "jr-1",
        "detail": {"why": "not an approver"},
    }


async def test_replay_reconstructs_each_request(store: RequestStore, clock: ManualClock) -> None:
    flows = {
        "granted": [S.APPROVED, S.ACTIVE, S.EXPIRED],
        "denied": [S.DENIED],
        "failed": [S.APPROVED, S.FAILED],
        "revoked": [S.APPROVED, S.ACTIVE, S.REVOKED],
        "waiting": [],
    }
    ids: dict[str, str] = {}
    for name in flows:
        request = make_request(clock, requester=f"U-{name}")
        ids[name] = request.id
        await store.create(request, dedupe_key=name, max_pending_per_user=5)
    for step in range(3):
        for name, steps in flows.items():
            clock.advance(timedelta(seconds=5))
            if step < len(steps):
                assert (await store.transition(ids[name], steps[step], actor="U-approver")).ok
                assert not (await store.transition(ids[name], steps[step], actor="U-late")).ok
    await store.record("policy_changed", actor="U-admin", request_id=None)
    await store.update_fields(ids["waiting"], {"card_ts": "1.1"}, actor="bot", event="card_posted")
    stories = await histories(store.audit)
    assert set(stories) == set(ids.values())
    for name, steps in flows.items():
        story = stories[ids[name]]
        assert story.states == (S.PENDING, *steps)
        assert story.problems == []
        assert sum(r.is_transition for r in story.records) == len(steps)
        stored = await store.get(ids[name])
        assert stored is not None
        assert story.state is stored.state
    late = await histories(store.audit, since=clock.now() - timedelta(seconds=4))
    assert set(late) == {ids["waiting"]}


def record(n: int, event: str, **detail: str) -> AuditRecord:
    return AuditRecord(f"{n}-0", datetime(2026, 1, 1, tzinfo=UTC), event, "U1", "jr-1", detail)


def test_problems_spot_contradictions() -> None:
    story = replay(
        [
            record(1, "requested"),
            record(2, "approved", **{"from": "pending", "to": "approved"}),
            record(3, "denied", **{"from": "pending", "to": "denied"}),
            record(4, "pending", **{"from": "denied", "to": "pending"}),
            record(5, "requested"),
            record(6, "active", **{"from": "pending", "to": "approved"}),
        ]
    )["jr-1"]
    assert story.problems == [
        "3-0: moved from pending but was approved",
        "4-0: denied -> pending is not a legal move",
        "5-0: requested twice",
        "6-0: event active but moved to approved",
    ]
    assert story.states == (S.PENDING, S.APPROVED, S.DENIED, S.PENDING, S.APPROVED)


def test_history_without_its_creation() -> None:
    story = RequestHistory("jr-1", (record(1, "active", **{"from": "approved", "to": "active"}),))
    assert story.states == (S.APPROVED, S.ACTIVE)
    assert story.problems == []
    assert RequestHistory("jr-2", ()).state is None


async def test_audit_log_reads_its_prefix_only(redis_client: aioredis.Redis, clock: ManualClock) -> None:
    await RequestStore(redis_client, clock, prefix="a").record("x", actor="bot", request_id="jr-1")
    assert [r async for r in AuditLog(redis_client, prefix="b").entries()] == []
    assert len(await AuditLog(redis_client, prefix="a").for_request("jr-1")) == 1
