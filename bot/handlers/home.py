"""The ``app_home_opened`` event (the Home is published by ``bot.home.HomePublisher``) and the Home's Cancel
button on pending requests."""

from __future__ import annotations

import logging
from typing import Any

from slack_bolt.context.ack.async_ack import AsyncAck
from slack_bolt.context.respond.async_respond import AsyncRespond

from bot.blocks.decisions import already_decided_message
from bot.handlers.errors import message_for
from bot.handlers.views import clicked_user, clicked_value, tell_clicker
from bot.home import HomePublisher
from bot.runtime import Runtime

log = logging.getLogger(__name__)


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


class PendingCancel:
    """``jit_cancel``: the requester withdraws a pending request from App Home.

    Cancelling goes through the same use case as `/jit cancel`, so the requester is told by DM and the Home is
    refreshed by the outcome; only a refusal or a request decided meanwhile is answered here, to the clicker.
    """

    def __init__(self, runtime: Runtime):
        self.runtime = runtime

    async def ack(self, ack: AsyncAck) -> None:
        """Slack only needs to know we got the click."""
        await ack()

    async def clicked(self, body: dict[str, Any], respond: AsyncRespond | None = None) -> None:
        """Cancel the request the button names, if the clicker asked for it and it still waits."""
        user, request_id = clicked_user(body), clicked_value(body)
        try:
            decision = await self.runtime.service.cancel(request_id, user)
        except Exception as exc:
            await tell_clicker(self.runtime.slack, body, respond, message_for(exc))
            return
        if not decision.acted:
            await tell_clicker(self.runtime.slack, body, respond, already_decided_message(decision.request))
