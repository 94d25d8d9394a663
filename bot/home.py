"""The App Home tab: published when a user opens it, and republished whenever one of their requests changes.

Homes are refreshed only for people who have opened the tab at least once (remembered in Redis, so every
replica knows), which keeps a busy approval channel from costing one views.publish per workspace member.
``HomeRefreshingNotifier`` wraps both notifier ports once, in the composition root, so every message the use
cases send about a request is followed by a refresh of the Homes it concerns.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import timedelta

from slack_sdk.web.async_client import AsyncWebClient

from bot.blocks.home import home_view
from bot.blocks.inventory import tab_counts
from bot.lifecycle_notifier import SlackLifecycleNotifier
from jit.admin import AdminService
from jit.authorisation import Authorisation
from jit.clock import Clock
from jit.granting import Granting
from jit.model import AccessRequest, EscalatedCopies, JitSupport, OutsideAccess, RequestState, VirtualMachine
from jit.ports import Directory
from jit.ports.records import RequestRecords
from jit.principals import people
from jit.redis_connect import RedisClient
from jit.request_extras import extras_of
from jit.routing import Router

log = logging.getLogger(__name__)

MINE = (RequestState.PENDING, RequestState.APPROVED, RequestState.ACTIVE)


@dataclass(frozen=True)
class HomeParts:
    """What a Home is built from."""

    slack: AsyncWebClient
    redis: RedisClient
    seen_key: str
    store: RequestRecords
    clock: Clock
    directory: Directory
    router: Router
    access: Authorisation
    granting: Granting
    admin: AdminService


class HomePublisher:
    """Builds and publishes one user's Home from current state; safe to call as often as anything changes."""

    def __init__(self, parts: HomeParts):
        self.parts = parts

    async def opened(self, user: str) -> None:
        """The user looked at the Home tab: remember them for later refreshes and publish it now."""
        await self.parts.redis.sadd(self.parts.seen_key, user)
        await self.publish(user)

    async def publish(self, user: str) -> None:
        """Publish ``user``'s Home: their open access, pending requests, approvals waiting, admin counts."""
        parts = self.parts
        now = parts.clock.now()
        mine = await parts.store.by_requester(user, MINE)
        waiting = await parts.store.by_state(RequestState.PENDING)
        awaiting = [r for r in waiting if await parts.access.may_approve(user, r)]
        counts = await self._counts(user)
        shared = {r.id: await parts.granting.shared_with(r) for r in mine if r.state is RequestState.ACTIVE}
        view = home_view(
            now=now,
            active=[r for r in mine if r.state is not RequestState.PENDING],
            pending=[r for r in mine if r.state is RequestState.PENDING],
            awaiting_me=awaiting,
            counts=counts,
            shared=shared,
        )
        await parts.slack.views_publish(user_id=user, view=view)

    async def refresh(self, users: Iterable[str]) -> None:
        """Republish the Homes of those ``users`` who have opened it; one failure never stops the others."""
        wanted = list(dict.fromkeys(u for u in users if u))
        if not wanted:
            return
        flags = await self.parts.redis.smismember(self.parts.seen_key, wanted)
        seen = [user for user, flag in zip(wanted, flags, strict=True) if flag]
        results = await asyncio.gather(*(self.publish(user) for user in seen), return_exceptions=True)
        for user, result in zip(seen, results, strict=True):
            if isinstance(result, Exception):
                log.warning("home.publish_failed", extra={"user": user, "error": type(result).__name__})

    async def refresh_for_request(self, request: AccessRequest) -> None:
        """A request changed: its requester and everyone who may approve it see a fresh Home."""
        await self.refresh([request.requester, *await self._approvers(request)])

    async def refresh_admins(self) -> None:
        """A policy changed: the admins' inventory counts moved."""
        await self.refresh(await people(self.parts.directory, self.parts.admin.admins))

    async def _approvers(self, request: AccessRequest) -> list[str]:
        principals = extras_of(request).approvers or self.parts.router.route(VirtualMachine(request.vm)).approvers
        return await people(self.parts.directory, principals)

    async def _counts(self, user: str) -> dict[JitSupport, int] | None:
        if not await self.parts.admin.is_admin(user):
            return None
        try:
            return tab_counts(await self.parts.admin.inventory())
        except Exception as exc:
            log.warning("home.inventory_failed", extra={"error": type(exc).__name__})
            return None


