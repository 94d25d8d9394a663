"""``jit.ports.Notifier`` on the Slack Web API: cards in the approval channel, DMs, on-call notices."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Sequence
from datetime import timedelta
from typing import Any

from slack_sdk.errors import SlackApiError
from slack_sdk.http_retry.builtin_async_handlers import (
    AsyncConnectionErrorRetryHandler,
    AsyncServerErrorRetryHandler,
)
from slack_sdk.web.async_client import AsyncWebClient

from bot.blocks.backlog import backlog_cleared, backlog_notice
from bot.blocks.common import Message
from bot.blocks.notices import (
    access_ended_post,
    expired_notice,
    offers_extend_or_close,
    outcome_notice,
    reminder_notice,
)
from bot.blocks.request import approval_card
from bot.card_pacing import NOTICE, CardPacer
from bot.metrics import Metrics
from jit.clock import Clock
from jit.model import AccessRequest
from jit.ports.notify import ChannelBusy
from jit.settings import Settings

log = logging.getLogger(__name__)

BACKLOG_NOTICE_AT = 10
BACKLOG_NOTICE_EVERY = timedelta(seconds=10)


def card_client(client: AsyncWebClient) -> AsyncWebClient:
    """The shared client's twin for approval cards: same session and token, but a 429 comes back to the caller
    (``CardPacer`` gives the card a later turn) instead of being retried inside the call."""
    return AsyncWebClient(
        token=client.token,
        base_url=client.base_url,
        timeout=client.timeout,
        session=client.session,
        retry_handlers=[AsyncServerErrorRetryHandler(max_retry_count=2), AsyncConnectionErrorRetryHandler(2)],
    )


def retry_after(error: SlackApiError) -> float:
    """Slack's ``Retry-After`` (seconds) on a 429; 1 when it is missing or unreadable."""
    headers = getattr(error.response, "headers", None) or {}
    value = next((v for k, v in dict(headers).items() if str(k).lower() == "retry-after"), "1")
    try:
        return max(0.0, float(value if not isinstance(value, list) else value[0]))
    except (TypeError, ValueError):
        return 1.0


