"""Deciding a pending request (``jit.deciding``): of concurrent clicks exactly one wins, the requester never
decides their own, and with a quorum only the approval that completes it opens the port."""

from __future__ import annotations

import asyncio
from datetime import timedelta

import pytest

from jit.approver_access import ApproverScreen
from jit.deciding import Deciding
from jit.errors import NotAllowed
from jit.model import ApproverRbac, RbacVerdict, RequestState, VmRef
from jit.opening import Opening
from jit.ports.azure_errors import AzureConflict
from jit.request_extras import extras_of
from jit.requester_access import INITIATE_ACTION
from jit.schedule_items import Kind
from tests.jit.doubles.world import APPROVER, APPROVER_2, APPROVER_3, OUTSIDER, REQUESTER, World, rule

S = RequestState


async def test_an_approval_opens_the_port_once_and_schedules_what_follows(world: World) -> None:
    request = await world.pending()
    world.clock.advance(timedelta(minutes=2))
    now = world.clock.now()

    decision = await world.service.approve(request.id, APPROVER)

    granted = decision.request
    assert decision.acted and not decision.recorded and granted.state is S.ACTIVE
    assert (granted.approver, granted.decided_at, granted.starts_at) == (APPROVER, now, now)
    assert granted.ends_at == now + request.duration
    [initiate] = world.azure.initiated
    assert (initiate.ports, initiate.source, initiate.end) == ((22,), request.source, now + request.duration)
    assert f"approved by {APPROVER}" in initiate.justification
    assert world.due_at(Kind.TIMEOUT, request.id) is None and world.due_at(Kind.RECONCILE, request.id) is None
    assert world.due_at(Kind.OUTCOME, request.id) == now
    assert world.due_at(Kind.EXPIRE, request.id) == granted.ends_at
    assert world.due_at(Kind.REMIND, request.id) == granted.ends_at - timedelta(minutes=10)
    assert world.records.events(request.id) == ["requested", "approved", "initiate_attempt", "active"]


async def test_the_requester_cannot_approve_their_own_request(world: World) -> None:
    world.router.rule = rule(approvers=(APPROVER, REQUESTER))
    request = await world.pending()

    with pytest.raises(NotAllowed, match="your own request"):
        await world.service.approve(request.id, REQUESTER)

    assert (await world.current(request.id)).state is S.PENDING and world.azure.initiated == []
    refusal = world.records.audit[-1]
    assert (refusal.event, refusal.actor, refusal.detail["why"]) == ("approve_refused", REQUESTER, "self")


async def test_someone_who_is_not_an_approver_cannot_decide(world: World) -> None:
    request = await world.pending()

    with pytest.raises(NotAllowed):
        await world.service.approve(request.id, OUTSIDER)
    with pytest.raises(NotAllowed):
        await world.service.deny(request.id, OUTSIDER)

    assert (await world.current(request.id)).state is S.PENDING and world.azure.initiated == []
    assert world.records.events(request.id)[1:] == ["approve_refused", "deny_refused"]


async def test_a_second_click_loses_and_opens_nothing(world: World) -> None:
    request = await world.pending()
    await world.service.approve(request.id, APPROVER)

    again = await world.service.approve(request.id, APPROVER_2)
    deny = await world.service.deny(request.id, APPROVER_2)

    assert not again.acted and not deny.acted and deny.request.state is S.ACTIVE
    assert len(world.azure.initiated) == 1


async def test_concurrent_approvals_open_the_port_once(world: World) -> None:
    request = await world.pending()

    decisions = await asyncio.gather(
        world.service.approve(request.id, APPROVER),
        world.service.approve(request.id, APPROVER_2),
        world.service.approve(request.id, APPROVER),
    )

    assert sum(d.acted for d in decisions) == 1
    assert len(world.azure.initiated) == 1
    assert world.records.events(request.id).count("approved") == 1


async def test_with_a_quorum_only_the_completing_approval_opens_the_port(world: World) -> None:
    world.router.rule = rule(approvers=(APPROVER, APPROVER_2, APPROVER_3), quorum=2)
    request = await world.pending()
    world.timetable.take(f"card:{request.id}")
    world.clock.advance(timedelta(minutes=1))

    first = await world.service.approve(request.id, APPROVER)
    card_after_first = world.due_at(Kind.CARD, request.id)
    world.timetable.take(f"card:{request.id}")
    repeat = await world.service.approve(request.id, APPROVER)
    card_after_repeat = world.due_at(Kind.CARD, request.id)
    assert world.azure.initiated == []
    second = await world.service.approve(request.id, APPROVER_2)
    third = await world.service.approve(request.id, APPROVER_3)

    assert first.acted and first.recorded and first.request.state is S.PENDING
    assert first.request.approvals == (APPROVER,)
    assert card_after_first == world.clock.now() and card_after_repeat is None
    assert not repeat.acted and repeat.recorded
    assert second.acted and not second.recorded and second.request.state is S.ACTIVE
    assert second.request.approvals == (APPROVER, APPROVER_2)
    assert not third.acted
    assert len(world.azure.initiated) == 1
    assert f"approved by {APPROVER},{APPROVER_2}" in world.azure.initiated[0].justification


