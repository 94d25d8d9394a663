"""The Deny button's modal: an optional reason the requester will read, then the denial.

The request id travels in ``private_metadata``; ``deny_reason`` reads the typed reason back from the submission.
"""

from __future__ import annotations

from typing import Any

from slack_sdk.models.blocks import InputBlock, PlainTextInputElement
from slack_sdk.models.views import View

from bot.blocks.common import (
    MAX_VIEW_BLOCKS,
    Message,
    code,
    escape_mrkdwn,
    mention,
    message,
    plain,
    ports_label,
    render,
    section,
    user_text,
)
from jit.deciding import MAX_DENY_REASON_CHARS
from jit.model import AccessRequest
from jit.request_extras import extras_of

DENY_CALLBACK_ID = "jit_deny_modal"
REASON_BLOCK = "deny_reason"
REASON_ACTION = "reason"


def deny_modal(request: AccessRequest) -> dict[str, Any]:
    """Asks for an optional reason before denying ``request``; the requester reads it in their DM."""
    what = f"{escape_mrkdwn(ports_label(request.ports))} on {code(request.vm.name, 80)}"
    text = f"Deny {mention(request.requester)}'s request {code(request.id)} for {what}?"
    reason = InputBlock(
        block_id=REASON_BLOCK,
        label=plain("Reason (optional)"),
        hint=plain("The requester reads this in their DM: say what would get a yes (a ticket, a shorter window…)."),
        optional=True,
        element=PlainTextInputElement(
            action_id=REASON_ACTION,
            multiline=True,
            max_length=MAX_DENY_REASON_CHARS,
            placeholder=plain("Why not, and what to do instead"),
        ),
    )
    view = View(
        type="modal",
        callback_id=DENY_CALLBACK_ID,
        title=plain("Deny request", 24),
        submit=plain("Deny", 24),
        close=plain("Cancel", 24),
        private_metadata=request.id,
        blocks=render([section(text), reason], MAX_VIEW_BLOCKS),
    )
    return view.to_dict()


def deny_reason(state: dict[str, Any]) -> str:
    """The reason typed into the deny modal's ``view.state``; empty when none was given."""
    value = ((state.get("values") or {}).get(REASON_BLOCK) or {}).get(REASON_ACTION) or {}
    return str(value.get("value") or "")


def denied_by_you_message(request: AccessRequest) -> Message:
    """The approver's confirmation in the modal: denied, and what the requester was told."""
    reason = user_text(extras_of(request).deny_reason or "", 600)
    told = f" They were told your reason: _{reason}_" if reason else " No reason was given."
    text = f":no_entry: You denied {mention(request.requester)}'s request {code(request.id)}.{told}"
    return message(f"You denied request {escape_mrkdwn(request.id)}.", [section(text)])