class SlackNotifier:
    """Renders from the request's current state, so a repeated call (after a crash) is harmless."""

    def __init__(self, client: AsyncWebClient, *, settings: Settings, clock: Clock, metrics: Metrics):
        self.client = client
        self.settings = settings
        self.clock = clock
        self.metrics = metrics
        self._dm_channels: dict[str, str] = {}
        self.pacer = CardPacer(clock, settings.slack_post_interval)
        self._cards = card_client(client)
        self._notices: dict[str, tuple[str, Any]] = {}
        self._notice_locks: dict[str, asyncio.Lock] = {}

    async def post_card(self, request: AccessRequest) -> str:
        """Post the approval card at its turn in the channel (``bot.card_pacing``); returns its ts. Raises
        ChannelBusy, with the card's turn, while the channel is at Slack's posting rate."""
        channel = request.card_channel or self.settings.approval_channel
        response = await self._paced_post(channel, request.id, request.vm.name, approval_card(request).as_kwargs())
        return str(response["ts"])

    async def _paced_post(self, channel: str, key: str, vm: str, arguments: dict[str, Any]) -> dict[str, Any]:
        """``chat.postMessage`` at ``key``'s turn in ``channel`` (``bot.card_pacing``); raises ChannelBusy, with
        the turn, until then or after a 429."""
        turn = self.pacer.turn(channel, key, vm)
        if turn is not None:
            await self._backlog(channel)
            raise ChannelBusy(turn)
        try:
            response = await self._call_on(self._cards, "chat.postMessage", channel=channel, **arguments)
        except SlackApiError as exc:
            if exc.response.status_code != 429:
                raise
            later = self.pacer.throttled(channel, key, vm, retry_after(exc))
            await self._backlog(channel)
            raise ChannelBusy(later) from None
        self.pacer.posted(channel, key)
        await self._backlog(channel)
        return response

    async def _backlog(self, channel: str) -> None:
        """Keep the channel's backlog notice current: posted (at its own turn, like a card) once
        ``BACKLOG_NOTICE_AT`` cards wait, updated every ``BACKLOG_NOTICE_EVERY``, and marked done when the last card
        is in. Best effort: never blocks a card."""
        lock = self._notice_locks.setdefault(channel, asyncio.Lock())
        async with lock:
            try:
                await self._refresh_backlog(channel)
            except SlackApiError as exc:
                log.warning(
                    "backlog_notice.failed", extra={"channel": channel, "error": str(exc.response.get("error"))}
                )

    async def _refresh_backlog(self, channel: str) -> None:
        waiting = self.pacer.waiting(channel)
        now = self.clock.now()
        notice = self._notices.get(channel)
        if notice is None:
            if waiting == 0:
                self.pacer.cancel(channel, NOTICE)
            elif waiting >= BACKLOG_NOTICE_AT or self.pacer.has_turn(channel, NOTICE):
                if self.pacer.first(channel, NOTICE) is not None:
                    return
                try:
                    posted = await self._call_on(
                        self._cards, "chat.postMessage", channel=channel, **self._notice(channel).as_kwargs()
                    )
                except SlackApiError as exc:
                    if exc.response.status_code == 429:
                        self.pacer.throttled(channel, NOTICE, "", retry_after(exc))
                        self.pacer.cancel(channel, NOTICE)  # it asks for the front of the queue again
                    raise
                self.pacer.posted(channel, NOTICE)
                self._notices[channel] = (str(posted["ts"]), now)
            return
        ts, updated = notice
        if waiting == 0:
            del self._notices[channel]
            total = self.pacer.peak(channel)
            self.pacer.drained(channel)
            await self._call("chat.update", channel=channel, ts=ts, **backlog_cleared(total).as_kwargs())
        elif now - updated >= BACKLOG_NOTICE_EVERY:
            self._notices[channel] = (ts, now)
            await self._call("chat.update", channel=channel, ts=ts, **self._notice(channel).as_kwargs())

    def _notice(self, channel: str) -> Message:
        last = self.pacer.last_turn(channel)
        seconds = (last - self.clock.now()).total_seconds() if last is not None else 0.0
        return backlog_notice(self.pacer.waiting(channel), self.pacer.busiest(channel), int(seconds // 60))

    async def update_card(self, request: AccessRequest) -> None:
        """Re-render the card in place for the current state."""
        if not request.card_ts or not request.card_channel:
            return
        await self._call(
            "chat.update", channel=request.card_channel, ts=request.card_ts, **approval_card(request).as_kwargs()
        )

    async def tell_requester(self, request: AccessRequest) -> list[str]:
        """DM the requester what happened; the DM's reference when it carries buttons."""
        return await self._dm(request.requester, outcome_notice(request))

    async def reminder(self, request: AccessRequest) -> list[str]:
        """Access closes soon: the requester and on-call hear about it; both posts carry buttons."""
        now = self.clock.now()
        posted = await self._dm(request.requester, reminder_notice(request, now=now))
        if self.settings.oncall_channel:
            posted += await self._post(self.settings.oncall_channel, reminder_notice(request, now=now, oncall=True))
        return posted

    async def expired(self, request: AccessRequest) -> None:
        """Access has closed: the requester and on-call hear about it."""
        await self._dm(request.requester, expired_notice(request))
        if self.settings.oncall_channel:
            await self._post(self.settings.oncall_channel, expired_notice(request, oncall=True))

    async def retire_buttons(self, request: AccessRequest, references: Sequence[str]) -> None:
        """Replace each post that offered Extend / Close with what happened, without buttons."""
        ended = access_ended_post(request)
        for value in references:
            channel, _, ts = value.strip().partition(" ")
            if channel and ts:
                await self._call("chat.update", channel=channel, ts=ts, **ended.as_kwargs())

    async def _dm(self, user: str, message: Message) -> list[str]:
        return await self._post(await self._dm_channel(user), message)

    async def _dm_channel(self, user: str) -> str:
        """The DM channel with ``user`` (opened once per process)."""
        channel = self._dm_channels.get(user)
        if channel is None:
            opened = await self._call("conversations.open", users=user)
            channel = str(opened["channel"]["id"])
            self._dm_channels[user] = channel
        return channel

    async def _post(self, channel: str, message: Message) -> list[str]:
        """Post; the post's ``"<channel> <ts>"`` reference when it offers Extend or Close (to strip them later)."""
        response = await self._call("chat.postMessage", channel=channel, **message.as_kwargs())
        if not offers_extend_or_close(message):
            return []
        return [f"{response.get('channel') or channel} {response['ts']}"]

    async def _call(self, method: str, **kwargs: object) -> dict[str, Any]:
        return await self._call_on(self.client, method, **kwargs)

    async def _call_on(self, client: AsyncWebClient, method: str, **kwargs: object) -> dict[str, Any]:
        try:
            response = await client.api_call(method, json=kwargs)
        except SlackApiError as exc:
            self.metrics.slack_errors.labels(method=method, error=str(exc.response.get("error", "unknown"))).inc()
            raise
        return dict(response.data) if isinstance(response.data, dict) else {}
