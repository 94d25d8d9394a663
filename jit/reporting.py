"""The access review on demand (the ``report`` command) and every week to the review channel.

- A review lists every VM and every person, so only reviewers see one: the people in ``JITBOT_APPROVERS`` and
  ``JITBOT_ADMINS`` (directly or through their user groups). Anyone else is refused, and the refusal is audited
  (``report_refused``); each review sent is audited too (``report_sent``).
- On demand a review covers today so far and the whole UTC days before it (``ReviewPeriod.last_days``) and goes to
  the person who asked, by DM.
- With a review channel set, the review of the seven whole UTC days before (``ReviewPeriod.week_before``) goes there
  every Monday at ``WEEKLY_AT`` UTC. It is one schedule item for all replicas (``Routine.WEEKLY_REVIEW``), so the
  scheduler runs it on one of them, and a sent-marker per week keeps a run repeated after a crash from posting
  again. Without a channel nothing is scheduled, and an item left from an earlier configuration ends quietly.
- The two ports only this use case needs are declared here, beside it: ``AuditTrail`` (the audit records are
  ``jit.store`` values, and ``jit.ports`` stays below ``jit.store``) and ``ReviewPoster``.
- A review is built from what jitbot keeps (``jit.review.build_review``): the requests that were unfinished or
  finished inside the period (``RequestRecords.touched_since``), the audit records from a day before the period
  (an opening outside jitbot lasts at most a day, and may have started before the period), and the inventory.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from datetime import UTC, datetime, time, timedelta
from typing import Protocol

from jit.authorisation import Authorisation
from jit.clock import Clock
from jit.errors import NotAllowed
from jit.ports import AzureJit
from jit.ports.records import RequestRecords, Timetable
from jit.review import AccessReview, ReviewPeriod, build_review
from jit.schedule_items import Routine, Sent
from jit.store.audit import AuditRecord

log = logging.getLogger(__name__)

REPORT_DAYS = (7, 30)
"""The periods an on-demand review may cover, in days."""
WEEKLY_AT = time(9, 0)
"""When on Monday (UTC) the weekly review is posted."""
LONGEST_OPENING = timedelta(days=1)
"""JIT's longest access window: how far before a period an opening outside jitbot may have started."""
_MONDAY = 0


class AuditTrail(Protocol):
    """The audit trail read by time (``jit.store.audit.AuditLog``)."""

    def entries(self, since: datetime | None = None, until: datetime | None = None) -> AsyncIterator[AuditRecord]:
        """Records with ``since <= at <= until``, oldest first."""
        ...


class ReviewPoster(Protocol):
    """Posts an access review where people read it (``bot.review_post.SlackReviewPoster``)."""

    async def post_review(self, where: str, review: AccessReview) -> None:
        """Post ``review`` with its chart and raw rows to ``where``: a channel id, or a user id for their DM."""
        ...


def next_weekly_post(now: datetime) -> datetime:
    """The first Monday ``WEEKLY_AT`` (UTC) after ``now``."""
    today = now.astimezone(UTC).date()
    monday = today + timedelta(days=(_MONDAY - today.weekday()) % 7)
    due = datetime.combine(monday, WEEKLY_AT, UTC)
    return due if due > now else due + timedelta(days=7)


class Reporting:
    """Builds access reviews from the records and posts them: to a reviewer who asks, and weekly to a channel."""

    def __init__(
        self,
        *,
        records: RequestRecords,
        trail: AuditTrail,
        azure: AzureJit,
        poster: ReviewPoster,
        schedule: Timetable,
        access: Authorisation,
        clock: Clock,
        reviewers: tuple[str, ...],
        channel: str | None,
    ):
        self.records = records
        self.trail = trail
        self.azure = azure
        self.poster = poster
        self.schedule = schedule
        self.access = access
        self.clock = clock
        self.reviewers = reviewers
        self.channel = channel

    async def build(self, period: ReviewPeriod) -> AccessReview:
        """The access review of ``period`` from the records and the inventory as they are now."""
        requests = await self.records.touched_since(period.start)
        audit = [record async for record in self.trail.entries(period.start - LONGEST_OPENING, None)]
        inventory = await self.azure.inventory()
        return build_review(period, requests, audit, inventory)

    async def may_see(self, user: str) -> bool:
        """Whether ``user`` is a reviewer: an approver in ``JITBOT_APPROVERS`` or an admin."""
        return await self.access.is_member(user, self.reviewers) or await self.access.is_admin(user)

    async def on_demand(self, user: str, days: int) -> AccessReview:
        """Send ``user`` the review of the last ``days`` days by DM; NotAllowed (audited) for non-reviewers."""
        if days not in REPORT_DAYS:
            raise ValueError(f"a report covers one of {REPORT_DAYS} days, not {days}")
        if not await self.may_see(user):
            await self.records.record("report_refused", actor=user, request_id=None, detail={"days": str(days)})
            raise NotAllowed(
                "Access reviews list every VM and everyone's access, so only approvers and jitbot admins can ask "
                "for one. Ask one of them, or read the weekly review if your team has a channel for it."
            )
        review = await self.build(ReviewPeriod.last_days(days, self.clock.now()))
        await self.poster.post_review(user, review)
        await self._audit_sent(user, user, review)
        return review

    async def start(self) -> None:
        """Schedule the next weekly post when a review channel is set (a no-op when another replica already did)."""
        if self.channel:
            await self.schedule.ensure(Routine.WEEKLY_REVIEW.value, next_weekly_post(self.clock.now()))

    async def weekly(self) -> None:
        """The schedule item: post last week's review to the channel once, then schedule next week's. A failed post
        raises, so the scheduler runs the item again after its backoff."""
        if not self.channel:
            log.info("review.weekly_off")
            return
        now = self.clock.now()
        period = ReviewPeriod.week_before(now)
        marker = Sent.weekly_review(period.start)
        if not await self.schedule.is_done(marker):
            review = await self.build(period)
            await self.poster.post_review(self.channel, review)
            await self.schedule.mark_done(marker)
            await self._audit_sent("jitbot", self.channel, review)
        await self.schedule.add(Routine.WEEKLY_REVIEW.value, next_weekly_post(now))

    async def _audit_sent(self, actor: str, where: str, review: AccessReview) -> None:
        detail = {
            "posted_to": where,
            "start": review.period.start.isoformat(),
            "end": review.period.end.isoformat(),
            "grants": str(len(review.grants)),
        }
        await self.records.record("report_sent", actor=actor, request_id=None, detail=detail)
