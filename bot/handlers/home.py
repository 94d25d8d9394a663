"""The App Home tab: published when a user opens it, and republished whenever one of their requests changes.

Homes are refreshed only for people who have opened the tab at least once (remembered in Redis, so every
replica knows), which keeps a busy approval channel from costing one views.publish per workspace member.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Iterable
from typing import Any

from slack_bolt.context.ack.async_ack import AsyncAck

from bot.blocks.home import home_view
from bot.blocks.inventory import tab_counts
from bot.runtime import Runtime
from jit.admin import AdminService
from jit.model import AccessRequest, JitSupport, RequestState, VirtualMachine
from jit.ports import Notifier
from jit.principals import people

log = logging.getLogger(__name__)

MINE = (RequestState.PENDING, RequestState.APPROVED, RequestState.ACTIVE)


class HomePublisher:
    """Builds and publishes one user's Home from current state; safe to call as often as anything changes."""

    def __init__(self, runtime: Runtime, admin: AdminService):
        self.runtime = runtime
        self.admin = admin
        self.seen_key = runtime.store.keys.home_seen

    async def opened(self, user: str) -> None:
        """The user looked at the Home tab: remember them for later refreshes and publish it now."""
        await self.runtime.redis.sadd(self.seen_key, user)
        await self.publish(user)

    async def publish(self, user: str) -> None:
        """Publish ``user``'s Home: their open access, pending requests, approvals waiting, admin counts."""
        runtime = self.runtime
        now = runtime.clock.now()
        mine = await runtime.store.by_requester(user, MINE)
        awaiting = [r for r in await runtime.store.by_state(RequestState.PENDING) if await self._may_approve(user, r)]
        counts = await self._counts(user)
        shared = {r.id: await runtime.service.shared_with(r) for r in mine if r.state is RequestState.ACTIVE}
        view = home_view(
            now=now,
            active=[r for r in mine if r.state is not RequestState.PENDING],
            pending=[r for r in mine if r.state is RequestState.PENDING],
            awaiting_me=awaiting,
            counts=counts,
            shared=shared,
        )
        await runtime.slack.views_publish(user_id=user, view=view)

    async def refresh(self, users: Iterable[str]) -> None:
        """Republish the Homes of those ``users`` who have opened it; one failure never stops the others."""
        wanted = list(dict.fromkeys(u for u in users if u))
        if not wanted:
            return
        flags = await self.runtime.redis.smismember(self.seen_key, wanted)
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
        admins: list[str] = []
        for principal in self.admin.admins:
            if principal.startswith("S"):
                admins += sorted(await self.runtime.directory.group_members(principal))
            else:
                admins.append(principal)
        await self.refresh(admins)

    async def _approvers(self, request: AccessRequest) -> list[str]:
        stored = request.extra.get("approvers", "")
        principals = stored.split(",") if stored else self.runtime.router.route(VirtualMachine(request.vm)).approvers
        return await people(self.runtime.directory, principals)

    async def _may_approve(self, user: str, request: AccessRequest) -> bool:
        return await self.runtime.service.may_approve(user, request)

    async def _counts(self, user: str) -> dict[JitSupport, int] | None:
        if not await self.admin.is_admin(user):
            return None
        try:
            return tab_counts(await self.admin.inventory())
        except Exception as exc:
            log.warning("home.inventory_failed", extra={"error": type(exc).__name__})
            return None


class HomeRefreshingNotifier:
    """A Notifier that also refreshes the Homes of the people a request concerns after each notice.

    Every state change the use cases make is followed by one of these calls, so wrapping the notifier keeps
    Homes current without the use cases knowing Slack has a Home tab. Refresh failures are logged, never raised:
    a Home is a convenience and must not make the scheduler re-deliver a DM.
    """

    def __init__(self, inner: Notifier, home: HomePublisher):
        self.inner = inner
        self.home = home

    def __getattr__(self, name: str) -> Any:
        """Anything the Notifier grows later passes straight through (without a Home refresh until added here)."""
        return getattr(self.inner, name)

    async def post_card(self, request: AccessRequest) -> str:
        """Post the card, then show the new request to its approvers and requester."""
        ts = await self.inner.post_card(request)
        await self._refresh(request)
        return ts

    async def update_card(self, request: AccessRequest) -> None:
        """Update the card, then the Homes."""
        await self.inner.update_card(request)
        await self._refresh(request)

    async def tell_requester(self, request: AccessRequest) -> None:
        """Tell the requester, then refresh the Homes."""
        await self.inner.tell_requester(request)
        await self._refresh(request)

    async def reminder(self, request: AccessRequest) -> None:
        """Remind, then refresh (the time left moved)."""
        await self.inner.reminder(request)
        await self._refresh(request)

    async def expired(self, request: AccessRequest) -> None:
        """Announce the end of access, then refresh."""
        await self.inner.expired(request)
        await self._refresh(request)

    async def _refresh(self, request: AccessRequest) -> None:
        try:
            await self.home.refresh_for_request(request)
        except Exception as exc:
            log.warning("home.refresh_failed", extra={"jit_request": request.id, "error": type(exc).__name__})


def install_home_refresh(runtime: Runtime, home: HomePublisher) -> None:
    """Wrap the service's notifier once so every request change refreshes the Homes it concerns."""
    service = runtime.service
    if not isinstance(service.notifier, HomeRefreshingNotifier):
        service.notifier = HomeRefreshingNotifier(service.notifier, home)


class HomeHandlers:
    """``app_home_opened``: ack at once, publish in a lazy listener."""

    def __init__(self, home: HomePublisher):
        self.home = home

    async def ack(self, ack: AsyncAck) -> None:
        """Events only need a 200."""
        await ack()

    async def opened(self, body: dict[str, Any]) -> None:
        """Publish the Home when the user opens its tab (not the Messages tab)."""
        event = body.get("event") or {}
        user = str(event.get("user", ""))
        if not user or event.get("tab", "home") != "home":
            return
        try:
            await self.home.opened(user)
        except Exception as exc:
            log.warning("home.publish_failed", extra={"user": user, "error": type(exc).__name__})
