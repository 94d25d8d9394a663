"""What happens to a request besides approve/deny: early revoke, reminders and escalation while it waits, and
the post-hoc review of break-glass access.

Every effect on people runs from a durable schedule item (``nudge:``, ``escalate:``, ``glass:``, ``review:``,
``reviewed:``, ``close:``) so it survives restarts and runs once across replicas; each handler re-reads the
request and does nothing when the request has moved on. State changes go through the store's atomic steps,
so concurrent revokes, expiry and extensions end in exactly one outcome.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

from jit import extras
from jit.autoapprove import member_of
from jit.errors import NotAllowed, RequestRejected, UnknownRequest
from jit.granting import VmBusy
from jit.hints import Command, command_hint
from jit.model import AccessRequest, RequestState
from jit.ports import LifecycleNotifier
from jit.ports.azure_errors import AzureJitError
from jit.routing import Route

if TYPE_CHECKING:
    from jit.service import JitService

log = logging.getLogger(__name__)

CLOSE_RETRY = timedelta(seconds=30)
MAX_REVIEW_ROUNDS = 6
DueHandler = Callable[[AccessRequest], Awaitable[None]]


@dataclass(frozen=True)
class Revoked:
    """The result of a revoke: ``acted`` False when the access had already ended (someone else won).

    ``closed`` says whether the NSG rules were removed already; when False, jitbot keeps retrying.
    """

    request: AccessRequest
    acted: bool
    closed: bool = False


@dataclass(frozen=True)
class Reviewed:
    """The result of acknowledging a break-glass review: ``acted`` False when someone already had."""

    request: AccessRequest
    acted: bool


def pending_schedule(route: Route, request_id: str, now: datetime, ttl: timedelta) -> dict[str, datetime]:
    """The card, the timeout, the first reminder to approvers and the escalation of a request that waits."""
    schedule = {f"timeout:{request_id}": now + ttl, f"card:{request_id}": now}
    if route.approver_reminders and route.approver_reminders[0] < ttl:
        schedule[f"nudge:{request_id}"] = now + route.approver_reminders[0]
    if route.escalation is not None and route.escalation.after < ttl:
        schedule[f"escalate:{request_id}"] = now + route.escalation.after
    return schedule


class Lifecycle:
    """Revoke, follow-ups of pending requests, and break-glass reviews, on the service's store and ports."""

    def __init__(self, service: JitService, notices: LifecycleNotifier, wake: Callable[[], None]):
        self.service = service
        self.notices = notices
        self._wake = wake

    def handlers(self) -> Mapping[str, DueHandler]:
        """The schedule item kinds this part handles."""
        return {
            "nudge": self._nudge,
            "escalate": self._escalate,
            "glass": self._announce_break_glass,
            "review": self._review_due,
            "reviewed": self._review_acknowledged,
            "close": self._close,
            "lost": self._tell_lost,
            "displaced": self._tell_outside_closed,
        }

    async def check_break_glass(self, requester: str, route: Route, label: str) -> None:
        """Refuse (and audit) ``--break-glass`` from anyone outside the VM's break-glass group."""
        if route.break_glass and await member_of(self.service.directory, requester, route.break_glass):
            return
        await self.service.store.record("break_glass_refused", actor=requester, request_id=None, detail={"vm": label})
        raise NotAllowed(
            f"You are not in the break-glass group for `{label}` (rule `{route.name}`), so `--break-glass` cannot "
            "be used. Ask for access without it and an approver will decide."
        )

    async def revoke(self, request_id: str, user: str) -> Revoked:
        """Close access early: the requester, an approver of the VM or an admin; one outcome however many click."""
        service = self.service
        request = await self._get(request_id)
        if not await self._may_revoke(user, request):
            await service.store.record("revoke_refused", actor=user, request_id=request.id)
            raise NotAllowed(
                f"Only the person who asked, an approver of `{request.vm.name}` or an admin can close this access."
            )
        if request.state is RequestState.PENDING:
            raise RequestRejected(
                f"Request `{request.id}` is still waiting for approval, so nothing is open yet.",
                command_hint(Command.CANCEL, request.id),
            )
        if request.state is RequestState.APPROVED:
            raise RequestRejected(f"Access to `{request.vm.name}` is being opened right now; try again in a moment.")
        if request.state is not RequestState.ACTIVE:
            return Revoked(request, acted=False)
        now = service.clock.now()
        schedule = {f"close:{request.id}": now + CLOSE_RETRY}
        if extras.extension(request).open:
            schedule[f"exttimeout:{request.id}"] = now
        result = await service.store.transition(
            request.id,
            RequestState.REVOKED,
            actor=user,
            fields={"decided_at": now, extras.key(extras.REVOKED_BY): user},
            schedule=schedule,
            unschedule=[f"remind:{request.id}", f"expire:{request.id}"],
            audit={"revoked_by": user},
        )
        if not result.ok:
            return Revoked(result.request, acted=False)
        closed = await self._close_now(result.request)
        self._wake()
        return Revoked(result.request, acted=True, closed=closed)

    async def acknowledge_review(self, request_id: str, user: str) -> Reviewed:
        """Someone other than the requester confirms they looked at a break-glass grant; stops its escalation."""
        service = self.service
        request = await self._get(request_id)
        if not extras.is_break_glass(request):
            raise RequestRejected(f"Request `{request.id}` did not use break-glass, so it needs no review.")
        if user == request.requester or not (await service.may_approve(user, request) or await self._is_admin(user)):
            await service.store.record("review_refused", actor=user, request_id=request.id)
            raise NotAllowed("Only an approver of this VM or an admin (not the person who used it) can review it.")
        now = service.clock.now()
        result = await service.store.update_fields(
            request.id,
            {extras.key(extras.REVIEWED_BY): user, extras.key(extras.REVIEWED_AT): now.isoformat()},
            actor=user,
            event="break_glass_reviewed",
            expect_fields={extras.key(extras.REVIEWED_BY): None},
            schedule={f"reviewed:{request.id}": now},
            unschedule=[f"review:{request.id}"],
        )
        if result.ok:
            self._wake()
        return Reviewed(result.request, acted=result.ok)

    async def after_outcome(self, request: AccessRequest) -> None:
        """Called with every announced outcome: refresh the escalated copy of the card, tell on-call of revokes."""
        reference = request.extra.get(extras.ESCALATION_CARD)
        if reference:
            await self.notices.update_copy(request, reference)
        if request.state is RequestState.REVOKED:
            marker = f"revoked_oncall:{request.id}"
            if not await self.service.schedule.is_done(marker):
                await self.notices.revoked(request)
                await self.service.schedule.mark_done(marker)
        if request.state is RequestState.SUPERSEDED:
            marker = f"superseded_oncall:{request.id}"
            if not await self.service.schedule.is_done(marker):
                await self.notices.superseded(request)
                await self.service.schedule.mark_done(marker)

    async def _nudge(self, request: AccessRequest) -> None:
        if request.state is not RequestState.PENDING:
            return
        waits = extras.reminders(request)
        sent = int(request.extra.get(extras.NUDGES, "0") or 0)
        if sent >= len(waits):
            return
        schedule = self.service.schedule
        now = self.service.clock.now()
        due = request.created_at + sum(waits[: sent + 1], timedelta())
        if now < due:
            await schedule.add(f"nudge:{request.id}", due)
            return
        marker = f"nudged:{request.id}:{sent}"
        if not await schedule.is_done(marker):
            await self.notices.nudge_approvers(request, now - request.created_at)
            await schedule.mark_done(marker)
        follow = {f"nudge:{request.id}": due + waits[sent + 1]} if sent + 1 < len(waits) else {}
        await self.service.store.update_fields(
            request.id,
            {extras.key(extras.NUDGES): str(sent + 1)},
            actor="jitbot",
            event="approvers_reminded",
            audit={"round": str(sent + 1)},
            expect_states={RequestState.PENDING},
            expect_fields={extras.key(extras.NUDGES): str(sent) if sent else None},
            schedule=follow,
        )

    async def _escalate(self, request: AccessRequest) -> None:
        if request.state is not RequestState.PENDING:
            return
        store = self.service.store
        if request.extra.get(extras.ESCALATED) != extras.TRUE:
            widened = tuple(
                dict.fromkeys((*extras.approvers(request), *extras.csv(request.extra.get(extras.ESCALATE_TO, ""))))
            )
            result = await store.update_fields(
                request.id,
                {extras.key(extras.ESCALATED): extras.TRUE, extras.key(extras.APPROVERS): ",".join(widened)},
                actor="jitbot",
                event="escalated",
                audit={
                    "escalated_to": request.extra.get(extras.ESCALATE_TO, ""),
                    "channel": request.extra.get(extras.ESCALATE_CHANNEL, ""),
                },
                expect_states={RequestState.PENDING},
                expect_fields={extras.key(extras.ESCALATED): None},
            )
            request = result.request
            if request.state is not RequestState.PENDING:
                return
        marker = f"escalated:{request.id}"
        if await self.service.schedule.is_done(marker):
            return
        reference = await self.notices.escalate(request, self.service.clock.now() - request.created_at)
        await self.service.schedule.mark_done(marker)
        await store.update_fields(
            request.id, {extras.key(extras.ESCALATION_CARD): reference}, actor="jitbot", event="escalation_posted"
        )

    async def _announce_break_glass(self, request: AccessRequest) -> None:
        if request.state is RequestState.APPROVED:
            await self._retry_soon(f"glass:{request.id}")
            return
        marker = f"glass_told:{request.id}"
        if await self.service.schedule.is_done(marker):
            return
        references = await self.notices.break_glass(request)
        await self.service.schedule.mark_done(marker)
        await self.service.store.update_fields(
            request.id,
            {extras.key(extras.GLASS_POSTS): ",".join(references)},
            actor="jitbot",
            event="break_glass_announced",
        )

    async def _review_due(self, request: AccessRequest) -> None:
        if request.extra.get(extras.REVIEWED_BY):
            return
        rounds = int(request.extra.get(extras.REVIEW_ROUNDS, "0") or 0) + 1
        now = self.service.clock.now()
        again = extras.review_within(request, self.service.config.review_within)
        due = (request.decided_at or request.created_at) + again * rounds
        if now < due:
            await self.service.schedule.add(f"review:{request.id}", due)
            return
        marker = f"review_overdue:{request.id}:{rounds}"
        if not await self.service.schedule.is_done(marker):
            await self.notices.review_overdue(request, rounds)
            await self.service.schedule.mark_done(marker)
        await self.service.store.update_fields(
            request.id,
            {extras.key(extras.REVIEW_ROUNDS): str(rounds)},
            actor="jitbot",
            event="break_glass_review_overdue",
            audit={"round": str(rounds)},
            expect_fields={
                extras.key(extras.REVIEWED_BY): None,
                extras.key(extras.REVIEW_ROUNDS): str(rounds - 1) if rounds > 1 else None,
            },
            schedule={f"review:{request.id}": due + again} if rounds < MAX_REVIEW_ROUNDS else {},
        )

    async def _review_acknowledged(self, request: AccessRequest) -> None:
        marker = f"review_shown:{request.id}"
        if await self.service.schedule.is_done(marker):
            return
        await self.notices.review_done(request, extras.csv(request.extra.get(extras.GLASS_POSTS, "")))
        await self.service.schedule.mark_done(marker)

    async def _close(self, request: AccessRequest) -> None:
        if request.state is RequestState.REVOKED and not await self._close_now(request):
            raise RuntimeError(f"closing access for {request.id} failed; the scheduler retries")

    async def _close_now(self, request: AccessRequest) -> bool:
        """Close the request's access without closing anyone else's (``Granting.close``); on success announce the
        outcome, else leave the retry."""
        service = self.service
        closed_by = request.extra.get(extras.REVOKED_BY) or "jitbot"
        try:
            plan = await service.granting.close(request, closed_by=closed_by)
        except (AzureJitError, VmBusy) as exc:
            log.warning("azure.close_access_failed", extra={"request_id": request.id, "error": type(exc).__name__})
            return False
        marker = f"closed:{request.id}"
        if not await service.schedule.is_done(marker):
            await service.store.record(
                "access_closed",
                actor="jitbot",
                request_id=request.id,
                detail={
                    "rules_removed_for_ports": ",".join(map(str, plan.delete)),
                    "shortened_for_others": ",".join(f"{p}:{at.isoformat()}" for p, at in sorted(plan.shorten.items())),
                    "already_taken": ",".join(map(str, plan.lost)),
                },
            )
            await service.schedule.mark_done(marker)
        await service.schedule.update({f"outcome:{request.id}": service.clock.now()}, remove=[f"close:{request.id}"])
        self._wake()
        return True

    async def _tell_lost(self, request: AccessRequest) -> None:
        if request.state is not RequestState.ACTIVE or not request.lost_ports:
            return
        marker = f"lost_told:{request.id}:{request.extra.get(extras.LOST_SEQ, '')}"
        if not await self.service.schedule.is_done(marker):
            if request.card_ts:
                await self.service.notifier.update_card(request)
            await self.notices.ports_lost(request)
            await self.service.schedule.mark_done(marker)

    async def _tell_outside_closed(self, request: AccessRequest) -> None:
        marker = f"outside_closed_told:{request.id}"
        if not await self.service.schedule.is_done(marker):
            await self.notices.outside_closed(request)
            await self.service.schedule.mark_done(marker)

    async def _retry_soon(self, key: str) -> None:
        await self.service.schedule.add(key, self.service.clock.now() + timedelta(seconds=5))

    async def _may_revoke(self, user: str, request: AccessRequest) -> bool:
        if user == request.requester:
            return True
        return await self.service.may_approve(user, request) or await self._is_admin(user)

    async def _is_admin(self, user: str) -> bool:
        return await member_of(self.service.directory, user, self.service.config.admins)

    async def _get(self, request_id: str) -> AccessRequest:
        request = await self.service.store.get(request_id)
        if request is None:
            raise UnknownRequest(request_id)
        return request
