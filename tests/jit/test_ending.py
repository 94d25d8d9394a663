"""The end of access (``jit.ending``): one reminder per end time, only for access Azure still has open, and
``active → expired`` at the end unless an extension moved it meanwhile."""

from __future__ import annotations

from datetime import timedelta

from jit.extensions import extension_ref
from jit.model import GrantedPort, JitRequestRecord, RequestState
from jit.schedule_items import Kind
from tests.jit.doubles.world import APPROVER, OTHER_SOURCE, REQUESTER, VM_REF, World

S = RequestState
LEAD = timedelta(minutes=10)


async def test_the_holder_is_reminded_once_before_the_end(world: World) -> None:
    grant = await world.active(duration=timedelta(hours=2))
    remind = world.service.dispatch.handlers[Kind.REMIND]

    await world.later(timedelta(hours=2) - LEAD - timedelta(minutes=1))
    assert world.notifier.sent("reminder") == []
    await world.later(timedelta(minutes=1))
    await remind(await world.current(grant.id))

    assert len(world.notifier.sent("reminder", grant.id)) == 1


async def test_an_extended_grant_is_reminded_again_before_its_new_end(world: World) -> None:
    grant = await world.active(duration=timedelta(hours=1))
    await world.later(timedelta(hours=1) - LEAD)
    await world.service.extend(grant.id, REQUESTER, timedelta(minutes=30))
    await world.service.approve(extension_ref(grant.id, 1), APPROVER)

    await world.later(timedelta(minutes=30))

    assert len(world.notifier.sent("reminder", grant.id)) == 2


async def test_no_reminder_for_access_that_has_ended(world: World) -> None:
    grant = await world.active(duration=timedelta(hours=2))
    await world.service.revoke(grant.id, REQUESTER)

    await world.service.dispatch.handlers[Kind.REMIND](await world.current(grant.id))

    assert world.notifier.sent("reminder") == []


async def test_no_reminder_for_access_azure_no_longer_has_open(world: World) -> None:
    grant = await world.active(duration=timedelta(hours=2))
    world.clock.advance(timedelta(minutes=30))
    now = world.clock.now()
    world.azure.add_record(
        JitRequestRecord(
            VM_REF.id,
            now,
            "carol@example.com",
            "portal",
            (GrantedPort(22, OTHER_SOURCE, now + timedelta(hours=3), "Initiated"),),
        )
    )

    await world.later(timedelta(hours=1, minutes=20))

    assert world.notifier.sent("reminder") == []
    assert (await world.current(grant.id)).state is S.SUPERSEDED


async def test_access_expires_at_its_end_and_is_announced_once(world: World) -> None:
    grant = await world.active(duration=timedelta(hours=1))
    await world.run_due()
    expire = world.service.dispatch.handlers[Kind.EXPIRE]

    await expire(await world.current(grant.id))
    assert (await world.current(grant.id)).state is S.ACTIVE
    assert world.due_at(Kind.EXPIRE, grant.id) == grant.ends_at
    ran = await world.later(timedelta(hours=1))
    await expire(await world.current(grant.id))

    assert f"expire:{grant.id}" in ran.keys
    assert (await world.current(grant.id)).state is S.EXPIRED
    assert len(world.notifier.sent("expired", grant.id)) == 1


async def test_an_extension_that_moved_the_end_wins_over_a_stale_expiry(world: World) -> None:
    grant = await world.active(duration=timedelta(hours=1))
    assert grant.ends_at is not None
    await world.service.extend(grant.id, REQUESTER, timedelta(minutes=30))
    await world.service.approve(extension_ref(grant.id, 1), APPROVER)
    world.clock.advance(timedelta(hours=1))

    await world.service.dispatch.handlers[Kind.EXPIRE](grant)

    assert (await world.current(grant.id)).state is S.ACTIVE
    assert world.due_at(Kind.EXPIRE, grant.id) == grant.ends_at + timedelta(minutes=30)
    assert world.notifier.sent("expired") == []


async def test_the_card_shows_the_end_when_there_is_one(world: World) -> None:
    grant = await world.active(duration=timedelta(hours=1))
    await world.run_due()
    updates = len(world.notifier.sent("update_card", grant.id))

    await world.later(timedelta(hours=1))

    assert len(world.notifier.sent("update_card", grant.id)) == updates + 1
