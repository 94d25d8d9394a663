"""A hand-built week of JIT activity for the access review's tests (domain, chart, CSV and summary).

The week is 2025-03-03 00:00 to 2025-03-10 00:00 UTC (``ReviewPeriod.week_before(NOW)``). Hours per grant:

========  ==========  =======  =====================================================  ===========
grant     requester   VM       open                                                   hours (in)
========  ==========  =======  =====================================================  ===========
g-before  ERIN        web-01   03-02 23:00 - 03-03 02:00, expired                     2
g-alice1  ALICE       web-01   03-03 10:00 - 12:00, expired                           2
g-glass1  ERIN        db-01    03-04 23:00 - 03-05 01:00, break-glass, reviewed       2 (1 + 1)
g-revoke  ALICE       web-01   03-06 08:00 - 11:00, revoked at 09:30                  1.5
g-super   CAROL       db-01    03-07 10:00 - 12:00, superseded at 10:45               0.75
g-glass2  DAVE        app-01   03-08 12:00 - 13:00, break-glass, not reviewed         1
g-late    ALICE       db-01    03-09 23:00 - 03-10 03:00, still active                1
========  ==========  =======  =====================================================  ===========

Total 10.25 hours. Not grants: a pending, a cancelled and a failed request, and a grant of the week before.
Denied in the week: one (by CAROL); denied the week before: one. Timed out in the week: one.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from jit.model import (
    AccessRequest,
    JitPolicy,
    JitSupport,
    PolicyPort,
    RequestState,
    VirtualMachine,
    VmJitStatus,
    VmRef,
)
from jit.request_extras import TRUE, Extra
from jit.review import AccessReview, ReviewPeriod, build_review
from jit.store.audit import AuditRecord

SUB = "0b1f6471-1bf0-4dda-aec3-cb9272f09590"
NOW = datetime(2025, 3, 10, 9, 0, tzinfo=UTC)
WEEK = ReviewPeriod.week_before(NOW)
ALICE = "U0ENGINE01"
BOB = "U0APPROV01"
CAROL = "U0APPROV02"
DAVE = "U0ADMIN001"
ERIN = "U0ONCALL01"


def at(day: int, hour: int, minute: int = 0) -> datetime:
    """A time in March 2025, UTC."""
    return datetime(2025, 3, day, hour, minute, tzinfo=UTC)


def vm(name: str, rg: str = "prod-rg", sub: str = SUB) -> VmRef:
    """A VM reference with a realistic resource id."""
    return VmRef(
        id=f"/subscriptions/{sub}/resourceGroups/{rg}/providers/Microsoft.Compute/virtualMachines/{name}",
        subscription_id=sub,
        resource_group=rg,
        name=name,
        location="westeurope",
    )


WEB = vm("web-01")
DB = vm("db-01")
APP = vm("app-01", "apps-rg")


def request(request_id: str, requester: str, target: VmRef, state: RequestState, **changes: Any) -> AccessRequest:
    """A request with the given state; keyword arguments set any other field."""
    values: dict[str, Any] = {
        "id": request_id,
        "requester": requester,
        "vm": target,
        "ports": (22,),
        "source": "203.0.113.7",
        "duration": timedelta(hours=2),
        "reason": "maintenance",
        "state": state,
        "created_at": at(1, 0),
    }
    values.update(changes)
    return AccessRequest(**values)


def grant(
    request_id: str,
    requester: str,
    target: VmRef,
    opened: datetime,
    ends: datetime,
    state: RequestState = RequestState.EXPIRED,
    **changes: Any,
) -> AccessRequest:
    """A request Azure opened from ``opened`` until ``ends``, approved by BOB unless said otherwise."""
    values: dict[str, Any] = {
        "approver": BOB,
        "approvals": (BOB,),
        "decided_at": opened - timedelta(minutes=2),
        "created_at": opened - timedelta(minutes=5),
        "starts_at": opened,
        "ends_at": ends,
    }
    values.update(changes)
    return request(request_id, requester, target, state, **values)


def week_requests() -> list[AccessRequest]:
    """Every request the week's review is built from (see the module docstring)."""
    return [
        grant("g-before", ERIN, WEB, at(2, 23), at(3, 2)),
        grant("g-alice1", ALICE, WEB, at(3, 10), at(3, 12), ports=(22, 8080), source="198.51.100.0/24"),
        grant(
            "g-glass1",
            ERIN,
            DB,
            at(4, 23),
            at(5, 1),
            ports=(3389,),
            approver=None,
            approvals=(),
            extra={
                Extra.BREAK_GLASS.value: TRUE,
                Extra.REVIEWED_BY.value: BOB,
                Extra.REVIEWED_AT.value: at(5, 2).isoformat(),
            },
        ),
        grant("g-revoke", ALICE, WEB, at(6, 8), at(6, 11), RequestState.REVOKED, decided_at=at(6, 9, 30)),
        grant("g-super", CAROL, DB, at(7, 10), at(7, 12), RequestState.SUPERSEDED, decided_at=at(7, 10, 45)),
        grant(
            "g-glass2",
            DAVE,
            APP,
            at(8, 12),
            at(8, 13),
            approver=None,
            approvals=(),
            extra={Extra.BREAK_GLASS.value: TRUE},
        ),
        grant("g-late", ALICE, DB, at(9, 23), at(10, 3), RequestState.ACTIVE),
        grant("g-lastweek", ALICE, WEB, at(1, 10), at(1, 11)),
        request("r-pending", ALICE, WEB, RequestState.PENDING, created_at=at(9, 8)),
        request("r-cancel", ALICE, WEB, RequestState.CANCELLED, created_at=at(5, 8), decided_at=at(5, 8, 5)),
        request("r-failed", ERIN, DB, RequestState.FAILED, created_at=at(5, 9), failure="Azure refused"),
        request(
            "r-denied", ALICE, DB, RequestState.DENIED, created_at=at(4, 9), decided_at=at(4, 9, 10), approver=CAROL
        ),
        request(
            "r-denied-old", ALICE, DB, RequestState.DENIED, created_at=at(2, 9), decided_at=at(2, 9, 10), approver=BOB
        ),
        request("r-timeout", ERIN, APP, RequestState.TIMED_OUT, created_at=at(6, 14), decided_at=at(6, 14, 30)),
    ]


