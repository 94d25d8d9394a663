"""Asking for access (``jit.requesting``): checks in the order a person can act on, each refusal with what would
work instead; a request stored pending with its follow-ups, once per command; automatic and break-glass requests
granted at once."""

from __future__ import annotations

from datetime import timedelta

import pytest

from jit.errors import JitOff, NotAllowed, RequestRejected
from jit.hints import Command, CommandHint, RequestHint
from jit.model import (
    GrantedPort,
    JitRequestRecord,
    PolicyDenial,
    RbacMode,
    RbacVerdict,
    RequestState,
    UnsupportedReason,
    VmRef,
)
from jit.opening import Opening
from jit.reason_check import EXAMPLE_REASON
from jit.requester_access import RequesterScreen
from jit.requesting import Requesting
from jit.routing import AutoApproval, ConflictChoice, Escalation
from jit.schedule_items import Kind
from tests.jit.doubles.world import (
    CHANNEL,
    GLASS_GROUP,
    OTHER_SOURCE,
    OUTSIDER,
    REQUESTER,
    SOURCE,
    VM_REF,
    World,
    rule,
)

S = RequestState


async def nothing_stored(world: World) -> bool:
    return await world.records.by_requester(REQUESTER) == [] and world.azure.initiated == []


async def test_a_request_waits_with_its_card_timeout_and_first_reminder_scheduled(world: World) -> None:
    now = world.clock.now()

    submitted = await world.service.submit(world.draft())

    request = submitted.request
    assert submitted.created and request.state is S.PENDING
    assert (request.source, request.card_channel, request.policy_id) == (SOURCE, CHANNEL, world.policy.id)
    assert request.extra["route"] == "default" and request.extra["approvers"] == "UAPPROVER1,UAPPROVER2"
    assert world.timetable.scheduled() == {
        f"card:{request.id}": now,
        f"timeout:{request.id}": now + timedelta(hours=1),
        f"nudge:{request.id}": now + timedelta(minutes=5),
    }
    assert world.records.events(request.id) == ["requested"]
    assert await world.records.require(request.id) == request
    assert world.ran_now == [f"card:{request.id}"] and world.azure.initiated == []


async def test_an_escalation_is_planned_only_when_it_comes_before_the_timeout(world: World) -> None:
    world.router.rule = rule(escalation=Escalation(timedelta(minutes=30), ("SESCALATE",)))
    soon = await world.pending()
    world.router.rule = rule(escalation=Escalation(timedelta(hours=1), ("SESCALATE",)), approver_reminders=())
    never = await world.pending(reason="INC-2 other")

    assert world.due_at(Kind.ESCALATE, soon.id) == world.clock.now() + timedelta(minutes=30)
    assert world.due_at(Kind.ESCALATE, never.id) is None
    assert world.due_at(Kind.NUDGE, never.id) is None


async def test_asking_again_with_the_same_words_hands_back_the_pending_request(world: World) -> None:
    first = await world.pending()

    again = await world.service.submit(world.draft(reason="  INC-1   fixing deploy "))
    longer = await world.service.submit(world.draft(duration=timedelta(hours=1)))

    assert not again.created and again.request.id == first.id
    assert longer.created and longer.request.id != first.id
    assert world.records.events(first.id) == ["requested"]


async def test_someone_the_rule_does_not_name_may_not_ask(world: World) -> None:
    world.router.rule = rule(requesters=("SNOBODY",))

    with pytest.raises(NotAllowed, match="not allowed to request"):
        await world.service.submit(world.draft())

    assert await nothing_stored(world)


async def test_break_glass_outside_its_group_is_refused_and_audited(world: World) -> None:
    world.router.rule = rule(break_glass=(GLASS_GROUP,))

    with pytest.raises(NotAllowed, match="break-glass group"):
        await world.service.submit(world.draft(requester=OUTSIDER, break_glass=True))

    assert world.records.events() == ["break_glass_refused"]
    assert await world.records.by_requester(OUTSIDER) == []


async def test_a_missing_reason_is_refused_with_an_example(world: World) -> None:
    world.router.rule = rule(reason_required=True)

    with pytest.raises(RequestRejected) as refused:
        await world.service.submit(world.draft(reason="   "))

    assert isinstance(refused.value.hint, RequestHint) and refused.value.hint.reason == EXAMPLE_REASON
    assert await nothing_stored(world)


async def test_a_reason_without_the_ticket_is_refused_except_for_break_glass(world: World) -> None:
    world.router.rule = rule(ticket_pattern=r"CHG-\d+", break_glass=(GLASS_GROUP,))

    with pytest.raises(RequestRejected, match="CHG-"):
        await world.service.submit(world.draft(reason="INC-1 fixing deploy"))
    assert await nothing_stored(world)
    glass = await world.service.submit(world.draft(reason="site down", break_glass=True))

    assert glass.request.state is S.ACTIVE


