"""Extending an open grant (``jit.extensions``): asked by its holder or an admin, decided by another approver, one
Azure initiate however many click, never shortening access, and after a crash trusting Azure's history."""

from __future__ import annotations

import asyncio
from datetime import timedelta

import pytest

from jit.errors import NotAllowed, RequestRejected
from jit.extensions import EXTENSION_NOT_RECORDED, extension_ref
from jit.model import AccessRequest, RequestState
from jit.ports.azure_errors import AzureConflict
from jit.request_extras import ExtensionState, extras_of
from jit.routing import AutoApproval
from jit.schedule_items import Kind
from tests.jit.doubles.world import (
    ADMIN,
    APPROVER,
    APPROVER_2,
    APPROVER_3,
    MAX_ACCESS,
    OUTSIDER,
    REQUESTER,
    World,
    rule,
)

S = RequestState
E = ExtensionState


class Crash(Exception):
    """jitbot's process dies here."""


async def asked(
    world: World, grant: AccessRequest, by: str = REQUESTER, more: timedelta | None = None
) -> AccessRequest:
    result = await world.service.extend(grant.id, by, more)
    assert result.created
    return result.request


async def test_only_the_holder_or_an_admin_may_ask(world: World) -> None:
    grant = await world.active()

    with pytest.raises(NotAllowed):
        await world.service.extend(grant.id, OUTSIDER)
    by_admin = await world.service.extend(grant.id, ADMIN, timedelta(minutes=30))

    assert world.records.events(grant.id)[-2:] == ["extend_refused", "extension_requested"]
    assert by_admin.created and extras_of(by_admin.request).extension.by == ADMIN


async def test_a_request_that_is_not_open_cannot_be_extended(world: World) -> None:
    pending = await world.pending()

    with pytest.raises(RequestRejected, match="is not open"):
        await world.service.extend(pending.id, REQUESTER)


async def test_an_extension_waits_for_approvers_with_a_card_and_a_deadline(world: World) -> None:
    grant = await world.active(duration=timedelta(minutes=45))
    assert grant.ends_at is not None
    now = world.clock.now()

    extended = await asked(world, grant, more=timedelta(minutes=30))
    again = await world.service.extend(grant.id, REQUESTER, timedelta(hours=1))

    ext = extras_of(extended).extension
    assert (ext.seq, ext.state, ext.by, ext.duration) == (1, E.PENDING, REQUESTER, timedelta(minutes=30))
    assert ext.until == grant.ends_at + timedelta(minutes=30)
    assert extended.ends_at == grant.ends_at and extended.state is S.ACTIVE
    assert world.due_at(Kind.EXT_CARD, grant.id) == now
    assert world.due_at(Kind.EXT_TIMEOUT, grant.id) == grant.ends_at
    assert not again.created and extras_of(again.request).extension.seq == 1
    assert len(world.azure.initiated) == 1


async def test_neither_the_holder_nor_who_asked_may_approve_the_extension(world: World) -> None:
    world.router.rule = rule(approvers=(APPROVER, APPROVER_2, ADMIN, REQUESTER))
    grant = await world.active()
    await asked(world, grant, by=ADMIN)
    reference = extension_ref(grant.id, 1)

    with pytest.raises(NotAllowed, match="your own access"):
        await world.service.approve(reference, REQUESTER)
    with pytest.raises(NotAllowed, match="You asked for this extension"):
        await world.service.approve(reference, ADMIN)
    with pytest.raises(NotAllowed, match="not one of the approvers"):
        await world.service.approve(reference, OUTSIDER)

    assert extras_of(await world.current(grant.id)).extension.state is E.PENDING
    assert len(world.azure.initiated) == 1


async def test_an_approved_extension_moves_the_end_with_one_initiate(world: World) -> None:
    grant = await world.active(duration=timedelta(hours=1))
    assert grant.ends_at is not None
    await asked(world, grant, more=timedelta(minutes=30))
    world.clock.advance(timedelta(minutes=10))
    new_end = grant.ends_at + timedelta(minutes=30)

    decision = await world.service.approve(extension_ref(grant.id, 1), APPROVER_2)

    extended = decision.request
    ext = extras_of(extended).extension
    assert decision.acted and ext.state is E.GRANTED and ext.decided_by == APPROVER_2
    assert extended.ends_at == new_end and extras_of(extended).extensions == 1
    [_, initiate] = world.azure.initiated
    assert (initiate.ports, initiate.end) == ((22,), new_end)
    assert world.due_at(Kind.EXPIRE, grant.id) == new_end
    assert world.due_at(Kind.REMIND, grant.id) == new_end - timedelta(minutes=10)
    assert world.due_at(Kind.EXT_DONE, grant.id) == world.clock.now()
    assert world.due_at(Kind.EXT_TIMEOUT, grant.id) is None and world.due_at(Kind.EXT_RECONCILE, grant.id) is None


