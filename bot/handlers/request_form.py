"""``/jit`` with nothing after it: the request form modal, and what happens when it is submitted.

The ack shows grammar mistakes under their inputs, or swaps the form for a "checking…" view; after the ack the
request goes through the same use case as a typed `/jit`. A refusal brings the form back with everything typed in
it, the refusal on top and notes under the fields to change; a request that went through shows its confirmation
in the modal and, as a durable copy, where the form was opened.
"""

from __future__ import annotations

import json
import logging
from typing import Any

from slack_bolt.context.ack.async_ack import AsyncAck

from bot.blocks.admin_views import notice_modal, working_modal
from bot.blocks.common import Message
from bot.blocks.request_form import (
    field_notes,
    parse_request_form,
    request_form_modal,
    typed_values,
)
from bot.grammar import RequestAccess
from bot.handlers.errors import message_for
from bot.handlers.requesting import submit_request, tell_requester
from bot.handlers.views import result_external_id, update_by_external_id
from bot.runtime import Runtime
from jit.errors import RequestRejected
from jit.hints import Hint, request_hint
from jit.ports.azure_errors import AzureJitError, VmAmbiguous

log = logging.getLogger(__name__)


class RequestFormHandlers:
    """Opens the form right after the ack (trigger ids live 3 s) and submits it like a typed command."""

    def __init__(self, runtime: Runtime):
        self.runtime = runtime

    async def open(self, body: dict[str, Any]) -> None:
        """Open the request modal for the user who typed a bare `/jit`."""
        view = request_form_modal(default_source=self.runtime.settings.default_source)
        view["private_metadata"] = json.dumps({"channel": str(body.get("channel_id", ""))})
        await self.runtime.slack.views_open(trigger_id=str(body.get("trigger_id", "")), view=view)

    async def ack_submission(self, ack: AsyncAck, body: dict[str, Any]) -> None:
        """Field errors go back inline on the right inputs; a well-formed form shows "checking…" at once."""
        view = body.get("view") or {}
        parsed = parse_request_form(view.get("state") or {})
        if isinstance(parsed, dict):
            await ack(response_action="errors", errors=parsed)
            return
        checking = working_modal("Request JIT access", "Checking your request…", external_id=result_external_id(view))
        await ack(response_action="update", view=checking)

    async def submit(self, body: dict[str, Any]) -> None:
        """Check the request against the policy and rules, then confirm, or bring the form back to correct."""
        view = body.get("view") or {}
        parsed = parse_request_form(view.get("state") or {})
        if isinstance(parsed, dict):
            return
        user = str((body.get("user") or {}).get("id", ""))
        channel = _channel(view.get("private_metadata", ""))
        name = str((body.get("user") or {}).get("username") or (body.get("user") or {}).get("name") or "")
        try:
            reply = await submit_request(self.runtime, user, parsed, requester_name=name, reply_channel=channel)
        except Exception as exc:
            await self._form_again(view, message_for(exc), field_notes(parsed, _hint_of(exc, parsed)))
            return
        await update_by_external_id(self.runtime.slack, result_external_id(view), notice_modal("Your request", reply))
        await tell_requester(self.runtime, user, channel, reply)

    async def refuse(self, body: dict[str, Any], reply: Message) -> None:
        """Show why the submission did nothing in the form itself, with everything typed still in it."""
        await self._form_again(body.get("view") or {}, reply, {})

    async def _form_again(self, view: dict[str, Any], refusal: Message, notes: dict[str, str]) -> None:
        form = request_form_modal(
            default_source=self.runtime.settings.default_source,
            typed=typed_values(view.get("state") or {}),
            refusal=refusal,
            notes=notes,
        )
        form["private_metadata"] = str(view.get("private_metadata", ""))
        await update_by_external_id(self.runtime.slack, result_external_id(view), form)


def _hint_of(exc: BaseException, command: RequestAccess) -> Hint | None:
    """What a refusal suggests, to point at the fields it changes (an ambiguous VM: the VM field)."""
    if isinstance(exc, VmAmbiguous) and exc.candidates:
        first = exc.candidates[0]
        vm = f"{first.resource_group}/{first.name}"
        return request_hint(command.ports, vm, command.duration, command.source, command.reason)
    if isinstance(exc, RequestRejected | AzureJitError):
        return exc.hint
    return None


def _channel(metadata: str) -> str:
    try:
        value = json.loads(metadata or "{}").get("channel", "")
    except (ValueError, AttributeError):
        return ""
    return value if isinstance(value, str) else ""
