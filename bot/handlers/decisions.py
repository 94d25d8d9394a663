"""Approve / Deny clicks (on the card or in App Home): ack at once, decide in a lazy listener.

The card is updated by the outcome item; a refused or late click is answered to the clicker alone — ephemerally
under the card, or in a small modal for App Home clicks, which carry no response_url.
"""

from __future__ import annotations

import logging
from typing import Any

from slack_bolt.context.ack.async_ack import AsyncAck
from slack_bolt.context.respond.async_respond import AsyncRespond

from bot.blocks.decisions import already_decided_message
from bot.blocks.lifecycle import click_reply
from bot.handlers.errors import message_for
from bot.handlers.views import tell_clicker
from bot.logs import request_id_var
from bot.runtime import Runtime
from jit.errors import UnknownRequest
from jit.extensions import parse_extension_ref

log = logging.getLogger(__name__)


def _clicked(body: dict[str, Any]) -> tuple[str, str]:
    user = str((body.get("user") or {}).get("id", ""))
    actions = body.get("actions") or [{}]
    return user, str(actions[0].get("value", ""))


class DecisionHandlers:
    """``jit_approve`` and ``jit_deny``; authorisation happens in the use case, on the server."""

    def __init__(self, runtime: Runtime):
        self.runtime = runtime

    async def ack(self, ack: AsyncAck) -> None:
        """Slack only needs to know we got the click."""
        await ack()

    async def approve(self, body: dict[str, Any], respond: AsyncRespond | None = None) -> None:
        """One approver wins; everybody else hears who did."""
        await self._decide(body, respond, approve=True)

    async def deny(self, body: dict[str, Any], respond: AsyncRespond | None = None) -> None:
        """Deny a pending request."""
        await self._decide(body, respond, approve=False)

    async def _decide(self, body: dict[str, Any], respond: AsyncRespond | None, *, approve: bool) -> None:
        user, request_id = _clicked(body)
        request_id_var.set(request_id or "-")
        service = self.runtime.service
        try:
            decision = await (service.approve if approve else service.deny)(request_id, user)
        except UnknownRequest as exc:
            await self.runtime.store.record(
                "unknown_request_click", actor=user, request_id=None, detail={"value": request_id[:64]}
            )
            await tell_clicker(self.runtime.slack, body, respond, message_for(exc))
            return
        except Exception as exc:
            await tell_clicker(self.runtime.slack, body, respond, message_for(exc))
            return
        if decision.recorded or parse_extension_ref(request_id):
            if decision.recorded or not decision.acted:
                reply = click_reply(decision.request, recorded=decision.recorded)
                await tell_clicker(self.runtime.slack, body, respond, reply)
            return
        if not decision.acted:
            reply = already_decided_message(decision.request)
            await tell_clicker(self.runtime.slack, body, respond, reply)
            return
        request = decision.request
        wait = (request.decided_at or request.created_at) - request.created_at
        self.runtime.metrics.approval_wait.observe(wait.total_seconds())
        self.runtime.metrics.requests.labels(outcome=request.state.value).inc()
        log.info("request.decided", extra={"jit_request": request.id, "state": request.state.value})