async def test_concurrent_approvals_of_an_extension_initiate_once(world: World) -> None:
    world.router.rule = rule(approvers=(APPROVER, APPROVER_2, APPROVER_3))
    grant = await world.active(duration=timedelta(hours=1))
    await asked(world, grant)
    reference = extension_ref(grant.id, 1)

    decisions = await asyncio.gather(
        *(world.service.approve(reference, who) for who in (APPROVER, APPROVER_2, APPROVER_3))
    )

    assert sum(d.acted for d in decisions) == 1
    assert len(world.azure.initiated) == 2
    assert world.records.events(grant.id).count("extended") == 1


async def test_an_extension_needs_the_requests_quorum(world: World) -> None:
    world.router.rule = rule(approvers=(APPROVER, APPROVER_2, APPROVER_3), quorum=2)
    grant = await world.pending()
    await world.service.approve(grant.id, APPROVER)
    await world.service.approve(grant.id, APPROVER_2)
    await asked(world, grant)
    reference = extension_ref(grant.id, 1)

    first = await world.service.approve(reference, APPROVER)
    repeat = await world.service.approve(reference, APPROVER)
    assert len(world.azure.initiated) == 1
    second = await world.service.approve(reference, APPROVER_3)

    assert first.acted and first.recorded
    assert extras_of(first.request).extension.approvals == (APPROVER,)
    assert not repeat.acted and repeat.recorded
    assert second.acted and extras_of(second.request).extension.state is E.GRANTED
    assert extras_of(second.request).extension.decided_by == f"{APPROVER},{APPROVER_3}"
    assert len(world.azure.initiated) == 2


async def test_a_click_on_an_older_extensions_card_decides_nothing(world: World) -> None:
    grant = await world.active(duration=timedelta(hours=1))
    await asked(world, grant)
    await world.service.deny(extension_ref(grant.id, 1), APPROVER)
    await asked(world, grant)

    stale = await world.service.approve(extension_ref(grant.id, 1), APPROVER)

    assert not stale.acted
    assert extras_of(await world.current(grant.id)).extension.state is E.PENDING
    assert len(world.azure.initiated) == 1


async def test_a_denied_extension_leaves_the_access_as_it_was(world: World) -> None:
    grant = await world.active(duration=timedelta(hours=1))
    await asked(world, grant)

    with pytest.raises(NotAllowed):
        await world.service.deny(extension_ref(grant.id, 1), REQUESTER)
    denied = await world.service.deny(extension_ref(grant.id, 1), APPROVER)
    late = await world.service.approve(extension_ref(grant.id, 1), APPROVER_2)

    assert denied.acted and extras_of(denied.request).extension.state is E.DENIED
    assert denied.request.ends_at == grant.ends_at and not late.acted
    assert world.due_at(Kind.EXT_DONE, grant.id) == world.clock.now()
    assert world.due_at(Kind.EXT_TIMEOUT, grant.id) is None
    assert len(world.azure.initiated) == 1


async def test_an_undecided_extension_times_out_at_its_deadline(world: World) -> None:
    grant = await world.active(duration=timedelta(hours=2))
    await asked(world, grant)
    time_out = world.service.dispatch.handlers[Kind.EXT_TIMEOUT]

    world.clock.advance(timedelta(minutes=30))
    await time_out(await world.current(grant.id))
    early = await world.current(grant.id)
    world.clock.advance(timedelta(minutes=30))
    await time_out(early)

    assert extras_of(early).extension.state is E.PENDING
    timed_out = await world.current(grant.id)
    ext = extras_of(timed_out).extension
    assert ext.state is E.TIMED_OUT and ext.failure is None
    assert world.due_at(Kind.EXT_DONE, grant.id) == world.clock.now()


async def test_an_extension_still_waiting_when_the_access_ends_times_out_saying_why(world: World) -> None:
    grant = await world.active(duration=timedelta(minutes=30))
    await asked(world, grant)

    await world.later(timedelta(minutes=30))

    ext = extras_of(await world.current(grant.id)).extension
    assert ext.state is E.TIMED_OUT and ext.failure is not None and "ended before" in ext.failure


async def test_a_refused_initiate_fails_the_extension_and_keeps_the_access(world: World) -> None:
    grant = await world.active(duration=timedelta(hours=1))
    await asked(world, grant)
    world.azure.refuse("initiate", AzureConflict())

    decision = await world.service.approve(extension_ref(grant.id, 1), APPROVER)

    ext = extras_of(decision.request).extension
    assert ext.state is E.FAILED and ext.failure == AzureConflict.default_message
    assert decision.request.state is S.ACTIVE and decision.request.ends_at == grant.ends_at
    assert world.due_at(Kind.EXT_DONE, grant.id) == world.clock.now()


