"""Every button click and modal submission counts against the clicker's ``JITBOT_INTERACTIONS_PER_MINUTE``.

The check runs after the ack, like the work it guards (the ack stays small and Redis-free). A refused click does
nothing and is answered to the clicker alone — ephemerally where the button was, or in a small modal for App Home
and modal clicks (``tell_clicker``); a refused submission is answered where its flow answers (``Refuse``). Each
refusal is audited as ``rate_limited`` with who, what and why, and counted in ``jitbot_rate_limited_total``.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Awaitable, Callable
from typing import Any

from slack_bolt.context.respond.async_respond import AsyncRespond

from bot.blocks.common import Message
from bot.blocks.errors import rate_limited_message
from bot.handlers.errors import message_for
from bot.handlers.views import clicked_user, clicked_value, tell_clicker
from bot.runtime import Runtime
from jit.store.limits import INTERACTIONS

log = logging.getLogger(__name__)

ClickListener = Callable[[dict[str, Any], AsyncRespond | None], Awaitable[None]]
SubmissionListener = Callable[[dict[str, Any]], Awaitable[None]]
Refuse = Callable[[dict[str, Any], Message], Awaitable[None]]
"""How a submission's flow shows the clicker a message once its modal was acked (closed or "saving…")."""
VALUE_LIMIT = 64


class InteractionLimit:
    """Wraps lazy listeners so each click or submission is counted, and refused politely over the limit."""

    def __init__(self, runtime: Runtime):
        self.runtime = runtime

    def click(self, listener: ClickListener) -> ClickListener:
        """``listener`` behind the limit; a refusal goes to the clicker where they clicked."""

        async def limited_click(body: dict[str, Any], respond: AsyncRespond | None = None) -> None:
            actions = body.get("actions") or [{}]
            what = {"what": f"click {actions[0].get('action_id', '')}", "value": clicked_value(body)[:VALUE_LIMIT]}
            refusal = await self._refusal(body, "click", what)
            if refusal is None:
                await listener(body, respond)
            else:
                await tell_clicker(self.runtime.slack, body, respond, refusal)

        return limited_click

    def submission(self, listener: SubmissionListener, refuse: Refuse) -> SubmissionListener:
        """``listener`` behind the limit; a refusal goes where the flow answers (``refuse``)."""

        async def limited_submission(body: dict[str, Any]) -> None:
            callback = str((body.get("view") or {}).get("callback_id", ""))
            refusal = await self._refusal(body, "submission", {"what": f"submission {callback}"})
            if refusal is None:
                await listener(body)
            else:
                await refuse(body, refusal)

        return limited_submission

    async def _refusal(self, body: dict[str, Any], kind: str, what: dict[str, str]) -> Message | None:
        """None when the action may go ahead; else the message for the clicker (also when Redis cannot count)."""
        user = clicked_user(body)
        limit = self.runtime.settings.interactions_per_minute
        try:
            decision = await self.runtime.limiter.hit(user, limit, INTERACTIONS)
        except Exception as exc:
            return message_for(exc)
        if decision.allowed:
            return None
        self.runtime.metrics.rate_limited.labels(kind=kind).inc()
        why = f"more than {limit} clicks and form submissions in a minute"
        try:
            await self.runtime.store.record("rate_limited", actor=user, request_id=None, detail={**what, "why": why})
        except Exception as exc:
            log.warning("rate_limited.not_audited", extra={"error": type(exc).__name__})
        seconds = max(1, math.ceil(decision.retry_after.total_seconds()))
        return rate_limited_message(f"That was {why}, so nothing was done this time; try again in {seconds} s.")
