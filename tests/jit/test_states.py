"""The state machine table is exactly the one DESIGN.md describes, plus ``active → superseded`` (a newer grant from
another source took every port; see docs/sharing.md)."""

from __future__ import annotations

import itertools

import pytest

from jit.model import RequestState as S
from jit.states import (
    OPEN_STATES,
    TERMINAL_STATES,
    TRANSITIONS,
    IllegalTransition,
    can_transition,
    check_transition,
    is_terminal,
    reachable_from,
    sources_of,
)

LEGAL = {
    (S.PENDING, S.APPROVED),
    (S.PENDING, S.DENIED),
    (S.PENDING, S.CANCELLED),
    (S.PENDING, S.TIMED_OUT),
    (S.APPROVED, S.ACTIVE),
    (S.APPROVED, S.FAILED),
    (S.ACTIVE, S.EXPIRED),
    (S.ACTIVE, S.REVOKED),
    (S.ACTIVE, S.SUPERSEDED),
}


def test_every_state_has_a_row() -> None:
    assert set(TRANSITIONS) == set(S)


@pytest.mark.parametrize(("current", "target"), list(itertools.product(S, S)))
def test_exactly_the_designed_moves_are_legal(current: S, target: S) -> None:
    assert can_transition(current, target) == ((current, target) in LEGAL)


@pytest.mark.parametrize(("current", "target"), sorted(set(itertools.product(S, S)) - LEGAL))
def test_check_transition_raises_for_illegal_moves(current: S, target: S) -> None:
    with pytest.raises(IllegalTransition) as caught:
        check_transition(current, target)
    assert (caught.value.current, caught.value.target) == (current, target)


@pytest.mark.parametrize(("current", "target"), sorted(LEGAL))
def test_check_transition_accepts_legal_moves(current: S, target: S) -> None:
    check_transition(current, target)


def test_terminal_states() -> None:
    expected = {S.EXPIRED, S.DENIED, S.CANCELLED, S.TIMED_OUT, S.FAILED, S.REVOKED, S.SUPERSEDED}
    assert {s for s in S if is_terminal(s)} == expected
    assert expected == TERMINAL_STATES
    assert {S.PENDING, S.APPROVED, S.ACTIVE} == OPEN_STATES


def test_sources_of_inverts_the_table() -> None:
    for target in S:
        assert sources_of(target) == {a for a, b in LEGAL if b == target}


def test_table_cannot_be_mutated() -> None:
    with pytest.raises(TypeError):
        TRANSITIONS[S.EXPIRED] = frozenset({S.PENDING})  # type: ignore[index]


def test_reachable_from_follows_every_move_to_the_end() -> None:
    assert reachable_from(S.ACTIVE) == {S.ACTIVE, S.EXPIRED, S.REVOKED, S.SUPERSEDED}
    assert reachable_from(S.PENDING) == set(S)
    assert reachable_from(S.DENIED) == {S.DENIED}