async def test_a_vm_without_jit_is_refused_with_where_jit_is(world: World) -> None:
    world.azure.remove_policy(VM_REF)

    with pytest.raises(JitOff, match="not configured") as refused:
        await world.service.submit(world.draft())

    assert refused.value.reasons == ()
    assert refused.value.hint == CommandHint(Command.LIST, ("configured",))
    assert await nothing_stored(world)


@pytest.mark.parametrize("reason", list(UnsupportedReason))
async def test_a_vm_azure_cannot_protect_is_refused_with_the_reason_not_an_admin_command(
    world: World, reason: UnsupportedReason
) -> None:
    world.azure.remove_policy(VM_REF)
    world.azure.unsupported[VM_REF.id.lower()] = (reason,)

    with pytest.raises(JitOff, match="cannot turn it on") as refused:
        await world.service.submit(world.draft())

    assert refused.value.reasons == (reason,)
    assert await nothing_stored(world)


async def test_a_vm_azure_policy_refused_jit_on_is_refused_with_that_assignment_not_an_admin_command(
    world: World,
) -> None:
    world.azure.remove_policy(VM_REF)
    denial = PolicyDenial(VM_REF.id.upper(), "no-jit-in-prod", "/providers/x/policyAssignments/a1", world.clock.now())
    world.policy_refusals.remember(denial)

    with pytest.raises(JitOff, match="cannot turn it on") as refused:
        await world.service.submit(world.draft())

    assert refused.value.reasons == (UnsupportedReason.DISABLED_BY_POLICY,)
    assert refused.value.denial == denial
    assert await nothing_stored(world)


async def test_jit_being_off_is_said_before_the_reason_or_ticket_is_asked_for(world: World) -> None:
    world.router.rule = rule(reason_required=True, ticket_pattern=r"CHG-\d+")
    world.azure.remove_policy(VM_REF)

    with pytest.raises(JitOff):
        await world.service.submit(world.draft(reason=""))
    with pytest.raises(JitOff):
        await world.service.submit(world.draft(reason="INC-1 fixing deploy"))


@pytest.mark.parametrize(
    ("changes", "problem"),
    [
        ({"ports": (22, 8080)}, "Port 8080 is not in the JIT policy"),
        ({"duration": timedelta(hours=4)}, r"at most 3h\)"),
        ({"duration": timedelta(minutes=2)}, "at least 5 minutes"),
        ({"source": "not-an-ip"}, "not an IP address"),
    ],
)
async def test_what_the_policy_does_not_allow_is_refused_before_anyone_is_asked(
    world: World, changes: dict[str, object], problem: str
) -> None:
    with pytest.raises(RequestRejected, match=problem):
        await world.service.submit(world.draft(**changes))

    assert await nothing_stored(world)
    assert world.notifier.messages == []


async def test_the_tighter_of_the_rules_and_jitbots_maximum_applies(world: World) -> None:
    world.router.rule = rule(max_duration=timedelta(hours=1))

    with pytest.raises(RequestRejected, match=r"at most 1h\)"):
        await world.service.submit(world.draft(duration=timedelta(minutes=90)))
    await world.pending(duration=timedelta(hours=1))


async def test_a_wide_source_is_flagged_or_refused_as_the_rule_says(world: World) -> None:
    flagged = await world.pending(source="10.0.0.0/8")
    world.router.rule = rule(refuse_wide_sources=True)

    with pytest.raises(RequestRejected, match="wider than /16"):
        await world.service.submit(world.draft(source="10.0.0.0/8", reason="INC-1 again"))

    assert flagged.extra["wide_source"] == "16"
    assert world.records.events() == ["requested", "wide_source_refused"]


def someone_else_holds_port_22(world: World) -> None:
    now = world.clock.now()
    world.azure.add_record(
        JitRequestRecord(
            vm_id=VM_REF.id,
            start=now - timedelta(minutes=10),
            requestor="carol@example.com",
            justification="portal",
            ports=(GrantedPort(22, OTHER_SOURCE, now + timedelta(hours=1), "Initiated"),),
        )
    )


async def test_a_port_held_from_another_source_is_refused_where_the_rule_refuses_to_close_it(world: World) -> None:
    someone_else_holds_port_22(world)
    world.router.rule = rule(on_conflict=ConflictChoice.REFUSE)

    with pytest.raises(RequestRejected, match=r"carol@example\.com") as refused:
        await world.service.submit(world.draft())

    assert refused.value.hint == CommandHint(Command.STATUS, ("web-01",))
    assert await nothing_stored(world)


async def test_the_approvers_see_whose_access_approving_would_close(world: World) -> None:
    someone_else_holds_port_22(world)

    request = await world.pending()

    assert '"effect":"close"' in request.extra["port_holders"]
    assert "carol@example.com" in request.extra["port_holders"]


async def test_too_many_waiting_requests_are_refused_with_the_oldest_to_cancel(world: World) -> None:
    waiting = []
    for n in range(world.config.max_pending_per_user):
        waiting.append(await world.pending(reason=f"INC-{n} work"))
        world.clock.advance(timedelta(minutes=1))

    with pytest.raises(RequestRejected, match="already have 5 requests") as refused:
        await world.service.submit(world.draft(reason="INC-99 more"))

    assert refused.value.hint == CommandHint(Command.CANCEL, (waiting[0].id,))
    assert len(await world.records.by_requester(REQUESTER)) == len(waiting)