class HomeRefreshingNotifier:
    """Both notifier ports on Slack, each message about a request followed by a refresh of the Homes it concerns.

    Refresh failures are logged, never raised: a Home is a convenience and must not make the scheduler
    re-deliver a DM.
    """

    def __init__(self, inner: SlackLifecycleNotifier, home: HomePublisher):
        self.inner = inner
        self.home = home

    async def post_card(self, request: AccessRequest) -> str:
        """Post the card, then show the new request to its approvers and requester."""
        ts = await self.inner.post_card(request)
        await self._refresh(request)
        return ts

    async def update_card(self, request: AccessRequest) -> None:
        """Update the card, then the Homes."""
        await self.inner.update_card(request)
        await self._refresh(request)

    async def tell_requester(self, request: AccessRequest) -> list[str]:
        """Tell the requester, then refresh."""
        posted = await self.inner.tell_requester(request)
        await self._refresh(request)
        return posted

    async def reminder(self, request: AccessRequest) -> list[str]:
        """Remind, then refresh (the time left moved)."""
        posted = await self.inner.reminder(request)
        await self._refresh(request)
        return posted

    async def retire_buttons(self, request: AccessRequest, references: Sequence[str]) -> None:
        """Strip the ended grant's buttons (the Homes were refreshed with the state change)."""
        await self.inner.retire_buttons(request, references)

    async def expired(self, request: AccessRequest) -> None:
        """Announce the end of access, then refresh."""
        await self.inner.expired(request)
        await self._refresh(request)

    async def extension_card(self, request: AccessRequest) -> str:
        """Post or re-render the extension's card, then refresh."""
        reference = await self.inner.extension_card(request)
        await self._refresh(request)
        return reference

    async def extension_outcome(self, request: AccessRequest) -> None:
        """Tell the extension's outcome, then refresh."""
        await self.inner.extension_outcome(request)
        await self._refresh(request)

    async def nudge_approvers(self, request: AccessRequest, waited: timedelta) -> None:
        """Remind the approvers, then refresh."""
        await self.inner.nudge_approvers(request, waited)
        await self._refresh(request)

    async def nudge_withdrawn(self, request: AccessRequest) -> None:
        """Give up the reminder's turn (nothing is posted, so no Home changes)."""
        await self.inner.nudge_withdrawn(request)

    async def escalate(self, request: AccessRequest, deciders: Sequence[str]) -> EscalatedCopies:
        """Post the escalated copies, then refresh (the escalation group now sees the request as theirs)."""
        posted = await self.inner.escalate(request, deciders)
        await self._refresh(request)
        return posted

    async def update_copy(self, request: AccessRequest, posted: EscalatedCopies) -> None:
        """Re-render the escalated copies, then refresh."""
        await self.inner.update_copy(request, posted)
        await self._refresh(request)

    async def break_glass(self, request: AccessRequest) -> list[str]:
        """Announce break-glass access, then refresh."""
        references = await self.inner.break_glass(request)
        await self._refresh(request)
        return references

    async def review_overdue(self, request: AccessRequest, round_number: int) -> list[str]:
        """Escalate an overdue review, then refresh."""
        references = await self.inner.review_overdue(request, round_number)
        await self._refresh(request)
        return references

    async def review_done(self, request: AccessRequest, announcements: Sequence[str], reminders: Sequence[str]) -> None:
        """Show the review, then refresh."""
        await self.inner.review_done(request, announcements, reminders)
        await self._refresh(request)

    async def revoked(self, request: AccessRequest) -> None:
        """Tell on-call of the early close, then refresh."""
        await self.inner.revoked(request)
        await self._refresh(request)

    async def superseded(self, request: AccessRequest) -> None:
        """Tell on-call a newer grant took every port, then refresh."""
        await self.inner.superseded(request)
        await self._refresh(request)

    async def ports_lost(self, request: AccessRequest) -> None:
        """Tell the holder which ports closed, then refresh."""
        await self.inner.ports_lost(request)
        await self._refresh(request)

    async def outside_closed(self, request: AccessRequest) -> None:
        """Tell on-call whose outside access this grant closed, then refresh."""
        await self.inner.outside_closed(request)
        await self._refresh(request)

    async def outside_access(self, sighting: OutsideAccess) -> None:
        """Tell on-call of access opened outside jitbot (no jitbot request, so no Home changes)."""
        await self.inner.outside_access(sighting)

    async def _refresh(self, request: AccessRequest) -> None:
        try:
            await self.home.refresh_for_request(request)
        except Exception as exc:
            log.warning("home.refresh_failed", extra={"jit_request": request.id, "error": type(exc).__name__})
