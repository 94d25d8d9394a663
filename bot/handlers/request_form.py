"""``/jit`` with nothing after it: the request form modal, and what happens when it is submitted."""

from __future__ import annotations

import json
import logging
from typing import Any

from slack_bolt.context.ack.async_ack import AsyncAck

from bot.blocks.common import Message
from bot.blocks.request_form import parse_request_form, request_form_modal
from bot.handlers.errors import message_for
from bot.handlers.requesting import submit_request, tell_requester
from bot.runtime import Runtime

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
        """Field errors go back inline on the right input; a well-formed form closes at once."""
        parsed = parse_request_form((body.get("view") or {}).get("state") or {})
        if isinstance(parsed, dict):
            await ack(response_action="errors", errors=parsed)
            return
        await ack()

    async def submit(self, body: dict[str, Any]) -> None:
        """Check the request against the policy and rules, then confirm (or explain) to the requester."""
        view = body.get("view") or {}
        parsed = parse_request_form(view.get("state") or {})
        if isinstance(parsed, dict):
            return
        user = str((body.get("user") or {}).get("id", ""))
        channel = _channel(view.get("private_metadata", ""))
        reply: Message
        name = str((body.get("user") or {}).get("username") or (body.get("user") or {}).get("name") or "")
        try:
            reply = await submit_request(self.runtime, user, parsed, requester_name=name, reply_channel=channel)
        except Exception as exc:
            reply = message_for(exc)
        await self._tell(user, channel, reply)

    async def refuse(self, body: dict[str, Any], reply: Message) -> None:
        """Tell the submitter why the submission did nothing (the modal is already closed)."""
        view = body.get("view") or {}
        await self._tell(str((body.get("user") or {}).get("id", "")), _channel(view.get("private_metadata", "")), reply)

    async def _tell(self, user: str, channel: str, reply: Message) -> None:
        await tell_requester(self.runtime, user, channel, reply)


def _channel(metadata: str) -> str:
    try:
        value = json.loads(metadata or "{}").get("channel", "")
    except (ValueError, AttributeError):
        return ""
    return value if isinstance(value, str) else ""
