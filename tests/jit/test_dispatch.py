"""The schedule's handler table: exactly one handler per kind or it refuses to be built, and each due item runs
its kind's handler with the request as it is now."""

from __future__ import annotations

import pytest

from jit.dispatch import Dispatch, Handler, IncompleteDispatch, RoutineHandler
from jit.model import AccessRequest
from jit.schedule_items import SYNC_ITEM, Kind, Routine, item
from tests.jit.doubles.world import World


class Calls:
    """Handlers that remember what they were called with."""

    def __init__(self) -> None:
        self.seen: list[tuple[Kind, AccessRequest]] = []
        self.syncs = 0
        self.weekly = 0

    def handler(self, kind: Kind) -> Handler:
        async def handle(request: AccessRequest) -> None:
            self.seen.append((kind, request))

        return handle

    async def sync(self) -> None:
        self.syncs += 1

    async def weekly_review(self) -> None:
        self.weekly += 1

    def routines(self) -> list[tuple[Routine, RoutineHandler]]:
        return [(Routine.SYNC, self.sync), (Routine.WEEKLY_REVIEW, self.weekly_review)]


def table(calls: Calls, kinds: list[Kind]) -> list[tuple[Kind, Handler]]:
    return [(kind, calls.handler(kind)) for kind in kinds]


def test_a_kind_without_a_handler_refuses_to_build(world: World) -> None:
    calls = Calls()

    with pytest.raises(IncompleteDispatch, match="'escalate'"):
        Dispatch(table(calls, [k for k in Kind if k is not Kind.ESCALATE]), world.records, calls.routines())


def test_a_kind_with_two_handlers_refuses_to_build(world: World) -> None:
    calls = Calls()

    with pytest.raises(IncompleteDispatch, match="several: \\['remind'\\]"):
        Dispatch(table(calls, [*Kind, Kind.REMIND]), world.records, calls.routines())


def test_a_routine_without_a_handler_refuses_to_build(world: World) -> None:
    calls = Calls()

    with pytest.raises(IncompleteDispatch, match="routines without a handler: \\['access_review:weekly'\\]"):
        Dispatch(table(calls, list(Kind)), world.records, [(Routine.SYNC, calls.sync)])


def test_the_service_handles_every_kind_and_routine(world: World) -> None:
    assert set(world.service.dispatch.handlers) == set(Kind)
    assert set(world.service.dispatch.routines) == {routine.value for routine in Routine}


async def test_a_due_item_runs_its_kinds_handler_with_the_request_as_stored_now(world: World) -> None:
    calls = Calls()
    dispatch = Dispatch(table(calls, list(Kind)), world.records, calls.routines())
    request = await world.pending()
    await world.records.update_fields(request.id, {"card_ts": "1.2"}, actor="t", event="e")

    await dispatch.handle(item(Kind.NUDGE, request.id))

    [(kind, seen)] = calls.seen
    assert kind is Kind.NUDGE and seen.id == request.id and seen.card_ts == "1.2"


async def test_the_sync_item_runs_the_sync(world: World) -> None:
    calls = Calls()
    dispatch = Dispatch(table(calls, list(Kind)), world.records, calls.routines())

    await dispatch.handle(SYNC_ITEM)

    assert calls.syncs == 1 and calls.weekly == 0 and calls.seen == []


async def test_the_weekly_review_item_runs_the_weekly_review(world: World) -> None:
    calls = Calls()
    dispatch = Dispatch(table(calls, list(Kind)), world.records, calls.routines())

    await dispatch.handle(Routine.WEEKLY_REVIEW.value)

    assert calls.weekly == 1 and calls.syncs == 0 and calls.seen == []


@pytest.mark.parametrize("key", ["mystery:jr-1", "card:jr-nobody", "card:"])
async def test_an_unknown_item_or_request_runs_nothing(world: World, key: str) -> None:
    calls = Calls()
    dispatch = Dispatch(table(calls, list(Kind)), world.records, calls.routines())

    await dispatch.handle(key)

    assert calls.seen == [] and calls.syncs == 0
