"""The ``app_home_opened`` event: the Home is published by ``bot.home.HomePublisher``."""

from __future__ import annotations

import logging
from typing import Any

from slack_bolt.context.ack.async_ack import AsyncAck

from bot.home import HomePublisher

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
