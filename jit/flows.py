"""The state machines kept in a request's extras, as tables, and the compare-and-set steps they allow.

The request's own state machine is ``jit.states``. Beside it, a request carries smaller flows in its extras:
the latest extension, the escalation, the break-glass review and the queue for a busy port. Each is a table of
moves here; a use case asks its flow for a ``Step`` (the fields to write and the fields the store must still
find), so every compare-and-set condition comes from the table and a move the table lacks raises
``IllegalMove`` before anything is written. Counters (approver reminders, overdue review rounds, lost ports)
only ever count up by one, compared-and-set the same way.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum
from typing import Generic, TypeVar

from jit.request_extras import ExtensionState, Extra, extra_field

S = TypeVar("S", bound=StrEnum)


class IllegalMove(Exception):
    """A use case asked for a move its flow's table does not list (a bug, never user input)."""


@dataclass(frozen=True)
class Step:
    """One compare-and-set: write ``fields`` if the store still holds ``expect``."""

    fields: dict[str, object]
    expect: dict[str, object]

    def also(self, fields: Mapping[str, object] = {}, expect: Mapping[str, object] = {}) -> Step:
        """The same step writing and checking more fields."""
        return Step({**self.fields, **fields}, {**self.expect, **expect})


@dataclass(frozen=True)
class Flow(Generic[S]):
    """One flow: its states (``None`` is "not started"), the extra that stores it, and its moves.

    ``holds_value`` flows store a value (a reviewer, a time) rather than the state's name; their state is only
    whether the value is set.
    """

    name: str
    key: Extra
    states: type[S]
    moves: Mapping[S | None, frozenset[S | None]]
    holds_value: bool = False

    def state(self, stored: str | None) -> S | None:
        """The state a stored value stands for."""
        if not stored:
            return None
        if self.holds_value:
            return next(iter(self.states))
        return self.states(stored)

    def allows(self, current: S | None, target: S | None) -> bool:
        """Whether the table lists ``current → target``."""
        return target in self.moves.get(current, frozenset())

    def unchanged(self, stored: str | None) -> dict[str, object]:
        """The compare-and-set condition "still in the state ``stored`` stands for, with that value"."""
        return {extra_field(self.key): stored or None}

    def step(self, stored: str | None, target: S | None, value: str | None = None) -> Step:
        """The compare-and-set moving from what is ``stored`` to ``target`` (storing ``value`` for value flows)."""
        current = self.state(stored)
        if not self.allows(current, target):
            raise IllegalMove(f"{self.name}: {current} → {target} is not in the table")
        written = value if self.holds_value else (target.value if target is not None else None)
        return Step({extra_field(self.key): written}, self.unchanged(stored))


@dataclass(frozen=True)
class Counter:
    """A count kept in one extra that only goes up by one per step."""

    name: str
    key: Extra

    def step(self, current: int) -> Step:
        """``current → current + 1``, if the store still holds ``current``."""
        return Step(
            {extra_field(self.key): str(current + 1)}, {extra_field(self.key): str(current) if current else None}
        )


class Escalation(StrEnum):
    """A pending request's escalation."""

    ESCALATED = "true"


class Review(StrEnum):
    """A break-glass grant's review (the extra holds the reviewer)."""

    REVIEWED = "reviewed"


class Queue(StrEnum):
    """An approved request waiting for its port (the extra holds when the port frees up)."""

    QUEUED = "queued"


_E = ExtensionState
_NEXT_EXTENSION: frozenset[ExtensionState | None] = frozenset({_E.PENDING, _E.APPROVED})

EXTENSION: Flow[ExtensionState] = Flow(
    "extension",
    Extra.EXT_STATE,
    ExtensionState,
    {
        None: _NEXT_EXTENSION,
        _E.PENDING: frozenset({_E.PENDING, _E.APPROVED, _E.DENIED, _E.TIMED_OUT}),
        _E.APPROVED: frozenset({_E.GRANTED, _E.FAILED}),
        _E.GRANTED: _NEXT_EXTENSION,
        _E.DENIED: _NEXT_EXTENSION,
        _E.TIMED_OUT: _NEXT_EXTENSION,
        _E.FAILED: _NEXT_EXTENSION,
    },
)
"""Asked (pending, or approved at once by a rule) → approvals counted → approved → granted or failed; a pending one
may be denied or time out. Once settled, the next extension (``seq + 1``) starts over."""

ESCALATION: Flow[Escalation] = Flow(
    "escalation", Extra.ESCALATED, Escalation, {None: frozenset({Escalation.ESCALATED})}
)
"""A pending request escalates once."""

BREAK_GLASS_REVIEW: Flow[Review] = Flow(
    "break-glass review", Extra.REVIEWED_BY, Review, {None: frozenset({Review.REVIEWED})}, holds_value=True
)
"""A break-glass grant is reviewed once, by someone other than the person who used it."""

QUEUE: Flow[Queue] = Flow(
    "queue",
    Extra.QUEUED_UNTIL,
    Queue,
    {None: frozenset({Queue.QUEUED}), Queue.QUEUED: frozenset({None})},
    holds_value=True,
)
"""An approved request joins the queue when its port is busy, and leaves it (one replica wins) to try again."""

FLOWS: tuple[Flow[ExtensionState] | Flow[Escalation] | Flow[Review] | Flow[Queue], ...] = (
    EXTENSION,
    ESCALATION,
    BREAK_GLASS_REVIEW,
    QUEUE,
)

APPROVER_REMINDERS = Counter("approver reminders", Extra.NUDGES)
REVIEW_ROUNDS = Counter("overdue review rounds", Extra.REVIEW_ROUNDS)
LOST_PORTS = Counter("ports lost to newer grants", Extra.LOST_SEQ)


def extension_step(seq: int, stored: str | None, target: ExtensionState, *, new_seq: int | None = None) -> Step:
    """The extension's move, also checking it is still extension ``seq`` (and naming ``new_seq`` when it starts
    a new one)."""
    step = EXTENSION.step(stored, target).also(expect={extra_field(Extra.EXT_SEQ): str(seq) if seq else None})
    return step.also(fields={extra_field(Extra.EXT_SEQ): str(new_seq)}) if new_seq is not None else step
