"""Compare-and-set guards on stored fields: the building block of extensions and guarded expiry."""

from __future__ import annotations

import asyncio
from datetime import timedelta

from jit.clock import ManualClock
from jit.model import RequestState
from jit.store.requests import RequestStore
from tests.jit.store.conftest import make_request

S = RequestState


async def _active(store: RequestStore, clock: ManualClock) -> str:
    request = make_request(clock)
    await store.create(request, dedupe_key=request.id, max_pending_per_user=10)
    for step in (S.APPROVED, S.ACTIVE):
        assert (await store.transition(request.id, step, actor="setup")).ok
    await store.update_fields(request.id, {"ends_at": clock.now() + timedelta(hours=1)}, actor="setup", event="setup")
    return request.id


async def test_update_happens_only_when_every_expected_field_holds(store: RequestStore, clock: ManualClock) -> None:
    request_id = await _active(store, clock)

    first = await store.update_fields(
        request_id, {"extra.ext_state": "pending"}, actor="U1", event="ext", expect_fields={"extra.ext_state": None}
    )
    second = await store.update_fields(
        request_id, {"extra.ext_state": "pending"}, actor="U2", event="ext", expect_fields={"extra.ext_state": None}
    )

    assert first.ok and first.changed
    assert not second.ok and second.request.extra["ext_state"] == "pending"
    events = [r.event for r in await store.audit.for_request(request_id)]
    assert events.count("ext") == 1


async def test_concurrent_compare_and_set_has_exactly_one_winner(store: RequestStore, clock: ManualClock) -> None:
    request_id = await _active(store, clock)
    await store.update_fields(request_id, {"extra.ext_state": "pending"}, actor="U1", event="ext")

    results = await asyncio.gather(
        *(
            store.update_fields(
                request_id,
                {"extra.ext_state": "approved", "extra.ext_by": f"U{i}"},
                actor=f"U{i}",
                event="ext_approved",
                expect_states={S.ACTIVE},
                expect_fields={"extra.ext_state": "pending"},
            )
            for i in range(20)
        )
    )

    assert sum(r.ok for r in results) == 1
    winner = next(r for r in results if r.ok)
    current = await store.get(request_id)
    assert current is not None and current.extra["ext_by"] == winner.request.extra["ext_by"]


async def test_typed_expectations_are_encoded_like_stored_values(store: RequestStore, clock: ManualClock) -> None:
    request_id = await _active(store, clock)
    current = await store.get(request_id)
    assert current is not None and current.ends_at is not None

    moved = await store.transition(
        request_id, S.EXPIRED, actor="jitbot", expect_fields={"ends_at": current.ends_at - timedelta(minutes=1)}
    )
    held = await store.transition(request_id, S.EXPIRED, actor="jitbot", expect_fields={"ends_at": current.ends_at})

    assert not moved.ok and moved.request.state is S.ACTIVE
    assert held.ok and held.request.state is S.EXPIRED


async def test_a_failed_guard_on_a_transition_writes_nothing(store: RequestStore, clock: ManualClock) -> None:
    request_id = await _active(store, clock)
    before = len(await store.audit.for_request(request_id))

    result = await store.transition(
        request_id, S.REVOKED, actor="U1", fields={"extra.revoked_by": "U1"}, expect_fields={"extra.nope": "x"}
    )

    assert not result.ok
    current = await store.get(request_id)
    assert current is not None and current.state is S.ACTIVE and "revoked_by" not in current.extra
    assert len(await store.audit.for_request(request_id)) == before
    assert await store.by_state(S.REVOKED) == []
