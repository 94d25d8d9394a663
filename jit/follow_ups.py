"""While a request waits: reminders to its approvers and, if its rule says so, one escalation.

Both run from schedule items (``nudge``, ``escalate``) planned when the request is made
(``pending_schedule``); each re-reads the request and does nothing once it is decided. The reminder count and
the escalation are compare-and-set steps from ``jit.flows``, so two replicas never send a round twice.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from jit.deps import Deps
from jit.flows import APPROVER_REMINDERS, ESCALATION, Escalation
from jit.model import AccessRequest, RequestState
from jit.principals import people
from jit.request_extras import Extra, Extras, extra_field, extras_of
from jit.routing import Route
from jit.schedule_items import Kind, Sent, item

MAX_ESCALATION_DMS = 25
"""The most people the escalated card is sent to by DM; a larger group decides on the card in the channel."""


def pending_schedule(route: Route, request_id: str, now: datetime, ttl: timedelta) -> dict[str, datetime]:
    """The card, the timeout, the first reminder to approvers and the escalation of a request that waits."""
    schedule = {item(Kind.TIMEOUT, request_id): now + ttl, item(Kind.CARD, request_id): now}
    if route.approver_reminders and route.approver_reminders[0] < ttl:
        schedule[item(Kind.NUDGE, request_id)] = now + route.approver_reminders[0]
    if route.escalation is not None and route.escalation.after < ttl:
        schedule[item(Kind.ESCALATE, request_id)] = now + route.escalation.after
    return schedule


class FollowUps:
    """The ``nudge`` and ``escalate`` items."""

    def __init__(self, deps: Deps):
        self.deps = deps

    async def nudge(self, request: AccessRequest) -> None:
        """Remind the approvers (round by round, as the rule's waits say) that the request still waits; never before
        its card is posted."""
        deps = self.deps
        if request.state is not RequestState.PENDING:
            await deps.notices.nudge_withdrawn(request)
            return
        extras = extras_of(request)
        waits = extras.reminders
        sent = extras.nudges
        if sent >= len(waits):
            return
        now = deps.clock.now()
        due = request.created_at + sum(waits[: sent + 1], timedelta())
        if now < due:
            await deps.schedule.add(item(Kind.NUDGE, request.id), due)
            return
        if not request.card_ts:
            # Nobody has seen the card yet (its channel is working through a backlog): a reminder would point at
            # nothing, so this round waits one more of its waits.
            await deps.schedule.add(item(Kind.NUDGE, request.id), now + waits[sent])
            return
        marker = Sent.nudge(request.id, sent)
        if not await deps.schedule.is_done(marker):
            await deps.notices.nudge_approvers(request, now - request.created_at)
            await deps.schedule.mark_done(marker)
        follow = {item(Kind.NUDGE, request.id): due + waits[sent + 1]} if sent + 1 < len(waits) else {}
        step = APPROVER_REMINDERS.step(sent)
        await deps.store.update_fields(
            request.id,
            step.fields,
            actor="jitbot",
            event="approvers_reminded",
            audit={"round": str(sent + 1)},
            expect_states={RequestState.PENDING},
            expect_fields=step.expect,
            schedule=follow,
        )

    async def escalate(self, request: AccessRequest) -> None:
        """Widen the approvers to the escalation group (once), then post the escalated copy of the card (once)."""
        if request.state is not RequestState.PENDING:
            return
        deps = self.deps
        extras = extras_of(request)
        if not extras.escalated:
            request = await self._widen(request, extras)
            if request.state is not RequestState.PENDING:
                return
        marker = Sent.escalation(request.id)
        if await deps.schedule.is_done(marker):
            return
        deciders = await self._deciders(request)
        posted = await deps.notices.escalate(request, deciders)
        await deps.schedule.mark_done(marker)
        await deps.store.update_fields(
            request.id,
            {
                extra_field(Extra.ESCALATION_CARD): posted.channel_copy,
                extra_field(Extra.ESCALATION_DMS): ",".join(posted.decider_dms) or None,
            },
            actor="jitbot",
            event="escalation_posted",
            audit={"dms": str(len(posted.decider_dms))},
        )

    async def _deciders(self, request: AccessRequest) -> list[str]:
        """Who gets the escalated card with its buttons by DM: the people the escalation names (groups expanded),
        never the requester, at most ``MAX_ESCALATION_DMS`` (the rest decide on the card in the channel)."""
        named = await people(self.deps.directory, extras_of(request).escalate_to)
        return [user for user in named if user != request.requester][:MAX_ESCALATION_DMS]

    async def _widen(self, request: AccessRequest, extras: Extras) -> AccessRequest:
        widened = tuple(dict.fromkeys((*extras.approvers, *extras.escalate_to)))
        step = ESCALATION.step(None, Escalation.ESCALATED)
        result = await self.deps.store.update_fields(
            request.id,
            {**step.fields, extra_field(Extra.APPROVERS): ",".join(widened)},
            actor="jitbot",
            event="escalated",
            audit={"escalated_to": ",".join(extras.escalate_to), "channel": extras.escalate_channel},
            expect_states={RequestState.PENDING},
            expect_fields=step.expect,
        )
        return result.request
