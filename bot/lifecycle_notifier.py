"""``jit.ports.LifecycleNotifier`` on the Slack Web API, sharing the plain notifier's client, DMs and metrics."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import timedelta

from bot.blocks.common import Message
from bot.blocks.lifecycle import (
    break_glass_announcement,
    escalation_card,
    escalation_dm,
    escalation_note,
    extension_card,
    extension_outcome_notice,
    nudge_message,
    review_overdue_message,
    review_reminder_done,
)
from bot.blocks.notices import revoked_notice
from bot.blocks.sharing import lost_ports_notice, outside_access_notice, outside_closed_notice, superseded_notice
from bot.card_pacing import REPLY
from bot.notifier import SlackNotifier
from jit.model import AccessRequest, EscalatedCopies, OutsideAccess
from jit.request_extras import extras_of


def reference(channel: str, ts: str) -> str:
    """How a posted message is remembered in ``request.extra``: ``"<channel> <ts>"``."""
    return f"{channel} {ts}"


def parse_reference(value: str) -> tuple[str, str] | None:
    """``(channel, ts)`` from a stored reference; None when malformed."""
    channel, _, ts = value.strip().partition(" ")
    return (channel, ts) if channel and ts else None


class SlackLifecycleNotifier(SlackNotifier):
    """Both notifier ports on one Slack client: the request's outcomes and the lifecycle around them."""

    async def extension_card(self, request: AccessRequest) -> str:
        """Post the extension card in the request's approval channel, or re-render it where it is."""
        ext = extras_of(request).extension
        posted = parse_reference(ext.card) if ext.card else None
        card = extension_card(request)
        if posted is not None:
            await self._call("chat.update", channel=posted[0], ts=posted[1], **card.as_kwargs())
            return reference(*posted)
        return await self._post_ref(request.card_channel or self.settings.approval_channel, card)

    async def extension_outcome(self, request: AccessRequest) -> None:
        """Tell the requester their extension was not granted."""
        await self._dm(request.requester, extension_outcome_notice(request))

    async def nudge_approvers(self, request: AccessRequest, waited: timedelta) -> None:
        """Reply in the card's thread, mentioning the approvers, at its turn in the channel (a reply counts against
        Slack's posting limit like a card; raises ChannelBusy until its turn)."""
        channel = request.card_channel or self.settings.approval_channel
        arguments: dict[str, object] = {**nudge_message(request, waited).as_kwargs(), "thread_ts": request.card_ts}
        await self._paced_post(channel, f"{REPLY}{request.id}", request.vm.name, arguments)

    async def nudge_withdrawn(self, request: AccessRequest) -> None:
        """The reminder's place in the channel's queue goes to the cards behind it."""
        self.pacer.cancel(request.card_channel or self.settings.approval_channel, f"{REPLY}{request.id}")

    async def escalate(self, request: AccessRequest, deciders: Sequence[str]) -> EscalatedCopies:
        """Post the escalated copy, without decision buttons, in the escalation channel (or again in the approval
        channel), note it in the card's thread, and DM the card with its buttons to each of ``deciders``."""
        approval_channel = request.card_channel or self.settings.approval_channel
        channel = extras_of(request).escalate_channel or approval_channel
        posted = await self._post_ref(channel, escalation_card(request, with_dms=bool(deciders)))
        if request.card_ts:
            await self._post_ref(approval_channel, escalation_note(request, channel), thread_ts=request.card_ts)
        dms = [await self._dm_ref(user, escalation_dm(request)) for user in deciders]
        return EscalatedCopies(posted, tuple(dms))

    async def update_copy(self, request: AccessRequest, posted: EscalatedCopies) -> None:
        """Re-render the escalated copies for the current state (the DMs' buttons go once it is decided)."""
        copies = [(posted.channel_copy, escalation_card(request, with_dms=bool(posted.decider_dms)))]
        copies += [(dm, escalation_dm(request)) for dm in posted.decider_dms]
        for value, card in copies:
            where = parse_reference(value)
            if where is not None:
                await self._call("chat.update", channel=where[0], ts=where[1], **card.as_kwargs())

    async def break_glass(self, request: AccessRequest) -> list[str]:
        """Announce in the approval channel and the on-call channel, each with the review button."""
        channels = [request.card_channel or self.settings.approval_channel]
        if self.settings.oncall_channel and self.settings.oncall_channel not in channels:
            channels.append(self.settings.oncall_channel)
        announcement = break_glass_announcement(request)
        return [await self._post_ref(channel, announcement) for channel in channels]

    async def review_overdue(self, request: AccessRequest, round_number: int) -> list[str]:
        """Escalate the missing review where escalations go, and to on-call."""
        channels = [extras_of(request).escalate_channel or request.card_channel or self.settings.approval_channel]
        if self.settings.oncall_channel and self.settings.oncall_channel not in channels:
            channels.append(self.settings.oncall_channel)
        return [await self._post_ref(channel, review_overdue_message(request, round_number)) for channel in channels]

    async def review_done(self, request: AccessRequest, announcements: Sequence[str], reminders: Sequence[str]) -> None:
        """Show who reviewed on every announcement and overdue reminder, without the button."""
        posts = [(value, break_glass_announcement(request)) for value in announcements]
        posts += [(value, review_reminder_done(request)) for value in reminders]
        for value, rendered in posts:
            posted = parse_reference(value)
            if posted is not None:
                await self._call("chat.update", channel=posted[0], ts=posted[1], **rendered.as_kwargs())

    async def revoked(self, request: AccessRequest) -> None:
        """On-call hears who closed whose access early."""
        if self.settings.oncall_channel:
            await self._post(self.settings.oncall_channel, revoked_notice(request, oncall=True))

    async def superseded(self, request: AccessRequest) -> None:
        """On-call hears whose access a newer grant closed."""
        if self.settings.oncall_channel:
            await self._post(self.settings.oncall_channel, superseded_notice(request, oncall=True))

    async def ports_lost(self, request: AccessRequest) -> None:
        """The holder hears which of their ports a newer grant closed."""
        await self._dm(request.requester, lost_ports_notice(request))

    async def outside_closed(self, request: AccessRequest) -> None:
        """On-call hears whose outside access a jitbot grant closed."""
        closed = extras_of(request).displaced_outside
        if closed and self.settings.oncall_channel:
            await self._post(self.settings.oncall_channel, outside_closed_notice(request, closed))

    async def outside_access(self, sighting: OutsideAccess) -> None:
        """On-call hears of a port opened outside jitbot (the approval channel when there is no on-call one)."""
        channel = self.settings.oncall_channel or self.settings.approval_channel
        notice = outside_access_notice(
            sighting.vm_name, sighting.port, sighting.requestor, sighting.source, sighting.start, sighting.end
        )
        await self._post(channel, notice)

    async def _dm_ref(self, user: str, message: Message) -> str:
        return await self._post_ref(await self._dm_channel(user), message)

    async def _post_ref(self, channel: str, message: Message, *, thread_ts: str | None = None) -> str:
        arguments: dict[str, object] = {"channel": channel, **message.as_kwargs()}
        if thread_ts:
            arguments["thread_ts"] = thread_ts
        response = await self._call("chat.postMessage", **arguments)
        return reference(str(response.get("channel") or channel), str(response["ts"]))
