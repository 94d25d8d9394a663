"""The end of access: a reminder before it closes, and ``active → expired`` when it has.

The reminder first checks the grant against Azure (``jit.azure_sync``), so nobody is reminded of access Azure
already closed. Expiry compares-and-sets on ``ends_at``: an extension that moved the end meanwhile wins, and the
expiry waits for the new end.
"""

from __future__ import annotations

from jit.azure_sync import AzureSync
from jit.button_posts import remember_posts, retire_buttons
from jit.deps import Deps
from jit.model import AccessRequest, RequestState
from jit.schedule_items import Kind, Sent, item


class Ending:
    """``remind`` and ``expire`` items."""

    def __init__(self, deps: Deps, sync: AzureSync):
        self.deps = deps
        self.sync = sync

    async def remind(self, request: AccessRequest) -> None:
        """Access closes soon: remind the requester and on-call once per end time."""
        deps = self.deps
        marker = Sent.reminder(request.id, request.ends_at)
        if request.state is not RequestState.ACTIVE or await deps.schedule.is_done(marker):
            return
        request = await self.sync.check_grant(request)
        if request.state is RequestState.ACTIVE:
            await remember_posts(deps, request, await deps.notifier.reminder(request))
            await deps.schedule.mark_done(marker)

    async def expire(self, request: AccessRequest) -> None:
        """``active → expired`` at its end (or later, when the end moved), strip the Extend / Close buttons, then
        announce it once."""
        deps = self.deps
        if request.state is RequestState.ACTIVE:
            if request.ends_at and request.ends_at > deps.clock.now():
                await deps.schedule.add(item(Kind.EXPIRE, request.id), request.ends_at)
                return
            result = await deps.store.transition(
                request.id, RequestState.EXPIRED, actor="jitbot", expect_fields={"ends_at": request.ends_at}
            )
            request = result.request
        if request.state is not RequestState.EXPIRED:
            return
        await retire_buttons(deps, request)
        marker = Sent.expired(request.id)
        if await deps.schedule.is_done(marker):
            return
        if request.card_ts:
            await deps.notifier.update_card(request)
        await deps.notifier.expired(request)
        await deps.schedule.mark_done(marker)
