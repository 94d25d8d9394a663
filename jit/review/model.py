"""The access review's values: the period, each grant, the totals and findings, and the units they are shown in."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta

from jit.model import RequestState, VmRef

OUTSIDE_ACCESS_EVENT = "outside_access"
ANY_SOURCE_SPELLINGS = frozenset({"*", "0.0.0.0/0", "::/0", "any", "internet"})
_ONE_DAY = timedelta(days=1)
_HOUR = timedelta(hours=1)


def hours(span: timedelta) -> float:
    """A duration in hours, as the review shows them."""
    return span / _HOUR


def vm_key(vm_id: str) -> str:
    """How the review tells VMs apart: Azure resource ids compare case-insensitively."""
    return vm_id.lower()


def allows_any_source(prefix: str) -> bool:
    """Whether a policy's allowed source prefix admits every address."""
    return prefix.strip().lower() in ANY_SOURCE_SPELLINGS


@dataclass(frozen=True)
class ReviewPeriod:
    """The half-open span ``[start, end)`` a review covers; both ends are timezone-aware."""

    start: datetime
    end: datetime

    def __post_init__(self) -> None:
        if self.start.tzinfo is None or self.end.tzinfo is None:
            raise ValueError("a review period needs timezone-aware start and end")
        if self.end <= self.start:
            raise ValueError(f"a review period must end after it starts ({self.start} .. {self.end})")

    @classmethod
    def last_days(cls, days: int, now: datetime) -> ReviewPeriod:
        """Today so far (UTC) and the ``days - 1`` whole days before it: what ``/jit report 7d`` means."""
        if days < 1:
            raise ValueError("a review covers at least one day")
        today = datetime.combine(now.astimezone(UTC).date(), time(), UTC)
        return cls(today - (days - 1) * _ONE_DAY, now)

    @classmethod
    def week_before(cls, now: datetime) -> ReviewPeriod:
        """The seven whole UTC days that ended at the last midnight: what a weekly post covers."""
        today = datetime.combine(now.astimezone(UTC).date(), time(), UTC)
        return cls(today - 7 * _ONE_DAY, today)

    @property
    def days(self) -> tuple[date, ...]:
        """Every UTC calendar day the period touches, in order."""
        first = self.start.astimezone(UTC).date()
        last = (self.end - timedelta(microseconds=1)).astimezone(UTC).date()
        return tuple(first + n * _ONE_DAY for n in range((last - first).days + 1))

    def contains(self, when: datetime) -> bool:
        """Whether ``when`` falls inside the period."""
        return self.start <= when < self.end

    def overlap(self, start: datetime, end: datetime) -> timedelta:
        """How much of ``[start, end)`` lies inside the period (never negative)."""
        return max(timedelta(0), min(end, self.end) - max(start, self.start))


@dataclass(frozen=True)
class Grant:
    """One grant's raw row: who had what, from where, approved by whom, open from ``opened`` to ``closed``
    (its own end, or when it was revoked or superseded; None when no end is recorded) and for how long within
    the period."""

    request_id: str
    requester: str
    vm: VmRef
    ports: tuple[int, ...]
    source: str
    approved_by: str
    opened: datetime
    closed: datetime | None
    open_time: timedelta
    state: RequestState
    break_glass: bool
    reviewed_by: str | None

    @property
    def hours(self) -> float:
        """Open time within the period, in hours."""
        return hours(self.open_time)


@dataclass(frozen=True)
class VmTotal:
    """Grants on one VM in the period and their open time; ``label`` is how the review names the VM."""

    vm: VmRef
    label: str
    grants: int
    open_time: timedelta

    @property
    def hours(self) -> float:
        """Open time in hours."""
        return hours(self.open_time)


@dataclass(frozen=True)
class PersonTotal:
    """Grants one person (a Slack user id) held in the period and their open time."""

    person: str
    grants: int
    open_time: timedelta

    @property
    def hours(self) -> float:
        """Open time in hours."""
        return hours(self.open_time)


@dataclass(frozen=True)
class DayOpenTime:
    """Open time on one UTC day, per VM (keyed by ``vm_key``; only VMs that were open that day)."""

    day: date
    by_vm: Mapping[str, timedelta] = field(hash=False)

    @property
    def total(self) -> timedelta:
        """Open time that day across every VM."""
        return sum(self.by_vm.values(), timedelta(0))


@dataclass(frozen=True)
class BreakGlassUse:
    """A ``--break-glass`` request and whether someone reviewed it."""

    request_id: str
    requester: str
    vm: VmRef
    at: datetime
    state: RequestState
    reviewed_by: str | None
    reviewed_at: datetime | None

    @property
    def reviewed(self) -> bool:
        """Someone other than the requester confirmed they looked at it."""
        return self.reviewed_by is not None


@dataclass(frozen=True)
class Refusal:
    """A request that was denied or timed out; ``decided_by`` is the approver who denied it, if any."""

    request_id: str
    requester: str
    vm: VmRef
    ports: tuple[int, ...]
    state: RequestState
    at: datetime
    decided_by: str | None


@dataclass(frozen=True)
class OutsideOpening:
    """A port Azure had open that jitbot did not open: Azure's requestor, the VM, the port and source, when."""

    vm_id: str
    vm_label: str
    port: int
    source: str
    requestor: str
    start: datetime
    end: datetime


@dataclass(frozen=True)
class AnySourcePolicy:
    """A VM whose JIT policy lets ``ports`` be opened to any source address."""

    vm: VmRef
    label: str
    ports: tuple[int, ...]


@dataclass(frozen=True)
class AccessReview:
    """Everything the access review reports for one period (lists are in the order people read them)."""

    period: ReviewPeriod
    grants: tuple[Grant, ...]
    vms: tuple[VmTotal, ...]
    people: tuple[PersonTotal, ...]
    days: tuple[DayOpenTime, ...]
    break_glass: tuple[BreakGlassUse, ...]
    denied: tuple[Refusal, ...]
    timed_out: tuple[Refusal, ...]
    outside: tuple[OutsideOpening, ...]
    any_source: tuple[AnySourcePolicy, ...]
    vm_labels: Mapping[str, str] = field(default_factory=dict, hash=False)
    unreadable_records: int = 0

    @property
    def open_time(self) -> timedelta:
        """Open time of every grant within the period."""
        return sum((g.open_time for g in self.grants), timedelta(0))

    @property
    def open_hours(self) -> float:
        """Open time of every grant within the period, in hours."""
        return hours(self.open_time)

    @property
    def unreviewed_break_glass(self) -> tuple[BreakGlassUse, ...]:
        """Break-glass uses nobody has reviewed yet."""
        return tuple(use for use in self.break_glass if not use.reviewed)

    def label(self, vm: VmRef) -> str:
        """How this review names ``vm`` (its name when the review has no other VM of that name)."""
        return self.vm_labels.get(vm_key(vm.id), vm.name)
