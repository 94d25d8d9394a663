"""The access review on demand and weekly: who may see one, what it is built from, and one weekly post per week."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from jit.errors import NotAllowed
from jit.model import RequestState
from jit.reporting import WEEKLY_AT, next_weekly_post
from jit.review import ReviewPeriod
from jit.schedule_items import Routine
from tests.jit.doubles.world import ADMIN, APPROVER, OUTSIDER, REQUESTER, World, settings

REVIEWS = "CREVIEWS"
MONDAY_MORNING = datetime(2025, 3, 10, WEEKLY_AT.hour, WEEKLY_AT.minute, tzinfo=UTC)


def reviewing_world(*, channel: str | None = REVIEWS) -> World:
    """The world with ``APPROVER`` as the one reviewer listed in JITBOT_APPROVERS, and a review channel."""
    world = World(config=settings(reviewers=(APPROVER,), review_channel=channel))
    world.clock.current = datetime(2025, 3, 5, 10, 0, tzinfo=UTC)
    return world


async def test_an_approver_gets_the_review_of_the_last_days_by_dm() -> None:
    world = reviewing_world()
    grant = await world.active()
    await world.later(timedelta(hours=3))

    review = await world.service.report(APPROVER, 7)

    [posted] = world.reviews.posted
    assert posted.where == APPROVER and posted.review == review
    assert review.period == ReviewPeriod.last_days(7, world.clock.now())
    assert [g.request_id for g in review.grants] == [grant.id]
    assert review.open_hours == pytest.approx(2.0)
    assert [p.person for p in review.people] == [REQUESTER]
    assert "report_sent" in world.records.events()


async def test_an_admin_may_ask_for_a_review() -> None:
    world = reviewing_world()

    await world.service.report(ADMIN, 30)

    assert [p.where for p in world.reviews.posted] == [ADMIN]


@pytest.mark.parametrize("user", [OUTSIDER, REQUESTER])
async def test_anyone_else_is_refused_and_the_refusal_audited(user: str) -> None:
    world = reviewing_world()

    with pytest.raises(NotAllowed, match="only approvers and jitbot admins"):
        await world.service.report(user, 7)

    assert world.reviews.posted == []
    [refused] = [r for r in world.records.audit if r.event == "report_refused"]
    assert refused.actor == user and refused.detail == {"days": "7"}


async def test_requests_that_ended_before_the_period_are_not_in_it() -> None:
    world = reviewing_world()
    old = await world.active()
    await world.later(timedelta(days=10))
    recent = await world.active()
    denied = await world.pending(vm="web-01", ports=(3389,))
    await world.service.deny(denied.id, APPROVER)
    await world.later(timedelta(minutes=30))

    review = await world.service.report(APPROVER, 7)

    assert (await world.current(old.id)).state is RequestState.EXPIRED
    assert [g.request_id for g in review.grants] == [recent.id]
    assert [r.request_id for r in review.denied] == [denied.id]


async def test_the_review_names_vms_whose_policy_allows_any_source() -> None:
    world = reviewing_world()

    review = await world.service.report(APPROVER, 7)

    assert [(p.label, p.ports) for p in review.any_source] == [("web-01", (22, 3389))]


def test_the_weekly_post_is_due_on_monday_morning_utc() -> None:
    wednesday = datetime(2025, 3, 5, 10, 0, tzinfo=UTC)

    assert next_weekly_post(wednesday) == MONDAY_MORNING
    assert next_weekly_post(MONDAY_MORNING - timedelta(seconds=1)) == MONDAY_MORNING
    assert next_weekly_post(MONDAY_MORNING) == MONDAY_MORNING + timedelta(days=7)


async def test_the_weekly_review_goes_to_the_channel_once_a_week() -> None:
    world = reviewing_world()
    grant = await world.active()
    await world.service.reporting.start()
    await world.service.reporting.start()

    assert world.timetable.scheduled()[Routine.WEEKLY_REVIEW.value] == MONDAY_MORNING
    world.clock.current = MONDAY_MORNING
    ran = await world.run_due()

    assert ran.keys.count(Routine.WEEKLY_REVIEW.value) == 1 and not ran.failed
    [posted] = world.reviews.posted
    assert posted.where == REVIEWS
    assert posted.review.period == ReviewPeriod.week_before(MONDAY_MORNING)
    assert [g.request_id for g in posted.review.grants] == [grant.id]
    assert world.timetable.scheduled()[Routine.WEEKLY_REVIEW.value] == MONDAY_MORNING + timedelta(days=7)


async def test_a_weekly_run_repeated_after_a_crash_posts_nothing_more() -> None:
    world = reviewing_world()
    world.clock.current = MONDAY_MORNING

    await world.service.handle_due(Routine.WEEKLY_REVIEW.value)
    await world.service.handle_due(Routine.WEEKLY_REVIEW.value)

    assert len(world.reviews.posted) == 1


async def test_a_failed_weekly_post_is_tried_again() -> None:
    world = reviewing_world()
    await world.service.reporting.start()
    world.reviews.fail_next(ConnectionError("slack is down"))
    world.clock.current = MONDAY_MORNING

    ran = await world.run_due()
    assert Routine.WEEKLY_REVIEW.value in ran.failed and world.reviews.posted == []
    await world.later(timedelta(minutes=1))

    assert [p.where for p in world.reviews.posted] == [REVIEWS]


async def test_without_a_channel_there_is_no_weekly_post() -> None:
    world = reviewing_world(channel=None)

    await world.service.reporting.start()
    assert Routine.WEEKLY_REVIEW.value not in world.timetable.scheduled()
    await world.service.handle_due(Routine.WEEKLY_REVIEW.value)

    assert world.reviews.posted == []
    assert Routine.WEEKLY_REVIEW.value not in world.timetable.scheduled()
