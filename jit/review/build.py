"""``build_review``: the access review of a period from requests, audit records and inventory (rules in jit.review)."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, time, timedelta

from jit.model import AccessRequest, RequestState, VmJitStatus, VmRef
from jit.request_extras import extras_of, granted_by
from jit.review.model import (
    OUTSIDE_ACCESS_EVENT,
    AccessReview,
    AnySourcePolicy,
    BreakGlassUse,
    DayOpenTime,
    Grant,
    OutsideOpening,
    PersonTotal,
    Refusal,
    ReviewPeriod,
    VmTotal,
    allows_any_source,
    vm_key,
)
from jit.store.audit import AuditRecord

_ONE_DAY = timedelta(days=1)


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
