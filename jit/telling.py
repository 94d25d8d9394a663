"""Telling people what happened to a request, from durable schedule items.

Each message goes out from a schedule item (``card``, ``outcome``, ``queued``, ``lost``, ``displaced``) so a
crash after a state change still delivers it; a ``Sent`` marker keeps a repeat from sending it twice, and every
message is rendered from the request's current state.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable

from jit.button_posts import remember_posts, retire_buttons
from jit.card_context import (
    GRANTED_STATES,
    card_context_extras,
    has_card_context,
    requester_history,
    with_card_context,
)
from jit.deps import Deps
from jit.model import AccessRequest, RequestState
from jit.request_extras import extras_of
from jit.schedule_items import Sent

_Send = Callable[[AccessRequest], Awaitable[object]]


class Telling:
    """The card, the requester's DM, on-call's notices."""

    def __init__(self, deps: Deps):
        self.deps = deps

    async def card(self, request: AccessRequest) -> None:
        """Post the approval card once (remembering where), or re-render it and its escalated copies (an approval
        towards a quorum shows on every copy)."""
        deps = self.deps
        if request.card_ts:
            await deps.notifier.update_card(request)
            copies = extras_of(request).escalation_copies
            if copies is not None:
                await deps.notices.update_copy(request, copies)
            return
        context: dict[str, str] = {}
        if not has_card_context(request):
            request, context = await self._take_card_context(request)
        ts = await deps.notifier.post_card(request)
        await deps.store.update_fields(request.id, {"card_ts": ts, **context}, actor="jitbot", event="card_posted")

    async def _take_card_context(self, request: AccessRequest) -> tuple[AccessRequest, dict[str, str]]:
        """Read the VM's security context and the requester's history (both at once) for the card; they are kept
        with the request in the same write as the card's ts, so a card that is on record always has them."""
        deps = self.deps
        security, opened = await asyncio.gather(
            deps.azure.security_context(request.vm), deps.store.by_requester(request.requester, GRANTED_STATES)
        )
        history = requester_history(opened, request, deps.clock.now())
        return with_card_context(request, security, history), card_context_extras(security, history)

    async def outcome(self, request: AccessRequest) -> None:
        """The card shows the current state; the requester hears the outcome once; the escalated copy of the
        card follows; on-call hears of early closes and superseded grants once; once access has ended, no post
        keeps its Extend / Close buttons."""
        deps = self.deps
        if request.card_ts:
            await deps.notifier.update_card(request)
        marker = Sent.outcome(request.state.value, request.id)
        if not await deps.schedule.is_done(marker):
            await remember_posts(deps, request, await deps.notifier.tell_requester(request))
            await deps.schedule.mark_done(marker)
        copies = extras_of(request).escalation_copies
        if copies is not None:
            await deps.notices.update_copy(request, copies)
        if request.state is RequestState.REVOKED:
            await self._once(Sent.revoked_to_on_call(request.id), deps.notices.revoked, request)
        if request.state is RequestState.SUPERSEDED:
            await self._once(Sent.superseded_to_on_call(request.id), deps.notices.superseded, request)
        await retire_buttons(deps, request)

    async def queued(self, request: AccessRequest) -> None:
        """Tell the requester (and the card) that the approved request waits for the port."""
        until = extras_of(request).queued_until_raw
        if request.state is not RequestState.APPROVED or not until:
            return
        if request.card_ts:
            await self.deps.notifier.update_card(request)
        await self._once(Sent.queued(request.id, until), self.deps.notifier.tell_requester, request)

    async def ports_lost(self, request: AccessRequest) -> None:
        """A newer grant took some of this grant's ports: the card and the holder learn which."""
        if request.state is not RequestState.ACTIVE or not request.lost_ports:
            return
        losses = extras_of(request).losses
        marker = Sent.ports_lost(request.id, str(losses) if losses else "")
        if await self.deps.schedule.is_done(marker):
            return
        if request.card_ts:
            await self.deps.notifier.update_card(request)
        await self.deps.notices.ports_lost(request)
        await self.deps.schedule.mark_done(marker)

    async def outside_closed(self, request: AccessRequest) -> None:
        """This grant closed access someone had opened outside jitbot: on-call hears whose."""
        await self._once(Sent.outside_closed(request.id), self.deps.notices.outside_closed, request)

    async def _once(self, marker: str, send: _Send, request: AccessRequest) -> None:
        if await self.deps.schedule.is_done(marker):
            return
        await send(request)
        await self.deps.schedule.mark_done(marker)
