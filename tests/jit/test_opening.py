"""Opening an approved request (``jit.opening``): active when Azure accepts, failed with a message people can act on
when it does not, queued for a busy port where the rule says so, and after a crash trusting Azure's history
without ever initiating twice."""

from __future__ import annotations

from datetime import timedelta

import pytest

from jit.justification import Justification
from jit.model import GrantedPort, JitRequestRecord, RequestState
from jit.opening import JIT_GONE, NO_RECORD, VM_BUSY
from jit.ports.azure_errors import AzureUnavailable, NotSubsetOfPolicy
from jit.routing import ConflictChoice
from jit.schedule_items import Kind
from tests.jit.doubles.world import (
    APPROVER,
    COLLEAGUE,
    OTHER_SOURCE,
    REQUESTER,
    SOURCE,
    VM_REF,
    World,
    rule,
    settings,
)

S = RequestState
RECONCILE_AFTER = timedelta(minutes=3)


class Crash(Exception):
    """jitbot's process dies here."""


def outside_holder(world: World, until: timedelta, source: str = OTHER_SOURCE) -> None:
    """Someone opened port 22 in the portal, from ``source``, until ``until`` from now."""
    now = world.clock.now()
    world.azure.add_record(
        JitRequestRecord(
            vm_id=VM_REF.id,
            start=now,
            requestor="carol@example.com",
            justification="portal",
            ports=(GrantedPort(22, source, now + until, "Initiated"),),
        )
    )


async def test_jit_removed_before_the_approval_fails_the_request(world: World) -> None:
    request = await world.pending()
    world.azure.remove_policy(VM_REF)

    decision = await world.service.approve(request.id, APPROVER)

    assert decision.request.state is S.FAILED and decision.request.failure == JIT_GONE
    assert world.azure.initiated == []


async def test_a_vm_busy_for_too_long_fails_the_request(world: World) -> None:
    request = await world.pending()
    world.turns.default_wait = timedelta(0)

    async with world.turns.hold(f"vm:{VM_REF.id}"):
        decision = await world.service.approve(request.id, APPROVER)

    assert decision.request.state is S.FAILED and decision.request.failure == VM_BUSY
    assert world.azure.initiated == []


async def test_azure_refusing_fails_the_request_with_what_azure_said(world: World) -> None:
    request = await world.pending()
    world.azure.set_policy(VM_REF, [])

    decision = await world.service.approve(request.id, APPROVER)

    assert decision.request.state is S.FAILED
    assert decision.request.failure == NotSubsetOfPolicy.default_message
    assert world.azure.initiated == []


async def test_a_busy_port_queues_the_request_where_the_rule_says_so_and_opens_it_when_free(world: World) -> None:
    world.router.rule = rule(on_conflict=ConflictChoice.QUEUE)
    request = await world.pending()
    outside_holder(world, timedelta(minutes=40))
    free_at = world.clock.now() + timedelta(minutes=40)

    decision = await world.service.approve(request.id, APPROVER)
    queued = decision.request
    await world.run_due()
    await world.run_due()

    assert queued.state is S.APPROVED and queued.extra["queued_until"] == free_at.isoformat()
    assert "carol@example.com" in queued.extra["port_holders"]
    assert world.azure.initiated == []
    assert world.due_at(Kind.GRANT, request.id) == free_at
    assert world.due_at(Kind.RECONCILE, request.id) == free_at + RECONCILE_AFTER
    assert len(world.notifier.sent("tell_requester", request.id)) == 1

    ran = await world.later(timedelta(minutes=40))

    opened = await world.current(request.id)
    assert f"grant:{request.id}" in ran.keys
    assert opened.state is S.ACTIVE and "queued_until" not in opened.extra
    assert len(world.azure.initiated) == 1
    assert world.records.events(request.id).count("dequeued") == 1


async def test_a_queued_request_is_taken_off_the_queue_once(world: World) -> None:
    world.router.rule = rule(on_conflict=ConflictChoice.QUEUE)
    request = await world.pending()
    outside_holder(world, timedelta(minutes=40))
    queued = (await world.service.approve(request.id, APPROVER)).request
    world.clock.advance(timedelta(minutes=40))
    opening = world.service.dispatch.handlers[Kind.GRANT]

    await opening(queued)
    await opening(queued)

    assert len(world.azure.initiated) == 1
    assert world.records.events(request.id).count("dequeued") == 1


async def test_a_wait_longer_than_allowed_fails_instead_of_queueing() -> None:
    world = World(config=settings(max_queue_wait=timedelta(minutes=30)))
    world.router.rule = rule(on_conflict=ConflictChoice.QUEUE)
    request = await world.pending()
    outside_holder(world, timedelta(minutes=40))

    decision = await world.service.approve(request.id, APPROVER)

    assert decision.request.state is S.FAILED and "too long to wait" in (decision.request.failure or "")
    assert world.azure.initiated == []


