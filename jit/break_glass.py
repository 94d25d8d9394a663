"""Break-glass access: granted at once, announced loudly, and reviewed afterwards by someone else.

The announcement and each overdue-review round go out from schedule items (``glass``, ``review``,
``reviewed``); the review itself is a compare-and-set step of ``jit.flows.BREAK_GLASS_REVIEW``, so it happens
once, by an approver or admin who is not the person who used it (``jit.authorisation``).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import timedelta

from jit.button_posts import add_references
from jit.deps import Deps
from jit.errors import NotAllowed, RequestRejected
from jit.flows import BREAK_GLASS_REVIEW, REVIEW_ROUNDS, Review
from jit.model import AccessRequest, RequestState
from jit.request_extras import Extra, extra_field, extras_of
from jit.results import Reviewed
from jit.schedule_items import Kind, Sent, item

MAX_REVIEW_ROUNDS = 6
ANNOUNCE_RETRY = timedelta(seconds=5)


class BreakGlass:
    """The review use case and the ``glass``, ``review`` and ``reviewed`` items."""

    def __init__(self, deps: Deps):
        self.deps = deps

    async def acknowledge_review(self, request_id: str, user: str) -> Reviewed:
        """Someone other than the requester confirms they looked at a break-glass grant; stops its escalation."""
        deps = self.deps
        request = await deps.store.require(request_id)
        if not extras_of(request).break_glass:
            raise RequestRejected(f"Request `{request.id}` did not use break-glass, so it needs no review.")
        if user == request.requester or not (
            await deps.access.may_approve(user, request) or await deps.access.is_admin(user)
        ):
            await deps.store.record("review_refused", actor=user, request_id=request.id)
            raise NotAllowed("Only an approver of this VM or an admin (not the person who used it) can review it.")
        if extras_of(request).reviewed_by:
            return Reviewed(request, acted=False)
        now = deps.clock.now()
        step = BREAK_GLASS_REVIEW.step(extras_of(request).reviewed_by, Review.REVIEWED, user)
        result = await deps.store.update_fields(
            request.id,
            {**step.fields, extra_field(Extra.REVIEWED_AT): now.isoformat()},
            actor=user,
            event="break_glass_reviewed",
            expect_fields=step.expect,
            schedule={item(Kind.REVIEWED, request.id): now},
            unschedule=[item(Kind.REVIEW, request.id)],
        )
        if result.ok:
            deps.wake()
        return Reviewed(result.request, acted=result.ok)

    async def announce(self, request: AccessRequest) -> None:
        """Tell approvers and on-call once the grant is settled (active or failed), remembering the posts."""
        deps = self.deps
        if request.state is RequestState.APPROVED:
            await deps.schedule.add(item(Kind.GLASS, request.id), deps.clock.now() + ANNOUNCE_RETRY)
            return
        marker = Sent.break_glass(request.id)
        if await deps.schedule.is_done(marker):
            return
        references = await deps.notices.break_glass(request)
        await deps.schedule.mark_done(marker)
        await deps.store.update_fields(
            request.id,
            {extra_field(Extra.GLASS_POSTS): ",".join(references)},
            actor="jitbot",
            event="break_glass_announced",
        )

    async def review_due(self, request: AccessRequest) -> None:
        """Nobody has reviewed it in time: escalate again, up to ``MAX_REVIEW_ROUNDS`` rounds."""
        deps = self.deps
        extras = extras_of(request)
        if extras.reviewed_by:
            return
        rounds = extras.review_rounds + 1
        now = deps.clock.now()
        again = extras.review_within(deps.config.review_within)
        due = (request.decided_at or request.created_at) + again * rounds
        if now < due:
            await deps.schedule.add(item(Kind.REVIEW, request.id), due)
            return
        marker = Sent.review_overdue(request.id, rounds)
        if not await deps.schedule.is_done(marker):
            posted = await deps.notices.review_overdue(request, rounds)
            await deps.schedule.mark_done(marker)
            await self._remember_posts(request, posted)
        step = REVIEW_ROUNDS.step(rounds - 1).also(expect=BREAK_GLASS_REVIEW.unchanged(None))
        await deps.store.update_fields(
            request.id,
            step.fields,
            actor="jitbot",
            event="break_glass_review_overdue",
            audit={"round": str(rounds)},
            expect_fields=step.expect,
            schedule={item(Kind.REVIEW, request.id): due + again} if rounds < MAX_REVIEW_ROUNDS else {},
        )

    async def _remember_posts(self, request: AccessRequest, posted: Sequence[str]) -> None:
        """Remember the reminders (their button goes with the review); if it was reviewed meanwhile, they lose
        it at once."""
        current = await add_references(self.deps, request, Extra.REVIEW_REMINDERS, posted, "review_reminder_posted")
        if extras_of(current).reviewed_by:
            await self.deps.notices.review_done(current, (), posted)

    async def review_shown(self, request: AccessRequest) -> None:
        """Show on the announcements who reviewed it (once)."""
        marker = Sent.review_shown(request.id)
        if await self.deps.schedule.is_done(marker):
            return
        extras = extras_of(request)
        await self.deps.notices.review_done(request, extras.glass_posts, extras.review_reminders)
        await self.deps.schedule.mark_done(marker)
