"""The flows kept in a request's extras: exactly the designed tables, and the compare-and-set steps they generate.

Every listed move yields a ``Step`` writing the target and expecting what was stored; every move the table lacks
raises ``IllegalMove`` before a ``Step`` exists, so nothing can be written for it. A step applied to the records
double (held to Redis by the contract test) wins once: a second writer from the same stored value loses.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterable
from enum import StrEnum

import pytest

from jit.clock import ManualClock
from jit.flows import (
    APPROVER_REMINDERS,
    BREAK_GLASS_REVIEW,
    ESCALATION,
    EXTENSION,
    FLOWS,
    LOST_PORTS,
    QUEUE,
    REVIEW_ROUNDS,
    Counter,
    Escalation,
    Flow,
    IllegalMove,
    Queue,
    Review,
    Step,
    extension_step,
)
from jit.model import RequestState
from jit.request_extras import ExtensionState, Extra, extra_field
from tests.jit.doubles.records import InMemoryRecords, InMemoryTimetable
from tests.jit.store.conftest import make_request

E = ExtensionState
SETTLED = (E.GRANTED, E.DENIED, E.TIMED_OUT, E.FAILED)
DESIGNED: dict[str, set[tuple[StrEnum | None, StrEnum | None]]] = {
    "extension": {
        (None, E.PENDING),
        (None, E.APPROVED),
        (E.PENDING, E.PENDING),
        (E.PENDING, E.APPROVED),
        (E.PENDING, E.DENIED),
        (E.PENDING, E.TIMED_OUT),
        (E.APPROVED, E.GRANTED),
        (E.APPROVED, E.FAILED),
        *((settled, E.PENDING) for settled in SETTLED),
        *((settled, E.APPROVED) for settled in SETTLED),
    },
    "escalation": {(None, Escalation.ESCALATED)},
    "break-glass review": {(None, Review.REVIEWED)},
    "queue": {(None, Queue.QUEUED), (Queue.QUEUED, None)},
}
STORED_VALUE = "U0REVIEWER"


def states(flow: Flow[StrEnum]) -> list[StrEnum | None]:
    return [None, *flow.states]


def stored(flow: Flow[StrEnum], state: StrEnum | None) -> str | None:
    """What the extra holds in ``state``: nothing, the state's name, or (value flows) some value."""
    if state is None:
        return None
    return STORED_VALUE if flow.holds_value else state.value


def every_pair(flows: Iterable[Flow[StrEnum]]) -> list[tuple[Flow[StrEnum], StrEnum | None, StrEnum | None]]:
    return [(flow, a, b) for flow in flows for a, b in itertools.product(states(flow), states(flow))]


ALL_FLOWS: list[Flow[StrEnum]] = list(FLOWS)  # type: ignore[arg-type]


def test_every_flow_has_a_designed_table() -> None:
    assert {flow.name for flow in ALL_FLOWS} == set(DESIGNED)


@pytest.mark.parametrize(
    ("flow", "current", "target"), every_pair(ALL_FLOWS), ids=lambda v: getattr(v, "name", None) or str(v)
)
def test_exactly_the_designed_moves_make_a_step(
    flow: Flow[StrEnum], current: StrEnum | None, target: StrEnum | None
) -> None:
    before = stored(flow, current)
    field = extra_field(flow.key)
    value = "U0NEW" if target is not None else None
    if (current, target) not in DESIGNED[flow.name]:
        assert not flow.allows(current, target)
        with pytest.raises(IllegalMove):
            flow.step(before, target, value)
        return
    step = flow.step(before, target, value)
    written = None if target is None else (value if flow.holds_value else target.value)
    assert step == Step({field: written}, {field: before})


def test_a_stored_value_stands_for_its_state() -> None:
    assert EXTENSION.state(None) is None and EXTENSION.state("") is None
    assert EXTENSION.state("granted") is E.GRANTED
    assert BREAK_GLASS_REVIEW.state("U0ANYONE") is Review.REVIEWED
    assert QUEUE.state("2026-12-01T10:00:00+00:00") is Queue.QUEUED
    assert ESCALATION.state("true") is Escalation.ESCALATED


@pytest.mark.parametrize("counter", [APPROVER_REMINDERS, REVIEW_ROUNDS, LOST_PORTS], ids=lambda c: c.name)
def test_a_counter_goes_up_by_one_from_what_is_stored(counter: Counter) -> None:
    field = extra_field(counter.key)
    assert counter.step(0) == Step({field: "1"}, {field: None})
    assert counter.step(4) == Step({field: "5"}, {field: "4"})


def test_an_extension_step_also_checks_its_number_and_names_a_new_one() -> None:
    seq, state = extra_field(Extra.EXT_SEQ), extra_field(Extra.EXT_STATE)

    first = extension_step(0, None, E.PENDING, new_seq=1)
    approve = extension_step(3, "pending", E.APPROVED)

    assert first == Step({state: "pending", seq: "1"}, {state: None, seq: None})
    assert approve == Step({state: "approved"}, {state: "pending", seq: "3"})
    with pytest.raises(IllegalMove):
        extension_step(3, "granted", E.GRANTED)


def test_also_adds_fields_and_expectations() -> None:
    step = Step({"a": "1"}, {"b": None}).also(fields={"c": "2"}, expect={"d": "3"})

    assert step == Step({"a": "1", "c": "2"}, {"b": None, "d": "3"})


async def test_a_step_applied_to_the_records_wins_once() -> None:
    clock = ManualClock()
    records = InMemoryRecords(clock, InMemoryTimetable())
    request = make_request(clock)
    await records.create(request, dedupe_key="k", max_pending_per_user=5)
    first = ESCALATION.step(None, Escalation.ESCALATED)
    second = ESCALATION.step(None, Escalation.ESCALATED)

    won = await records.update_fields(
        request.id, first.fields, actor="a", event="escalated", expect_fields=first.expect
    )
    lost = await records.update_fields(
        request.id, second.fields, actor="b", event="escalated", expect_fields=second.expect
    )

    assert won.ok and not lost.ok
    assert won.request.extra["escalated"] == "true"
    assert records.events(request.id).count("escalated") == 1
    assert won.request.state is RequestState.PENDING
