"""Fixtures for the store tests: a store on the suite's Redis with a hand-moved clock."""

from __future__ import annotations

from datetime import timedelta

import pytest
import redis.asyncio as aioredis

from jit.clock import ManualClock
from jit.model import AccessRequest, RequestState, VmRef
from jit.request_ids import new_request_id
from jit.results import RequestDraft
from jit.store.requests import RequestStore
from jit.store.source_links import PendingSource

VM = VmRef(
    id="/subscriptions/sub-1/resourceGroups/rg-app/providers/Microsoft.Compute/virtualMachines/vm-web-1",
    subscription_id="sub-1",
    resource_group="rg-app",
    name="vm-web-1",
    location="westeurope",
)


@pytest.fixture
def clock() -> ManualClock:
    """Time that moves only when a test says so."""
    return ManualClock()


@pytest.fixture
def store(redis_client: aioredis.Redis, clock: ManualClock) -> RequestStore:
    """A request store on a flushed database."""
    return RequestStore(redis_client, clock, prefix="test")


def make_request(clock: ManualClock, requester: str = "U1", **changes: object) -> AccessRequest:
    """A pending request made now."""
    fields: dict[str, object] = {
        "id": new_request_id(),
        "requester": requester,
        "vm": VM,
        "ports": (22,),
        "source": "203.0.113.7",
        "duration": timedelta(hours=2),
        "reason": "fixing deploy",
        "state": RequestState.PENDING,
        "created_at": clock.now(),
    }
    fields.update(changes)
    return AccessRequest(**fields)  # type: ignore[arg-type]


def pending_source(
    clock: ManualClock, requester: str = "U1", valid_for: timedelta = timedelta(minutes=10)
) -> PendingSource:
    """A "from me" request waiting for its source, valid for ``valid_for`` from now."""
    draft = RequestDraft(
        requester=requester,
        vm="rg-app/vm-web-1",
        ports=(22, 8080),
        duration=timedelta(hours=1),
        source=None,
        reason="fixing deploy",
        break_glass=False,
    )
    return PendingSource(draft, requester_name="alice", reply_channel="C1", expires_at=clock.now() + valid_for)
