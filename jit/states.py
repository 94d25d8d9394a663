"""The one state machine of an access request: every legal move is a row of ``TRANSITIONS``.

The store asks this table which from-states may move to a target state and checks it inside the same
atomic Redis step that writes the move, so the table is the only place a transition is declared. Adding
a state or a move is one line here.
"""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType

from jit.model import RequestState

_S = RequestState

TRANSITIONS: Mapping[RequestState, frozenset[RequestState]] = MappingProxyType(
    {
        _S.PENDING: frozenset({_S.APPROVED, _S.DENIED, _S.CANCELLED, _S.TIMED_OUT}),
        _S.APPROVED: frozenset({_S.ACTIVE, _S.FAILED}),
        _S.ACTIVE: frozenset({_S.EXPIRED, _S.REVOKED, _S.SUPERSEDED}),
        _S.EXPIRED: frozenset(),
        _S.DENIED: frozenset(),
        _S.CANCELLED: frozenset(),
        _S.TIMED_OUT: frozenset(),
        _S.FAILED: frozenset(),
        _S.REVOKED: frozenset(),
        _S.SUPERSEDED: frozenset(),
    }
)


class IllegalTransition(Exception):
    """A caller asked for a move the state machine does not allow."""

    def __init__(self, current: RequestState, target: RequestState):
        self.current = current
        self.target = target
        super().__init__(f"a request cannot go from {current.value} to {target.value}")


def can_transition(current: RequestState, target: RequestState) -> bool:
    """Whether ``current -> target`` is a legal move."""
    return target in TRANSITIONS[current]


def is_terminal(state: RequestState) -> bool:
    """A terminal request never changes state again; the store retains it only for audit and status."""
    return not TRANSITIONS[state]


def reachable_from(state: RequestState) -> frozenset[RequestState]:
    """``state`` and every state a request in it can still reach."""
    found = {state}
    frontier = [state]
    while frontier:
        for following in TRANSITIONS[frontier.pop()] - found:
            found.add(following)
            frontier.append(following)
    return frozenset(found)


def sources_of(target: RequestState) -> frozenset[RequestState]:
    """Every state from which ``target`` can be reached: what the store's atomic step must find."""
    return frozenset(state for state, targets in TRANSITIONS.items() if target in targets)


def check_transition(current: RequestState, target: RequestState) -> None:
    """Raise IllegalTransition unless ``current -> target`` is legal; for callers that want an exception."""
    if not can_transition(current, target):
        raise IllegalTransition(current, target)


OPEN_STATES: frozenset[RequestState] = frozenset(s for s in RequestState if not is_terminal(s))
TERMINAL_STATES: frozenset[RequestState] = frozenset(s for s in RequestState if is_terminal(s))
