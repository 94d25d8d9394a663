"""The access review: what JIT access looked like over a period, built from the records jitbot already keeps.

``build_review`` is pure: it takes the period, the requests whose lifetime overlaps it (any state), the audit
records of the period and the inventory rows, and returns an ``AccessReview`` for the weekly post and
``/jit report``. The rules:

- A **grant** is a request Azure opened (it has ``starts_at``). It is open from ``starts_at`` until the earliest
  of its ``ends_at`` and, when it was revoked or superseded, the moment that happened (``decided_at``, which both
  transitions set). Only the open time inside the period counts, and a grant is in the review when its open time
  overlaps the period. Open time adds up per grant: two people on one VM for an hour are two hours.
- **Open time per day** is that same time split at midnight UTC, per VM.
- A **break-glass use** is a request made with ``--break-glass`` (``extra["break_glass"] == "true"``) that was
  made in the period or whose grant overlaps it; it is reviewed once someone set ``reviewed_by``.
- **Denied** and **timed-out** requests count when they were decided in the period (``decided_at``).
- A **port opened outside jitbot** is an ``outside_access`` audit record (detail ``vm``, ``port``, ``source``,
  ``start``, ``end``; the actor is Azure's requestor) whose opening overlaps the period. Records that cannot be
  read are counted in ``unreadable_records`` rather than dropped silently.
- A VM **allows any source** when its JIT policy lets some port be opened to ``*`` (or another spelling of every
  address: ``0.0.0.0/0``, ``::/0``, ``Any``, ``Internet``).

VMs are named the way people tell them apart: the name alone when it is unique in the review, else
``resource-group/name``, else ``subscription/resource-group/name``.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta

from jit.model import AccessRequest, RequestState, VmJitStatus, VmRef
from jit.request_extras import extras_of, granted_by
from jit.store.audit import AuditRecord

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


def _closed_at(request: AccessRequest, opened: datetime) -> datetime | None:
    """When a grant stopped being open: its end, or earlier when it was revoked or superseded."""
    ends = [moment for moment in (request.ends_at,) if moment is not None]
    if request.state in (RequestState.REVOKED, RequestState.SUPERSEDED) and request.decided_at is not None:
        ends.append(request.decided_at)
    return max(opened, min(ends)) if ends else None


def _parse_time(value: str | None) -> datetime | None:
    if not value:
        return None
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        return None
    return parsed.replace(tzinfo=UTC) if parsed.tzinfo is None else parsed


def vm_labels(vms: Iterable[VmRef]) -> dict[str, str]:
    """Each VM's label (keyed by ``vm_key``): its name when unique here, else ``rg/name``, else the full path."""
    unique = {vm_key(vm.id): vm for vm in vms}
    names: dict[str, int] = {}
    shorts: dict[str, int] = {}
    for vm in unique.values():
        names[vm.name.lower()] = names.get(vm.name.lower(), 0) + 1
        shorts[vm.short.lower()] = shorts.get(vm.short.lower(), 0) + 1
    labels: dict[str, str] = {}
    for key, vm in unique.items():
        if names[vm.name.lower()] == 1:
            labels[key] = vm.name
        elif shorts[vm.short.lower()] == 1:
            labels[key] = vm.short
        else:
            labels[key] = f"{vm.subscription_id}/{vm.short}"
    return labels


def _grant(request: AccessRequest, period: ReviewPeriod) -> Grant | None:
    opened = request.starts_at
    if opened is None:
        return None
    closed = _closed_at(request, opened)
    open_time = period.overlap(opened, closed or period.end)
    if open_time <= timedelta(0) and not period.contains(opened):
        return None
    return Grant(
        request_id=request.id,
        requester=request.requester,
        vm=request.vm,
        ports=request.ports,
        source=request.source,
        approved_by=granted_by(request),
        opened=opened,
        closed=closed,
        open_time=open_time,
        state=request.state,
        break_glass=extras_of(request).break_glass,
        reviewed_by=extras_of(request).reviewed_by,
    )


def _days(period: ReviewPeriod, grants: Sequence[Grant]) -> tuple[DayOpenTime, ...]:
    days: list[DayOpenTime] = []
    for day in period.days:
        midnight = datetime.combine(day, time(), UTC)
        by_vm: dict[str, timedelta] = {}
        for grant in grants:
            span = period.overlap(max(grant.opened, midnight), min(grant.closed or period.end, midnight + _ONE_DAY))
            if span > timedelta(0):
                key = vm_key(grant.vm.id)
                by_vm[key] = by_vm.get(key, timedelta(0)) + span
        days.append(DayOpenTime(day, by_vm))
    return tuple(days)


def _vm_totals(grants: Sequence[Grant], labels: Mapping[str, str]) -> tuple[VmTotal, ...]:
    refs: dict[str, VmRef] = {}
    counts: dict[str, int] = {}
    times: dict[str, timedelta] = {}
    for grant in grants:
        key = vm_key(grant.vm.id)
        refs.setdefault(key, grant.vm)
        counts[key] = counts.get(key, 0) + 1
        times[key] = times.get(key, timedelta(0)) + grant.open_time
    totals = [VmTotal(refs[key], labels[key], counts[key], times[key]) for key in refs]
    return tuple(sorted(totals, key=lambda t: (-t.open_time, -t.grants, t.label.lower())))


