"""``jit.ports.Notifier`` on the Slack Web API: cards in the approval channel, DMs, on-call notices."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient

from bot.blocks.common import Message
from bot.blocks.notices import (
    access_ended_post,
    expired_notice,
    offers_extend_or_close,
    outcome_notice,
    reminder_notice,
)
from bot.blocks.request import approval_card
from bot.metrics import Metrics
from jit.clock import Clock
from jit.model import AccessRequest
from jit.settings import Settings


class SlackNotifier:
    """Renders from the request's current state, so a repeated call (after a crash) is harmless."""

    def __init__(self, client: AsyncWebClient, *, settings: Settings, clock: Clock, metrics: Metrics):
        self.client = client
        self.settings = settings
        self.clock = clock
        self.metrics = metrics
        self._dm_channels: dict[str, str] = {}

    async def post_card(self, request: AccessRequest) -> str:
        """Post the approval card; returns its ts."""
        channel = request.card_channel or self.settings.approval_channel
        response = await self._call("chat.postMessage", channel=channel, **approval_card(request).as_kwargs())
        return str(response["ts"])

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
        try:
            response = await self.client.api_call(method, json=kwargs)
        except SlackApiError as exc:
            self.metrics.slack_errors.labels(method=method, error=str(exc.response.get("error", "unknown"))).inc()
            raise
        return dict(response.data) if isinstance(response.data, dict) else {}