async def test_an_extension_the_rule_approves_is_granted_at_once(world: World) -> None:
    grant = await world.active(duration=timedelta(hours=1))
    assert grant.ends_at is not None
    world.router.rule = rule(auto_approve=AutoApproval())

    extended = await asked(world, grant, more=timedelta(minutes=20))

    ext = extras_of(extended).extension
    assert ext.state is E.GRANTED and ext.auto_rule == "default" and ext.decided_by == "rule:default"
    assert extended.ends_at == grant.ends_at + timedelta(minutes=20)
    assert world.due_at(Kind.EXT_CARD, grant.id) is None


async def test_an_extension_the_maximum_leaves_no_room_for_is_refused_and_nothing_changes(world: World) -> None:
    grant = await world.active(duration=MAX_ACCESS)

    with pytest.raises(RequestRejected, match="cannot be extended now"):
        await world.service.extend(grant.id, REQUESTER)

    assert extras_of(await world.current(grant.id)).extension.seq == 0
    assert world.records.events(grant.id)[-1] == "active"


async def test_only_the_ports_the_grant_still_holds_are_extended(world: World) -> None:
    grant = await world.active(ports=(22, 3389), duration=timedelta(hours=1))
    await world.records.update_fields(grant.id, {"lost_ports": (3389,)}, actor="t", event="e")
    await asked(world, grant)

    await world.service.approve(extension_ref(grant.id, 1), APPROVER)

    assert world.azure.initiated[-1].ports == (22,)


async def test_after_a_crash_azures_record_grants_the_extension_without_a_second_initiate(world: World) -> None:
    grant = await world.active(duration=timedelta(hours=1))
    assert grant.ends_at is not None
    world.clock.advance(timedelta(minutes=5))
    await asked(world, grant, more=timedelta(minutes=30))
    world.azure.refuse("initiate", Crash(), after_applying=True)
    with pytest.raises(Crash):
        await world.service.approve(extension_ref(grant.id, 1), APPROVER)

    await world.later(timedelta(minutes=3))

    extended = await world.current(grant.id)
    assert extras_of(extended).extension.state is E.GRANTED
    assert extended.ends_at == grant.ends_at + timedelta(minutes=30)
    assert len(world.azure.initiated) == 2


async def test_after_a_crash_before_azure_heard_of_it_the_extension_fails(world: World) -> None:
    grant = await world.active(duration=timedelta(hours=1))
    world.clock.advance(timedelta(minutes=5))
    await asked(world, grant)
    world.azure.refuse("initiate", Crash())
    with pytest.raises(Crash):
        await world.service.approve(extension_ref(grant.id, 1), APPROVER)

    await world.later(timedelta(minutes=3))

    extended = await world.current(grant.id)
    ext = extras_of(extended).extension
    assert ext.state is E.FAILED and ext.failure == EXTENSION_NOT_RECORDED
    assert extended.ends_at == grant.ends_at and len(world.azure.initiated) == 1


async def test_a_grant_revoked_while_azure_extended_it_is_closed_again(world: World) -> None:
    grant = await world.active(duration=timedelta(hours=1))
    await asked(world, grant)

    async def revoked_by_another_replica() -> None:
        await world.records.transition(grant.id, S.REVOKED, actor=REQUESTER)

    world.azure.interleave("initiate", revoked_by_another_replica)
    decision = await world.service.approve(extension_ref(grant.id, 1), APPROVER)

    ext = extras_of(decision.request).extension
    assert decision.request.state is S.REVOKED and decision.request.ends_at == grant.ends_at
    assert ext.state is E.FAILED and ext.failure is not None and "already ended" in ext.failure
    assert len(world.azure.initiated) == 2 and len(world.azure.closed) == 1
    assert world.azure.allow_rules == []


async def test_the_outcome_is_announced_once(world: World) -> None:
    grant = await world.active(duration=timedelta(hours=1))
    await asked(world, grant)
    await world.service.approve(extension_ref(grant.id, 1), APPROVER)
    announce = world.service.dispatch.handlers[Kind.EXT_DONE]
    await world.run_due()
    told = len(world.notifier.sent("tell_requester", grant.id))

    await announce(await world.current(grant.id))
    await asked(world, grant)
    await world.service.deny(extension_ref(grant.id, 2), APPROVER)
    await world.run_due()
    await announce(await world.current(grant.id))

    assert len(world.notifier.sent("tell_requester", grant.id)) == told
    assert len(world.notifier.sent("extension_outcome", grant.id)) == 1


async def test_the_card_is_posted_once_and_then_rerendered(world: World) -> None:
    grant = await world.active(duration=timedelta(hours=1))
    await asked(world, grant)
    post_card = world.service.dispatch.handlers[Kind.EXT_CARD]

    await post_card(await world.current(grant.id))
    posted = await world.current(grant.id)
    await post_card(posted)

    [first, second] = world.notifier.sent("extension_card", grant.id)
    assert extras_of(posted).extension.card is not None
    assert world.records.events(grant.id).count("extension_card_posted") == 1
    assert first.request is not None and second.request is not None
