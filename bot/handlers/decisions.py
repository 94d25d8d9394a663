"""Approve / Deny clicks (on the card or in App Home): ack at once, decide in a lazy listener.

Deny on a request opens a modal for an optional reason first (once the clicker is known to be allowed to deny);
submitting it denies. Deny on an extension decides at once. The card is updated by the outcome item; a refused or
late click is answered to the clicker alone — ephemerally under the card, or in a small modal for App Home clicks,
which carry no response_url; a refused submission is shown in the modal the ack left saying "denying…".
"""

from __future__ import annotations

import logging
from typing import Any

from slack_bolt.context.ack.async_ack import AsyncAck
from slack_bolt.context.respond.async_respond import AsyncRespond
from slack_sdk.errors import SlackApiError

from bot.blocks.admin_views import notice_modal, working_modal
from bot.blocks.common import Message
from bot.blocks.decisions import already_decided_message
from bot.blocks.deny_modal import denied_by_you_message, deny_modal, deny_reason
from bot.blocks.lifecycle import click_reply
from bot.handlers.errors import message_for
from bot.handlers.views import (
    clicked_user,
    in_modal,
    open_modal,
    result_external_id,
    tell_clicker,
    update_by_external_id,
)
from bot.logs import request_id_var
from bot.runtime import Runtime
from jit.errors import UnknownRequest
from jit.extensions import parse_extension_ref
from jit.model import AccessRequest, RequestState

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
        """Deny an extension at once; for a request, ask for an optional reason in a modal first. When Slack will
        not open the modal (no usable ``trigger_id``), the click still denies, without a reason: the reason is
        optional, the approver's decision is not."""
        user, request_id = _clicked(body)
        if parse_extension_ref(request_id):
            await self._decide(body, respond, approve=False)
            return
        request_id_var.set(request_id or "-")
        try:
            request = await self.runtime.service.may_deny(request_id, user)
        except UnknownRequest as exc:
            await self._unknown(body, respond, user, request_id, exc)
            return
        except Exception as exc:
            await tell_clicker(self.runtime.slack, body, respond, message_for(exc))
            return
        if request.state is not RequestState.PENDING:
            await tell_clicker(self.runtime.slack, body, respond, already_decided_message(request))
            return
        trigger_id = str(body.get("trigger_id", ""))
        if trigger_id:
            try:
                await open_modal(self.runtime.slack, trigger_id, deny_modal(request), push=in_modal(body))
                return
            except SlackApiError as exc:
                log.info("deny.modal_unavailable", extra={"error": str(exc.response.get("error", "unknown"))})
        await self._decide(body, respond, approve=False)

    async def ack_deny(self, ack: AsyncAck, body: dict[str, Any]) -> None:
        """The approver submitted the deny modal: show "denying…" at once; the denial runs after the ack."""
        view = body.get("view") or {}
        working = working_modal("Deny request", "Denying the request…", external_id=result_external_id(view))
        await ack(response_action="update", view=working)

    async def deny_submitted(self, body: dict[str, Any]) -> None:
        """Deny with the typed reason; the modal shows the result (or why nothing happened)."""
        view = body.get("view") or {}
        user, request_id = clicked_user(body), str(view.get("private_metadata", ""))
        request_id_var.set(request_id or "-")
        try:
            decision = await self.runtime.service.deny(request_id, user, deny_reason(view.get("state") or {}))
        except Exception as exc:
            await self.refuse_submission(body, message_for(exc))
            return
        if not decision.acted:
            await self.refuse_submission(body, already_decided_message(decision.request))
            return
        self._count(decision.request)
        result = notice_modal("Request denied", denied_by_you_message(decision.request))
        await update_by_external_id(self.runtime.slack, result_external_id(view), result)

    async def refuse_submission(self, body: dict[str, Any], reply: Message) -> None:
        """Show why a deny submission did nothing, in the modal the ack left saying "denying…"."""
        view = body.get("view") or {}
        await update_by_external_id(self.runtime.slack, result_external_id(view), notice_modal("Not denied", reply))

    async def _unknown(
        self, body: dict[str, Any], respond: AsyncRespond | None, user: str, request_id: str, exc: Exception
    ) -> None:
        await self.runtime.store.record(
            "unknown_request_click", actor=user, request_id=None, detail={"value": request_id[:64]}
        )
        await tell_clicker(self.runtime.slack, body, respond, message_for(exc))

    def _count(self, request: AccessRequest) -> None:
        wait = (request.decided_at or request.created_at) - request.created_at
        self.runtime.metrics.approval_wait.observe(wait.total_seconds())
        self.runtime.metrics.requests.labels(outcome=request.state.value).inc()
        log.info("request.decided", extra={"jit_request": request.id, "state": request.state.value})

    async def _decide(self, body: dict[str, Any], respond: AsyncRespond | None, *, approve: bool) -> None:
        user, request_id = _clicked(body)
        request_id_var.set(request_id or "-")
        service = self.runtime.service
        try:
            decision = await (service.approve if approve else service.deny)(request_id, user)
        except UnknownRequest as exc:
            await self._unknown(body, respond, user, request_id, exc)
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
        self._count(decision.request)
