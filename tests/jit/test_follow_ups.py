"""While a request waits (``jit.follow_ups``): reminders to its approvers round by round, one escalation, and
nothing more once it is decided."""

from __future__ import annotations

from datetime import timedelta

from jit.follow_ups import pending_schedule
from jit.model import RequestState
from jit.request_extras import extras_of
from jit.routing import Escalation
from jit.schedule_items import Kind
from tests.jit.doubles.world import (
    APPROVER,
    APPROVER_2,
    ESCALATION_APPROVER,
    ESCALATION_GROUP,
    REQUESTER,
    World,
    rule,
)

S = RequestState
MINUTE = timedelta(minutes=1)
WAITS = (timedelta(minutes=5), timedelta(minutes=10), timedelta(minutes=20))


def test_only_what_comes_before_the_timeout_is_planned(world: World) -> None:
    now = world.clock.now()
    hour = timedelta(hours=1)

    everything = pending_schedule(rule(escalation=Escalation(timedelta(minutes=30))), "jr-1", now, hour)
    too_late = pending_schedule(
        rule(approver_reminders=(hour,), escalation=Escalation(timedelta(hours=2))), "jr-1", now, hour
    )

    assert everything == {
        "timeout:jr-1": now + hour,
        "card:jr-1": now,
        "nudge:jr-1": now + WAITS[0],
        "escalate:jr-1": now + timedelta(minutes=30),
    }
    assert too_late == {"timeout:jr-1": now + hour, "card:jr-1": now}


async def test_approvers_are_reminded_once_per_round_at_the_rules_waits(world: World) -> None:
    request = await world.pending()
    await world.run_due()

    await world.later(WAITS[0] - MINUTE)
    assert world.notifier.sent("nudge_approvers") == []
    await world.later(MINUTE)
    await world.later(WAITS[1])
    await world.later(WAITS[2] - MINUTE)
    assert len(world.notifier.sent("nudge_approvers")) == 2
    await world.later(MINUTE)

    waited = [m.detail[0] for m in world.notifier.sent("nudge_approvers", request.id)]
    assert waited == [WAITS[0], WAITS[0] + WAITS[1], sum(WAITS, timedelta())]
    assert extras_of(await world.current(request.id)).nudges == 3
    assert world.due_at(Kind.NUDGE, request.id) is None


async def test_a_round_delivered_twice_is_sent_once(world: World) -> None:
    request = await world.pending()
    await world.run_due()
    request = await world.current(request.id)
    nudge = world.service.dispatch.handlers[Kind.NUDGE]
    world.clock.advance(WAITS[0])

    await nudge(request)
    await nudge(request)

    assert len(world.notifier.sent("nudge_approvers", request.id)) == 1
    assert extras_of(await world.current(request.id)).nudges == 1


async def test_no_reminder_points_at_a_card_nobody_has_seen_yet(world: World) -> None:
    request = await world.pending()
    nudge = world.service.dispatch.handlers[Kind.NUDGE]
    world.timetable.take(f"nudge:{request.id}")
    world.clock.advance(WAITS[0])
    assert request.card_ts is None, "its channel is still working through a backlog"

    await nudge(request)

    assert world.notifier.sent("nudge_approvers") == []
    assert world.due_at(Kind.NUDGE, request.id) == world.clock.now() + WAITS[0]
    assert extras_of(await world.current(request.id)).nudges == 0


async def test_an_early_delivery_waits_for_its_round(world: World) -> None:
    request = await world.pending()
    nudge = world.service.dispatch.handlers[Kind.NUDGE]
    world.timetable.take(f"nudge:{request.id}")

    await nudge(request)

    assert world.notifier.sent("nudge_approvers") == []
    assert world.due_at(Kind.NUDGE, request.id) == request.created_at + WAITS[0]


