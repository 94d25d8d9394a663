"""Closing access early (``jit.revoking``): by the holder, an approver or an admin; one outcome however many click;
the NSG rules removed without closing anyone else's access, retried until closed, and announced only then."""

from __future__ import annotations

import asyncio
from datetime import timedelta

import pytest

from jit.errors import NotAllowed, RequestRejected
from jit.hints import Command, CommandHint
from jit.model import RequestState
from jit.ports.azure_errors import AzureUnavailable
from jit.revoking import CLOSE_RETRY, CloseFailed
from jit.schedule_items import Kind
from tests.jit.doubles.world import ADMIN, APPROVER, APPROVER_2, COLLEAGUE, OUTSIDER, REQUESTER, VM_REF, World

S = RequestState


@pytest.mark.parametrize("who", [REQUESTER, APPROVER_2, ADMIN])
async def test_the_holder_an_approver_or_an_admin_closes_access_early(world: World, who: str) -> None:
    grant = await world.active()

    revoked = await world.service.revoke(grant.id, who)

    closed = revoked.request
    assert revoked.acted and revoked.closed and closed.state is S.REVOKED
    assert closed.extra["revoked_by"] == who and closed.decided_at == world.clock.now()
    assert world.azure.closed == [(VM_REF.id, (22,), grant.source)] and world.azure.allow_rules == []
    assert world.due_at(Kind.REMIND, grant.id) is None and world.due_at(Kind.EXPIRE, grant.id) is None
    assert world.due_at(Kind.CLOSE, grant.id) is None
    assert world.due_at(Kind.OUTCOME, grant.id) == world.clock.now()
    access_closed = world.records.audit_for(grant.id)[-1]
    assert (access_closed.event, access_closed.detail["rules_removed_for_ports"]) == ("access_closed", "22")


async def test_anyone_else_is_refused_and_audited(world: World) -> None:
    grant = await world.active()

    with pytest.raises(NotAllowed):
        await world.service.revoke(grant.id, OUTSIDER)

    assert (await world.current(grant.id)).state is S.ACTIVE and world.azure.closed == []
    assert world.records.events(grant.id)[-1] == "revoke_refused"


async def test_nothing_open_yet_is_refused_with_what_to_do_instead(world: World) -> None:
    pending = await world.pending()

    with pytest.raises(RequestRejected) as refused:
        await world.service.revoke(pending.id, REQUESTER)

    assert refused.value.hint == CommandHint(Command.CANCEL, (pending.id,))


async def test_access_being_opened_right_now_is_refused_for_a_moment(world: World) -> None:
    pending = await world.pending()
    await world.records.transition(pending.id, S.APPROVED, actor=APPROVER)

    with pytest.raises(RequestRejected, match="being opened right now"):
        await world.service.revoke(pending.id, REQUESTER)


async def test_access_that_already_ended_is_not_closed_again(world: World) -> None:
    grant = await world.active()
    await world.service.revoke(grant.id, REQUESTER)

    again = await world.service.revoke(grant.id, ADMIN)

    assert not again.acted and again.request.extra["revoked_by"] == REQUESTER
    assert len(world.azure.closed) == 1


async def test_concurrent_revokes_have_one_outcome(world: World) -> None:
    grant = await world.active()

    results = await asyncio.gather(*(world.service.revoke(grant.id, who) for who in (REQUESTER, APPROVER, ADMIN)))

    assert sum(r.acted for r in results) == 1
    assert world.records.events(grant.id).count("revoked") == 1
    assert world.records.events(grant.id).count("access_closed") == 1


async def test_closing_is_retried_until_azure_closes_it_and_only_then_announced(world: World) -> None:
    grant = await world.active()
    await world.run_due()
    world.azure.refuse("close_access", AzureUnavailable())

    revoked = await world.service.revoke(grant.id, REQUESTER)
    assert revoked.acted and not revoked.closed
    assert world.due_at(Kind.CLOSE, grant.id) == world.clock.now() + CLOSE_RETRY
    assert world.due_at(Kind.OUTCOME, grant.id) is None
    world.azure.refuse("close_access", AzureUnavailable())
    failing = await world.later(CLOSE_RETRY)
    assert isinstance(failing.failed.get(f"close:{grant.id}"), CloseFailed)
    assert world.notifier.sent("revoked") == []

    later = await world.later(timedelta(seconds=30))

    assert f"close:{grant.id}" in later.keys and not later.failed
    assert world.azure.allow_rules == []
    assert world.due_at(Kind.CLOSE, grant.id) is None
    assert [m.request.state for m in world.notifier.sent("tell_requester", grant.id) if m.request][-1] is S.REVOKED
    assert len(world.notifier.sent("revoked", grant.id)) == 1
    assert world.records.events(grant.id).count("access_closed") == 1


async def test_the_close_item_does_nothing_for_a_grant_that_is_not_revoked(world: World) -> None:
    grant = await world.active()
    close = world.service.dispatch.handlers[Kind.CLOSE]

    await close(grant)

    assert world.azure.closed == []


async def test_closing_keeps_a_colleagues_access_from_the_same_source_open(world: World) -> None:
    colleague = await world.active(requester=COLLEAGUE, duration=timedelta(hours=1))
    mine = await world.active(duration=timedelta(hours=2))

    revoked = await world.service.revoke(mine.id, REQUESTER)

    assert revoked.closed and world.azure.closed == []
    shortened = world.azure.initiated[-1]
    assert (shortened.ports, shortened.end) == ((22,), colleague.ends_at)
    assert f"closed-by:{REQUESTER}" in shortened.justification
    assert (await world.current(colleague.id)).state is S.ACTIVE


async def test_an_open_extension_times_out_at_once_when_access_is_revoked(world: World) -> None:
    grant = await world.active(duration=timedelta(hours=1))
    await world.service.extend(grant.id, REQUESTER)

    await world.service.revoke(grant.id, REQUESTER)

    assert world.due_at(Kind.EXT_TIMEOUT, grant.id) == world.clock.now()