def outside_record(
    record_id: str, target: VmRef, port: str, start: str, end: str, actor: str = "pat@contoso.com"
) -> AuditRecord:
    """An ``outside_access`` audit record as jit.azure_sync writes it."""
    detail = {"vm": target.id, "port": port, "source": "192.0.2.0/24", "start": start, "end": end}
    return AuditRecord(record_id, at(5, 15), "outside_access", actor, None, detail)


def week_audit() -> list[AuditRecord]:
    """The week's audit: one portal opening (recorded twice by two replicas), one unreadable, other events."""
    portal = outside_record("1-0", WEB, "22", at(5, 14).isoformat(), at(5, 17).isoformat())
    return [
        AuditRecord("0-0", at(3, 9), "requested", ALICE, "g-alice1", {}),
        portal,
        outside_record("2-0", WEB, "22", at(5, 14).isoformat(), at(5, 17).isoformat()),
        outside_record("3-0", DB, "not-a-port", at(5, 14).isoformat(), at(5, 17).isoformat()),
    ]


def policy(target: VmRef, *ports: PolicyPort) -> VmJitStatus:
    """An inventory row for a VM whose JIT policy has ``ports``."""
    return VmJitStatus(
        VirtualMachine(target),
        JitSupport.CONFIGURED,
        policy=JitPolicy(
            id=f"/subscriptions/{SUB}/resourceGroups/{target.resource_group}/providers/Microsoft.Security/locations/"
            "westeurope/jitNetworkAccessPolicies/default",
            subscription_id=SUB,
            resource_group=target.resource_group,
            location="westeurope",
            name="default",
            vm_id=target.id,
            ports=ports,
        ),
    )


def week_inventory() -> list[VmJitStatus]:
    """web-01 lets RDP be opened to anyone, db-01 lets SSH be opened to 'Internet', app-01 only to 10/8."""
    return [
        policy(WEB, PolicyPort(22, allowed_sources=("10.0.0.0/8",)), PolicyPort(3389)),
        policy(DB, PolicyPort(22, allowed_sources=("Internet",)), PolicyPort(3389, allowed_sources=("10.0.0.0/8",))),
        policy(APP, PolicyPort(22, allowed_sources=("10.0.0.0/8", "192.168.0.0/16"))),
        VmJitStatus(VirtualMachine(vm("lonely-01")), JitSupport.NOT_CONFIGURED),
    ]


def week_review() -> AccessReview:
    """The review of the sample week."""
    return build_review(WEEK, week_requests(), week_audit(), week_inventory())
