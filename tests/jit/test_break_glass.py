"""Break-glass access (``jit.break_glass``): announced once it is settled, reviewed once by an approver or admin who
is not the person who used it, and escalated round by round until someone does."""

from __future__ import annotations

import asyncio
from dataclasses import replace
from datetime import timedelta

import pytest

from jit.break_glass import ANNOUNCE_RETRY, MAX_REVIEW_ROUNDS
from jit.errors import NotAllowed, RequestRejected
from jit.model import AccessRequest, RequestState
from jit.request_extras import extras_of
from jit.schedule_items import Kind
from tests.jit.doubles.world import ADMIN, APPROVER, APPROVER_2, GLASS_GROUP, OUTSIDER, REQUESTER, World, rule

S = RequestState
REVIEW_WITHIN = timedelta(minutes=30)


async def glass(world: World) -> AccessRequest:
    world.router.rule = rule(
        approvers=(APPROVER, APPROVER_2, REQUESTER), break_glass=(GLASS_GROUP,), review_within=REVIEW_WITHIN
    )
    submitted = await world.service.submit(world.draft(break_glass=True))
    assert submitted.request.state is S.ACTIVE
    return submitted.request


async def test_an_approver_reviews_it_once_and_its_escalation_stops(world: World) -> None:
    request = await glass(world)

    reviewed = await world.service.acknowledge_review(request.id, APPROVER)
    again = await world.service.acknowledge_review(request.id, APPROVER_2)

    assert reviewed.acted and extras_of(reviewed.request).reviewed_by == APPROVER
    assert extras_of(reviewed.request).reviewed_at == world.clock.now()
    assert not again.acted and extras_of(again.request).reviewed_by == APPROVER
    assert world.due_at(Kind.REVIEW, request.id) is None
    assert world.due_at(Kind.REVIEWED, request.id) == world.clock.now()
    assert world.records.events(request.id).count("break_glass_reviewed") == 1


async def test_concurrent_reviews_count_once(world: World) -> None:
    request = await glass(world)

    results = await asyncio.gather(
        *(world.service.acknowledge_review(request.id, who) for who in (APPROVER, APPROVER_2, ADMIN))
    )

    assert sum(r.acted for r in results) == 1
    assert world.records.events(request.id).count("break_glass_reviewed") == 1


async def test_the_person_who_used_it_cannot_review_it_even_as_an_approver(world: World) -> None:
    request = await glass(world)

    with pytest.raises(NotAllowed):
        await world.service.acknowledge_review(request.id, REQUESTER)
    with pytest.raises(NotAllowed):
        await world.service.acknowledge_review(request.id, OUTSIDER)
    by_admin = await world.service.acknowledge_review(request.id, ADMIN)

    assert world.records.events(request.id)[-3:] == ["review_refused", "review_refused", "break_glass_reviewed"]
    assert by_admin.acted


async def test_a_request_without_break_glass_needs_no_review(world: World) -> None:
    request = await world.active()

    with pytest.raises(RequestRejected, match="did not use break-glass"):
        await world.service.acknowledge_review(request.id, APPROVER)


async def test_it_is_announced_once_it_is_settled_and_only_once(world: World) -> None:
    request = await glass(world)
    announce = world.service.dispatch.handlers[Kind.GLASS]
    waiting = replace(request, state=S.APPROVED)

    await announce(waiting)
    assert world.notifier.sent("break_glass") == []
    assert world.due_at(Kind.GLASS, request.id) == world.clock.now() + ANNOUNCE_RETRY
    await world.run_due()
    await announce(await world.current(request.id))

    assert len(world.notifier.sent("break_glass", request.id)) == 1
    posts = extras_of(await world.current(request.id)).glass_posts
    assert len(posts) == 2 and posts[1].startswith("CONCALL ")


async def test_an_unreviewed_grant_escalates_round_by_round_until_reviewed(world: World) -> None:
    request = await glass(world)
    await world.run_due()

    await world.later(REVIEW_WITHIN - timedelta(minutes=1))
    assert world.notifier.sent("review_overdue") == []
    await world.later(timedelta(minutes=1))
    await world.later(REVIEW_WITHIN)
    rounds = [m.detail[0] for m in world.notifier.sent("review_overdue", request.id)]
    await world.service.acknowledge_review(request.id, APPROVER)
    await world.later(REVIEW_WITHIN * 3)

    assert rounds == [1, 2]
    assert len(world.notifier.sent("review_overdue", request.id)) == 2
    assert extras_of(await world.current(request.id)).review_rounds == 2
    assert len(world.notifier.sent("review_done", request.id)) == 1


async def test_the_escalation_stops_after_its_last_round(world: World) -> None:
    request = await glass(world)

    for _ in range(MAX_REVIEW_ROUNDS + 3):
        await world.later(REVIEW_WITHIN)

    assert len(world.notifier.sent("review_overdue", request.id)) == MAX_REVIEW_ROUNDS
    assert world.due_at(Kind.REVIEW, request.id) is None


async def test_a_round_delivered_twice_is_sent_once(world: World) -> None:
    request = await glass(world)
    review_due = world.service.dispatch.handlers[Kind.REVIEW]
    world.clock.advance(REVIEW_WITHIN)
    stale = await world.current(request.id)

    await review_due(stale)
    await review_due(stale)

    assert len(world.notifier.sent("review_overdue", request.id)) == 1
    assert extras_of(await world.current(request.id)).review_rounds == 1


async def test_who_reviewed_is_shown_once(world: World) -> None:
    request = await glass(world)
    await world.run_due()
    await world.service.acknowledge_review(request.id, APPROVER)
    shown = world.service.dispatch.handlers[Kind.REVIEWED]

    await world.run_due()
    await shown(await world.current(request.id))

    [done] = world.notifier.sent("review_done", request.id)
    assert done.detail == (extras_of(await world.current(request.id)).glass_posts,)