async def test_reminders_stop_once_the_request_is_decided(world: World) -> None:
    request = await world.pending()
    await world.later(WAITS[0])
    await world.service.deny(request.id, APPROVER)

    await world.later(WAITS[1] + WAITS[2])
    await world.service.dispatch.handlers[Kind.NUDGE](await world.current(request.id))

    assert len(world.notifier.sent("nudge_approvers", request.id)) == 1
    assert world.notifier.sent("nudge_withdrawn", request.id), "its turn in a busy channel is given up"


async def test_an_escalation_widens_the_approvers_and_posts_one_copy(world: World) -> None:
    world.router.rule = rule(
        approver_reminders=(), escalation=Escalation(timedelta(minutes=30), (ESCALATION_GROUP,), "CESCALATE")
    )
    request = await world.pending()
    escalate = world.service.dispatch.handlers[Kind.ESCALATE]

    await world.later(timedelta(minutes=30))
    await escalate(await world.current(request.id))
    await escalate(request)

    escalated = await world.current(request.id)
    assert extras_of(escalated).escalated
    assert extras_of(escalated).approvers == (APPROVER, APPROVER_2, ESCALATION_GROUP)
    copies = extras_of(escalated).escalation_copies
    [sent] = world.notifier.sent("escalate", request.id)
    assert copies is not None and copies.decider_dms and sent.detail == ((ESCALATION_APPROVER,),)
    assert world.records.events(request.id).count("escalated") == 1
    decision = await world.service.approve(request.id, ESCALATION_APPROVER)
    assert decision.acted and decision.request.state is S.ACTIVE


async def test_a_decided_request_does_not_escalate(world: World) -> None:
    world.router.rule = rule(escalation=Escalation(timedelta(minutes=30), (ESCALATION_GROUP,)))
    request = await world.pending()
    await world.service.cancel(request.id, REQUESTER)

    await world.later(timedelta(minutes=30))
    await world.service.dispatch.handlers[Kind.ESCALATE](request)

    assert world.notifier.sent("escalate") == []
    assert "escalated" not in (await world.current(request.id)).extra


async def test_the_escalated_copy_follows_the_outcome(world: World) -> None:
    world.router.rule = rule(approver_reminders=(), escalation=Escalation(timedelta(minutes=30), (ESCALATION_GROUP,)))
    request = await world.pending()
    await world.later(timedelta(minutes=30))

    await world.service.approve(request.id, ESCALATION_APPROVER)
    await world.run_due()

    [copy] = world.notifier.sent("update_copy", request.id)
    assert copy.detail == (extras_of(await world.current(request.id)).escalation_copies,)


async def test_the_escalated_card_is_dmed_to_the_escalation_people_but_never_to_the_requester(world: World) -> None:
    world.directory.groups[ESCALATION_GROUP] |= {REQUESTER}
    world.router.rule = rule(approver_reminders=(), escalation=Escalation(timedelta(minutes=30), (ESCALATION_GROUP,)))
    request = await world.pending()

    await world.later(timedelta(minutes=30))
    await world.service.dispatch.handlers[Kind.ESCALATE](await world.current(request.id))

    [sent] = world.notifier.sent("escalate", request.id)
    assert sent.detail == ((ESCALATION_APPROVER,),)
    [posted] = [r for r in world.records.audit_for(request.id) if r.event == "escalation_posted"]
    assert posted.detail["dms"] == "1"


async def test_an_approval_towards_the_quorum_shows_on_the_escalated_copies(world: World) -> None:
    world.router.rule = rule(
        quorum=2, approver_reminders=(), escalation=Escalation(timedelta(minutes=30), (ESCALATION_GROUP,))
    )
    request = await world.pending()
    await world.run_due()
    await world.later(timedelta(minutes=30))

    decision = await world.service.approve(request.id, ESCALATION_APPROVER)
    await world.run_due()

    assert decision.recorded and decision.request.state is S.PENDING
    [copy] = world.notifier.sent("update_copy", request.id)
    assert copy.request is not None and copy.request.approvals == (ESCALATION_APPROVER,)