async def test_a_port_taken_after_the_request_fails_it_where_the_rule_refuses_to_close_it(world: World) -> None:
    world.router.rule = rule(on_conflict=ConflictChoice.REFUSE)
    request = await world.pending()
    outside_holder(world, timedelta(minutes=40))

    decision = await world.service.approve(request.id, APPROVER)

    assert decision.request.state is S.FAILED and "carol@example.com" in (decision.request.failure or "")
    assert world.azure.initiated == []


async def test_a_grant_from_another_source_supersedes_the_holder(world: World) -> None:
    colleague = await world.active(requester=COLLEAGUE, source=OTHER_SOURCE)

    mine = await world.active()

    lost = await world.current(colleague.id)
    assert mine.state is S.ACTIVE and lost.state is S.SUPERSEDED
    assert lost.lost_ports == (22,) and lost.extra["superseded_by"] == REQUESTER
    assert world.due_at(Kind.OUTCOME, colleague.id) == world.clock.now()
    assert world.due_at(Kind.EXPIRE, colleague.id) is None


async def test_a_grant_from_the_same_source_keeps_the_holders_later_end(world: World) -> None:
    colleague = await world.active(requester=COLLEAGUE, duration=timedelta(hours=3))
    world.clock.advance(timedelta(minutes=30))

    mine = await world.active(duration=timedelta(hours=1))

    assert (await world.current(colleague.id)).state is S.ACTIVE
    assert mine.ends_at == world.clock.now() + timedelta(hours=1)
    sent = world.azure.initiated[-1]
    assert sent.end == mine.ends_at and sent.port_ends == {22: colleague.ends_at}


async def test_after_a_crash_azures_record_activates_the_request_without_a_second_initiate(world: World) -> None:
    request = await world.pending()
    world.azure.refuse("initiate", Crash(), after_applying=True)
    with pytest.raises(Crash):
        await world.service.approve(request.id, APPROVER)
    approved_at = world.clock.now()
    assert (await world.current(request.id)).state is S.APPROVED

    ran = await world.later(RECONCILE_AFTER)

    active = await world.current(request.id)
    assert f"reconcile:{request.id}" in ran.keys
    assert active.state is S.ACTIVE and active.starts_at == approved_at
    assert active.ends_at == approved_at + request.duration
    assert len(world.azure.initiated) == 1


async def test_after_a_crash_before_azure_heard_of_it_the_request_fails_and_nothing_is_sent(world: World) -> None:
    request = await world.pending()
    world.azure.refuse("initiate", Crash())
    with pytest.raises(Crash):
        await world.service.approve(request.id, APPROVER)

    await world.later(RECONCILE_AFTER)

    failed = await world.current(request.id)
    assert failed.state is S.FAILED and failed.failure == NO_RECORD
    assert world.azure.initiated == []


async def test_reconcile_trusts_only_an_entry_carrying_an_attempt_the_request_recorded(world: World) -> None:
    request = await world.pending()
    world.azure.refuse("initiate", Crash())
    with pytest.raises(Crash):
        await world.service.approve(request.id, APPROVER)
    copied = Justification(request.id, REQUESTER, APPROVER, "", "abcdef012345").render()
    now = world.clock.now()
    world.azure.add_record(
        JitRequestRecord(
            VM_REF.id, now, "mallory@example.com", copied, (GrantedPort(22, SOURCE, now + timedelta(hours=1), "x"),)
        )
    )

    await world.later(RECONCILE_AFTER)

    assert (await world.current(request.id)).state is S.FAILED


async def test_reconcile_leaves_settled_and_queued_requests_alone(world: World) -> None:
    active = await world.active()
    world.router.rule = rule(on_conflict=ConflictChoice.QUEUE)
    waiting = await world.pending(requester=COLLEAGUE, source=OTHER_SOURCE)
    queued = (await world.service.approve(waiting.id, APPROVER)).request
    reconcile = world.service.dispatch.handlers[Kind.RECONCILE]
    world.timetable.take(f"reconcile:{queued.id}")
    calls = len(world.azure.calls)

    await reconcile(active)
    await reconcile(queued)

    assert world.azure.calls[calls:] == []
    assert (await world.current(active.id)).state is S.ACTIVE
    assert (await world.current(queued.id)).state is S.APPROVED
    assert active.ends_at is not None
    assert world.due_at(Kind.RECONCILE, queued.id) == active.ends_at + RECONCILE_AFTER


async def test_azure_unreachable_fails_the_request_and_the_next_attempt_can_succeed(world: World) -> None:
    first = await world.pending()
    world.azure.refuse("initiate", AzureUnavailable())

    failed = (await world.service.approve(first.id, APPROVER)).request
    again = await world.service.ask_again(first.id, REQUESTER)
    opened = (await world.service.approve(again.request.id, APPROVER)).request

    assert failed.state is S.FAILED and failed.failure == AzureUnavailable.default_message
    assert opened.state is S.ACTIVE


async def test_a_grant_shorter_than_the_reminder_lead_gets_no_reminder(world: World) -> None:
    short = await world.active(duration=timedelta(minutes=5))

    assert world.due_at(Kind.REMIND, short.id) is None
    assert world.due_at(Kind.EXPIRE, short.id) == short.ends_at