async def test_a_request_its_rule_approves_is_granted_at_once(world: World) -> None:
    world.router.rule = rule(auto_approve=AutoApproval(ports=(22,)))

    submitted = await world.service.submit(world.draft())

    request = submitted.request
    assert submitted.created and request.state is S.ACTIVE
    assert request.extra["auto_approved"] == "default" and "approver_reminders" not in request.extra
    assert len(world.azure.initiated) == 1
    assert world.records.events(request.id) == ["requested", "approved", "initiate_attempt", "active"]
    assert world.due_at(Kind.TIMEOUT, request.id) is None and world.due_at(Kind.NUDGE, request.id) is None
    assert world.due_at(Kind.CARD, request.id) == world.clock.now()


async def test_a_request_outside_the_rules_automatic_approval_waits_for_a_person(world: World) -> None:
    world.router.rule = rule(auto_approve=AutoApproval(ports=(3389,)))

    request = await world.pending()

    assert "auto_approved" not in request.extra and world.azure.initiated == []


async def test_break_glass_is_granted_at_once_announced_and_put_up_for_review(world: World) -> None:
    world.router.rule = rule(break_glass=(GLASS_GROUP,), review_within=timedelta(minutes=30))
    now = world.clock.now()

    submitted = await world.service.submit(world.draft(break_glass=True))

    request = submitted.request
    assert request.state is S.ACTIVE and request.extra["break_glass"] == "true"
    approved = world.records.audit_for(request.id)[1]
    assert (approved.event, approved.actor, approved.detail["break_glass"]) == ("approved", REQUESTER, "true")
    assert world.due_at(Kind.GLASS, request.id) == now
    assert world.due_at(Kind.REVIEW, request.id) == now + timedelta(minutes=30)
    assert len(world.azure.initiated) == 1


async def test_only_the_requester_may_ask_for_the_same_access_again(world: World) -> None:
    first = await world.pending(source="203.0.113.0/28", duration=timedelta(minutes=45))
    await world.service.cancel(first.id, REQUESTER)

    with pytest.raises(NotAllowed):
        await world.service.ask_again(first.id, OUTSIDER)
    again = await world.service.ask_again(first.id, REQUESTER)

    assert world.records.events(first.id)[-1] == "ask_again_refused"
    assert again.created and again.request.id != first.id and again.request.state is S.PENDING
    same = ("vm", "ports", "source", "duration", "reason")
    assert [getattr(again.request, f) for f in same] == [getattr(first, f) for f in same]


class Lacking:
    """Azure RBAC says the requester's own identity may not request JIT access."""

    async def check(self, requester: str, vm: VmRef) -> RbacVerdict:
        return RbacVerdict.lacking(f"{requester}@example.com", ("Microsoft.Security/x/initiate/action",))


async def test_an_enforced_rbac_check_refuses_before_anything_is_stored(world: World) -> None:
    deps = world.deps()
    screen = RequesterScreen(Lacking(), RbacMode.ENFORCE, world.records.record)
    requesting = Requesting(deps, Opening(deps), world.policy_refusals, screen)

    with pytest.raises(NotAllowed, match="may not request just-in-time access"):
        await requesting.submit(world.draft())

    assert world.records.events() == ["request_refused_rbac"]
    assert await nothing_stored(world)


async def test_a_vm_without_jit_says_so_before_asking_for_a_ticket(world: World) -> None:
    world.router.rule = rule(ticket_pattern=r"INC-\d+", reason_required=True)
    world.azure.remove_policy(VM_REF)

    with pytest.raises(RequestRejected, match="not configured"):
        await world.service.submit(world.draft(reason=""))


@pytest.mark.parametrize(
    ("pattern", "suggested"),
    [
        (r"INC-\d+", "INC-1234 restarting nginx"),
        (r"CHG-\d+", "CHG-1234 restarting nginx"),
        (r"CHG\d{7}", "CHG0012345 restarting nginx"),
    ],
)
async def test_a_missing_ticket_is_added_to_the_reason_not_put_in_its_place(
    world: World, pattern: str, suggested: str
) -> None:
    world.router.rule = rule(ticket_pattern=pattern)

    with pytest.raises(RequestRejected) as refused:
        await world.service.submit(world.draft(reason="restarting nginx"))

    hint = refused.value.hint
    assert isinstance(hint, RequestHint) and hint.reason == suggested
    accepted = await world.service.submit(world.draft(reason=hint.reason))
    assert accepted.created, "the suggestion is accepted when re-run"


async def test_a_ticket_shape_jitbot_cannot_guess_gets_no_made_up_suggestion(world: World) -> None:
    world.router.rule = rule(ticket_pattern=r"SEC/\d{4}/[A-Z]{3}")

    with pytest.raises(RequestRejected, match="Add yours to the reason") as refused:
        await world.service.submit(world.draft(reason="restarting nginx"))

    assert refused.value.hint is None