def _person_totals(grants: Sequence[Grant]) -> tuple[PersonTotal, ...]:
    counts: dict[str, int] = {}
    times: dict[str, timedelta] = {}
    for grant in grants:
        counts[grant.requester] = counts.get(grant.requester, 0) + 1
        times[grant.requester] = times.get(grant.requester, timedelta(0)) + grant.open_time
    totals = [PersonTotal(person, counts[person], times[person]) for person in counts]
    return tuple(sorted(totals, key=lambda t: (-t.open_time, -t.grants, t.person)))


def _break_glass(requests: Sequence[AccessRequest], period: ReviewPeriod, granted: set[str]) -> list[BreakGlassUse]:
    uses = [
        BreakGlassUse(
            request_id=request.id,
            requester=request.requester,
            vm=request.vm,
            at=request.created_at,
            state=request.state,
            reviewed_by=extras_of(request).reviewed_by,
            reviewed_at=extras_of(request).reviewed_at,
        )
        for request in requests
        if extras_of(request).break_glass and (period.contains(request.created_at) or request.id in granted)
    ]
    return sorted(uses, key=lambda use: (use.at, use.request_id))


def _refusals(requests: Sequence[AccessRequest], period: ReviewPeriod, state: RequestState) -> tuple[Refusal, ...]:
    refusals = [
        Refusal(
            request_id=request.id,
            requester=request.requester,
            vm=request.vm,
            ports=request.ports,
            state=request.state,
            at=request.decided_at or request.created_at,
            decided_by=request.approver if state is RequestState.DENIED else None,
        )
        for request in requests
        if request.state is state and period.contains(request.decided_at or request.created_at)
    ]
    return tuple(sorted(refusals, key=lambda refusal: (refusal.at, refusal.request_id)))


@dataclass(frozen=True)
class _Sighting:
    vm_id: str
    port: int
    source: str
    requestor: str
    start: datetime
    end: datetime


def _sighting(record: AuditRecord) -> _Sighting | None:
    detail = record.detail
    start, end = _parse_time(detail.get("start")), _parse_time(detail.get("end"))
    port = detail.get("port", "")
    vm_id = detail.get("vm", "")
    if start is None or end is None or not port.isdigit() or not vm_id:
        return None
    return _Sighting(vm_id, int(port), detail.get("source", ""), record.actor, start, end)


def _outside(
    audit: Iterable[AuditRecord], period: ReviewPeriod, labels: Mapping[str, str]
) -> tuple[tuple[OutsideOpening, ...], int]:
    openings: dict[tuple[str, int, datetime], OutsideOpening] = {}
    unreadable = 0
    for record in audit:
        if record.event != OUTSIDE_ACCESS_EVENT:
            continue
        sighting = _sighting(record)
        if sighting is None:
            unreadable += 1
            continue
        if period.overlap(sighting.start, sighting.end) <= timedelta(0) and not period.contains(record.at):
            continue
        key = vm_key(sighting.vm_id)
        label = labels.get(key) or sighting.vm_id.rstrip("/").rsplit("/", 1)[-1]
        openings.setdefault(
            (key, sighting.port, sighting.start),
            OutsideOpening(
                sighting.vm_id,
                label,
                sighting.port,
                sighting.source,
                sighting.requestor,
                sighting.start,
                sighting.end,
            ),
        )
    ordered = sorted(openings.values(), key=lambda o: (o.start, o.vm_label.lower(), o.port))
    return tuple(ordered), unreadable


def _any_source(inventory: Iterable[VmJitStatus], labels: Mapping[str, str]) -> tuple[AnySourcePolicy, ...]:
    found: dict[str, AnySourcePolicy] = {}
    for row in inventory:
        if row.policy is None:
            continue
        ports = tuple(sorted({p.number for p in row.policy.ports if any(map(allows_any_source, p.allowed_sources))}))
        if ports:
            key = vm_key(row.vm.ref.id)
            found[key] = AnySourcePolicy(row.vm.ref, labels[key], ports)
    return tuple(sorted(found.values(), key=lambda policy: policy.label.lower()))


def build_review(
    period: ReviewPeriod,
    requests: Iterable[AccessRequest],
    audit: Iterable[AuditRecord],
    inventory: Iterable[VmJitStatus],
) -> AccessReview:
    """The access review of ``period`` from the requests that overlap it, its audit records and the inventory."""
    first_seen: dict[str, AccessRequest] = {}
    for request in requests:
        first_seen.setdefault(request.id, request)
    unique = list(first_seen.values())
    rows = list(inventory)
    labels = vm_labels([request.vm for request in unique] + [row.vm.ref for row in rows])
    grants = sorted(
        (grant for grant in (_grant(request, period) for request in unique) if grant is not None),
        key=lambda grant: (grant.opened, grant.request_id),
    )
    outside, unreadable = _outside(audit, period, labels)
    return AccessReview(
        period=period,
        grants=tuple(grants),
        vms=_vm_totals(grants, labels),
        people=_person_totals(grants),
        days=_days(period, grants),
        break_glass=tuple(_break_glass(unique, period, {grant.request_id for grant in grants})),
        denied=_refusals(unique, period, RequestState.DENIED),
        timed_out=_refusals(unique, period, RequestState.TIMED_OUT),
        outside=outside,
        any_source=_any_source(rows, labels),
        vm_labels=labels,
        unreadable_records=unreadable,
    )
