"""Everything the scheduler runs, and every "already sent" marker, by name.

A schedule item is ``"<kind>:<request id>"`` (``jit.store.schedule``), or one of the ``Routine`` items about no
request; ``jit.dispatch`` has exactly one handler per ``Kind`` and per ``Routine``, checked when it is built. A
marker (``Schedule.mark_done``) records that a message went out, so a handler that runs again after a crash does
not send it twice; each marker's text names the event and everything that makes it distinct (the state, the
round, the end time…).
"""

from __future__ import annotations

from collections.abc import Collection, Mapping
from datetime import datetime
from enum import StrEnum
from types import MappingProxyType

from jit.model import RequestState

SYNC_SINCE = "sync:since"
"""The marker holding when the last sync started."""


class Routine(StrEnum):
    """A schedule item about no request: one item for all replicas, so the scheduler runs it on one of them."""

    SYNC = "sync:azure"
    """The periodic sync with Azure's JIT history."""
    WEEKLY_REVIEW = "access_review:weekly"
    """The weekly access review to the review channel (``jit.reporting``)."""


SYNC_ITEM = Routine.SYNC.value


class Kind(StrEnum):
    """What a per-request schedule item does when it falls due."""

    CARD = "card"
    OUTCOME = "outcome"
    TIMEOUT = "timeout"
    RECONCILE = "reconcile"
    REMIND = "remind"
    EXPIRE = "expire"
    GRANT = "grant"
    QUEUED = "queued"
    NUDGE = "nudge"
    ESCALATE = "escalate"
    GLASS = "glass"
    REVIEW = "review"
    REVIEWED = "reviewed"
    CLOSE = "close"
    LOST = "lost"
    DISPLACED = "displaced"
    EXT_CARD = "extcard"
    EXT_TIMEOUT = "exttimeout"
    EXT_RECONCILE = "extreconcile"
    EXT_DONE = "extdone"


def item(kind: Kind, request_id: str) -> str:
    """The schedule key of ``kind`` for ``request_id``."""
    return f"{kind.value}:{request_id}"


def ended_items(request_id: str) -> list[str]:
    """The items an open grant has that mean nothing once it has ended early (reminder, expiry, extension
    timeout)."""
    return [item(Kind.REMIND, request_id), item(Kind.EXPIRE, request_id), item(Kind.EXT_TIMEOUT, request_id)]


_S = RequestState
_WORKS_WHILE: Mapping[Kind, frozenset[RequestState]] = MappingProxyType(
    {
        Kind.NUDGE: frozenset({_S.PENDING}),
        Kind.ESCALATE: frozenset({_S.PENDING}),
        Kind.TIMEOUT: frozenset({_S.PENDING, _S.TIMED_OUT}),
        Kind.REMIND: frozenset({_S.ACTIVE}),
        Kind.EXPIRE: frozenset({_S.ACTIVE, _S.EXPIRED}),
    }
)
"""The states in which these kinds still have work; in any other their handler does nothing. (``timeout`` and
``expire`` make the move to ``timed_out`` and ``expired`` themselves and announce it after, so they keep their item
until they are done.) Kinds not listed may have work in any state."""


def has_work(kind: Kind, state: RequestState) -> bool:
    """Whether an item of ``kind`` for a request in ``state`` would do anything when it falls due."""
    return state in _WORKS_WHILE.get(kind, frozenset(RequestState))


def pointless_items(request_id: str, state: RequestState, keep: Collection[str] = ()) -> list[str]:
    """The items of ``request_id`` that a move to ``state`` leaves without work (except those in ``keep``), so the
    move unschedules them: approver reminders of a decided request, the reminder of access that has ended."""
    keys = (item(kind, request_id) for kind, states in _WORKS_WHILE.items() if state not in states)
    return [key for key in keys if key not in keep]


def parse_item(key: str) -> tuple[Kind, str] | None:
    """``(kind, request id)`` of a per-request key; None for anything else."""
    kind, _, request_id = key.partition(":")
    if kind not in set(Kind) or not request_id:
        return None
    return Kind(kind), request_id


class Sent:
    """The markers of messages that must go out once."""

    @staticmethod
    def outcome(state: str, request_id: str) -> str:
        """The requester was told the request's outcome ``state``."""
        return f"told:{state}:{request_id}"

    @staticmethod
    def queued(request_id: str, until: str) -> str:
        """The requester was told the request waits for its port until ``until``."""
        return f"told:queued:{request_id}:{until}"

    @staticmethod
    def reminder(request_id: str, ends_at: datetime | None) -> str:
        """The reminder before the end ``ends_at`` went out."""
        return f"reminded:{request_id}:{ends_at.isoformat() if ends_at else ''}"

    @staticmethod
    def expired(request_id: str) -> str:
        """The end of access was announced."""
        return f"expired:{request_id}"

    @staticmethod
    def nudge(request_id: str, round_number: int) -> str:
        """Approvers had reminder ``round_number`` (from 0)."""
        return f"nudged:{request_id}:{round_number}"

    @staticmethod
    def escalation(request_id: str) -> str:
        """The escalated copy of the card was posted."""
        return f"escalated:{request_id}"

    @staticmethod
    def break_glass(request_id: str) -> str:
        """Break-glass access was announced."""
        return f"glass_told:{request_id}"

    @staticmethod
    def review_overdue(request_id: str, round_number: int) -> str:
        """Overdue-review round ``round_number`` (from 1) went out."""
        return f"review_overdue:{request_id}:{round_number}"

    @staticmethod
    def review_shown(request_id: str) -> str:
        """The announcements show who reviewed the break-glass grant."""
        return f"review_shown:{request_id}"

    @staticmethod
    def closed(request_id: str) -> str:
        """The early close was audited."""
        return f"closed:{request_id}"

    @staticmethod
    def revoked_to_on_call(request_id: str) -> str:
        """On-call was told of the early close."""
        return f"revoked_oncall:{request_id}"

    @staticmethod
    def superseded_to_on_call(request_id: str) -> str:
        """On-call was told a newer grant took every port."""
        return f"superseded_oncall:{request_id}"

    @staticmethod
    def ports_lost(request_id: str, seq: str) -> str:
        """The holder was told about loss ``seq`` of some ports."""
        return f"lost_told:{request_id}:{seq}"

    @staticmethod
    def outside_closed(request_id: str) -> str:
        """On-call was told this grant closed access opened outside jitbot."""
        return f"outside_closed_told:{request_id}"

    @staticmethod
    def extension_outcome(request_id: str, seq: int, state: str) -> str:
        """The outcome ``state`` of extension ``seq`` was announced."""
        return f"ext_told:{request_id}:{seq}:{state}"

    @staticmethod
    def weekly_review(week_start: datetime) -> str:
        """The weekly access review of the week starting ``week_start`` was posted."""
        return f"weekly_review:{week_start.isoformat()}"

    @staticmethod
    def outside_access(vm_id: str, port: int, start: datetime) -> str:
        """On-call was told of access opened outside jitbot on ``vm_id``'s ``port`` at ``start``."""
        return f"outside:{vm_id.lower()}:{port}:{start.isoformat()}"
