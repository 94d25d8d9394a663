"""Extend, revoke, ask again and break-glass review: the ``jit_extend`` / ``jit_revoke`` / ``jit_rerequest`` /
``jit_ack_review`` buttons and ``/jit extend`` / ``/jit revoke``. Clicks ack at once; the use case runs in a lazy
listener and answers the clicker alone. Who may do what is decided in the use cases, on the server.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from typing import Any

from slack_bolt.context.ack.async_ack import AsyncAck
from slack_bolt.context.respond.async_respond import AsyncRespond

from bot.blocks.common import Message
from bot.blocks.lifecycle import extension_requested_reply, review_reply, revoke_reply
from bot.blocks.request import requester_confirmation
from bot.blocks.sharing import REREQUEST_ACTION
from bot.grammar import Extend, Revoke
from bot.handlers.errors import message_for
from bot.handlers.views import tell_clicker
from bot.logs import request_id_var
from bot.runtime import Runtime
from jit.errors import UnknownRequest

log = logging.getLogger(__name__)

EXTEND_ACTION = "jit_extend"
REVOKE_ACTION = "jit_revoke"
ACK_REVIEW_ACTION = "jit_ack_review"
__all__ = ["ACK_REVIEW_ACTION", "EXTEND_ACTION", "REREQUEST_ACTION", "REVOKE_ACTION", "LifecycleHandlers"]


def _clicked(body: dict[str, Any]) -> tuple[str, str]:
    user = str((body.get("user") or {}).get("id", ""))
    actions = body.get("actions") or [{}]
    return user, str(actions[0].get("value", ""))


class LifecycleHandlers:
    """The lifecycle's buttons and subcommands."""

    def __init__(self, runtime: Runtime):
        self.runtime = runtime

    async def ack(self, ack: AsyncAck) -> None:
        """Slack only needs to know we got the click."""
        await ack()

    async def extend_clicked(self, body: dict[str, Any], respond: AsyncRespond | None = None) -> None:
        """Extend by the original length (within the policy); `/jit extend` picks another length."""
        await self._click(body, respond, self._extend)

    async def revoke_clicked(self, body: dict[str, Any], respond: AsyncRespond | None = None) -> None:
        """Close the access now."""
        await self._click(body, respond, self._revoke)

    async def ask_again_clicked(self, body: dict[str, Any], respond: AsyncRespond | None = None) -> None:
        """Ask for the same access again after a newer grant closed it (it needs approval like any request)."""
        await self._click(body, respond, self._ask_again)

    async def review_clicked(self, body: dict[str, Any], respond: AsyncRespond | None = None) -> None:
        """Acknowledge the review of a break-glass grant."""
        await self._click(body, respond, self._review)

    async def command(self, user: str, command: Extend | Revoke) -> Message:
        """``/jit extend <id> <duration>`` and ``/jit revoke <id>``: the ephemeral reply."""
        request_id_var.set(command.request_id)
        if isinstance(command, Extend):
            asked = await self.runtime.service.extend(command.request_id, user, command.duration)
            return extension_requested_reply(asked.request, created=asked.created)
        return await self._revoke(user, command.request_id)

    async def _extend(self, user: str, request_id: str) -> Message:
        asked = await self.runtime.service.extend(request_id, user)
        log.info("request.extension_asked", extra={"jit_request": request_id, "new_extension": asked.created})
        return extension_requested_reply(asked.request, created=asked.created)

    async def _revoke(self, user: str, request_id: str) -> Message:
        revoked = await self.runtime.service.revoke(request_id, user)
        if revoked.acted:
            self.runtime.metrics.requests.labels(outcome="revoked").inc()
            log.info("request.revoked", extra={"jit_request": request_id, "closed": revoked.closed})
        return revoke_reply(revoked.request, acted=revoked.acted, closed=revoked.closed)

    async def _ask_again(self, user: str, request_id: str) -> Message:
        submitted = await self.runtime.service.ask_again(request_id, user)
        self.runtime.metrics.requests.labels(outcome="requested" if submitted.created else "duplicate").inc()
        log.info("request.asked_again", extra={"jit_request": submitted.request.id, "previous": request_id})
        return requester_confirmation(submitted.request, already_pending=not submitted.created)

    async def _review(self, user: str, request_id: str) -> Message:
        reviewed = await self.runtime.service.acknowledge_review(request_id, user)
        return review_reply(reviewed.request, acted=reviewed.acted)

    async def _click(
        self, body: dict[str, Any], respond: AsyncRespond | None, run: Callable[[str, str], Awaitable[Message]]
    ) -> None:
        user, request_id = _clicked(body)
        request_id_var.set(request_id or "-")
        try:
            reply = await run(user, request_id)
        except UnknownRequest as exc:
            await self.runtime.store.record(
                "unknown_request_click", actor=user, request_id=None, detail={"value": request_id[:64]}
            )
            reply = message_for(exc)
        except Exception as exc:
            reply = message_for(exc)
        await tell_clicker(self.runtime.slack, body, respond, reply)