async def test_a_quorum_met_by_concurrent_approvals_opens_the_port_once(world: World) -> None:
    world.router.rule = rule(approvers=(APPROVER, APPROVER_2, APPROVER_3), quorum=2)
    request = await world.pending()

    decisions = await asyncio.gather(
        *(world.service.approve(request.id, who) for who in (APPROVER, APPROVER_2, APPROVER_3))
    )

    assert len(world.azure.initiated) == 1
    assert sum(d.acted and not d.recorded for d in decisions) == 1
    assert (await world.current(request.id)).state is S.ACTIVE


async def test_a_single_deny_ends_a_quorum(world: World) -> None:
    world.router.rule = rule(approvers=(APPROVER, APPROVER_2, APPROVER_3), quorum=2)
    request = await world.pending()
    await world.service.approve(request.id, APPROVER)

    denied = await world.service.deny(request.id, APPROVER_2)
    late = await world.service.approve(request.id, APPROVER_3)

    assert denied.acted and denied.request.state is S.DENIED and denied.request.approver == APPROVER_2
    assert not late.acted and world.azure.initiated == []
    assert world.due_at(Kind.OUTCOME, request.id) == world.clock.now()
    assert world.due_at(Kind.TIMEOUT, request.id) is None


async def test_a_deny_reason_is_kept_on_the_request_and_in_the_audit_record(world: World) -> None:
    request = await world.pending()

    denied = await world.service.deny(request.id, APPROVER, "  no ticket;\n  ask again with INC-123  ")

    assert extras_of(denied.request).deny_reason == "no ticket; ask again with INC-123"
    record = world.records.audit[-1]
    assert (record.event, record.actor, record.detail["reason"]) == (
        "denied",
        APPROVER,
        denied.request.extra["deny_reason"],
    )
    plain = await world.service.deny((await world.pending()).id, APPROVER)
    assert extras_of(plain.request).deny_reason is None and "reason" not in world.records.audit[-1].detail


async def test_only_approvers_may_deny_and_a_refusal_comes_before_any_reason_is_asked(world: World) -> None:
    request = await world.pending()

    assert (await world.service.may_deny(request.id, APPROVER)).id == request.id
    with pytest.raises(NotAllowed, match="not one of the approvers"):
        await world.service.may_deny(request.id, OUTSIDER)
    assert world.records.events(request.id)[-1] == "deny_refused"


async def test_only_the_requester_may_cancel(world: World) -> None:
    request = await world.pending()

    with pytest.raises(NotAllowed):
        await world.service.cancel(request.id, APPROVER)
    cancelled = await world.service.cancel(request.id, REQUESTER)

    assert cancelled.acted and cancelled.request.state is S.CANCELLED
    assert world.records.events(request.id) == ["requested", "cancel_refused", "cancelled"]
    assert world.due_at(Kind.TIMEOUT, request.id) is None


async def test_nobody_deciding_in_time_times_the_request_out_and_says_so_at_once(world: World) -> None:
    request = await world.pending()

    ran = await world.later(timedelta(hours=1))

    timed_out = await world.current(request.id)
    assert f"timeout:{request.id}" in ran.keys and timed_out.state is S.TIMED_OUT
    assert [m.request.state for m in world.notifier.sent("tell_requester") if m.request] == [S.TIMED_OUT]


async def test_a_decided_request_does_not_time_out(world: World) -> None:
    request = await world.active()

    await world.service.deciding.time_out(request)

    assert (await world.current(request.id)).state is S.ACTIVE
    assert world.notifier.sent("tell_requester") == []


async def test_a_refused_initiate_fails_the_request_with_azures_message(world: World) -> None:
    request = await world.pending()
    world.azure.refuse("initiate", AzureConflict())

    decision = await world.service.approve(request.id, APPROVER)

    failed = decision.request
    assert decision.acted and failed.state is S.FAILED
    assert failed.failure == AzureConflict.default_message
    assert world.records.audit_for(request.id)[-1].detail["failure"] == AzureConflict.default_message
    assert world.due_at(Kind.OUTCOME, request.id) == world.clock.now()
    assert world.due_at(Kind.RECONCILE, request.id) is None


class AzureTrusts:
    """Azure RBAC of approvers: only ``trusted`` may request JIT on the VM themselves."""

    def __init__(self, *trusted: str):
        self.trusted = trusted

    async def check(self, requester: str, vm: VmRef) -> RbacVerdict:
        if requester in self.trusted:
            return RbacVerdict.allowed(f"{requester}@example.com")
        return RbacVerdict.lacking(f"{requester}@example.com", (INITIATE_ACTION,))


async def test_with_the_approver_check_an_approver_azure_does_not_trust_is_refused_and_audited(world: World) -> None:
    deps = world.deps()
    screen = ApproverScreen(AzureTrusts(APPROVER_2), ApproverRbac.ENFORCE, world.records.record)
    deciding = Deciding(deps, Opening(deps), lambda _: asyncio.sleep(0), screen)
    world.router.rule = rule(approvers=(APPROVER, APPROVER_2))
    request = await world.pending()

    with pytest.raises(NotAllowed, match="JITBOT_APPROVER_RBAC=enforce"):
        await deciding.approve(request.id, APPROVER)

    assert (await world.current(request.id)).state is S.PENDING and world.azure.initiated == []
    refusal = world.records.audit[-1]
    assert (refusal.event, refusal.actor, refusal.detail["missing"]) == (
        "approve_refused_rbac",
        APPROVER,
        INITIATE_ACTION,
    )
    decision = await deciding.approve(request.id, APPROVER_2)
    assert decision.acted and decision.request.state is S.ACTIVE
