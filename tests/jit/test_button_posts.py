"""Extend / Close buttons (``jit.button_posts``): every post that carries them is remembered, and once access has
ended (expired, revoked, superseded) each is re-rendered without them, however the end came."""

from __future__ import annotations

from datetime import timedelta

from jit.button_posts import remember_posts
from jit.model import RequestState
from tests.jit.doubles.world import REQUESTER, World

S = RequestState


def retired(world: World, request_id: str) -> set[str]:
    """Every reference the notifier was asked to strip for ``request_id``."""
    found: set[str] = set()
    for message in world.notifier.sent("retire_buttons", request_id):
        references = message.detail[0]
        assert isinstance(references, tuple)
        found.update(str(r) for r in references)
    return found


async def test_the_access_dm_and_both_reminders_lose_their_buttons_at_expiry(world: World) -> None:
    grant = await world.active(duration=timedelta(hours=1))
    await world.later(timedelta(minutes=50))
    posts = (await world.current(grant.id)).extra["button_posts"].split(",")
    assert len(posts) == 3, "the access DM, the reminder DM and the on-call reminder"
    assert retired(world, grant.id) == set()

    await world.later(timedelta(minutes=10))

    assert (await world.current(grant.id)).state is S.EXPIRED
    assert retired(world, grant.id) == set(posts)


async def test_an_early_close_strips_the_buttons_too(world: World) -> None:
    grant = await world.active(duration=timedelta(hours=1))
    await world.run_due()
    [dm] = (await world.current(grant.id)).extra["button_posts"].split(",")

    await world.service.revoke(grant.id, REQUESTER)
    await world.run_due()

    assert retired(world, grant.id) == {dm}


async def test_a_post_recorded_after_the_end_is_stripped_at_once(world: World) -> None:
    grant = await world.active(duration=timedelta(hours=1))
    await world.run_due()
    await world.service.revoke(grant.id, REQUESTER)
    await world.run_due()
    late = "D0LATE 1700000099.000001"

    await remember_posts(world.deps(), await world.current(grant.id), [late])

    assert late in retired(world, grant.id)
    assert late in (await world.current(grant.id)).extra["button_posts"]


async def test_concurrent_additions_keep_every_post(world: World) -> None:
    grant = await world.active(duration=timedelta(hours=1))
    stale = await world.current(grant.id)
    await remember_posts(world.deps(), stale, ["D1 1.1"])

    await remember_posts(world.deps(), stale, ["D2 2.2"])

    posts = (await world.current(grant.id)).extra["button_posts"].split(",")
    assert "D1 1.1" in posts and "D2 2.2" in posts
