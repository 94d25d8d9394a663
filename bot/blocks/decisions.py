"""Replies to an approver's click that did not change anything."""

from __future__ import annotations

from bot.blocks.common import Message, message, section
from bot.blocks.request import outcome_line
from jit.model import AccessRequest


def already_decided_message(request: AccessRequest) -> Message:
    """Someone else got there first: say who decided and how, so nobody clicks again."""
    line = outcome_line(request)
    return message(f"Request {request.id} was already decided.", [section(f"Already decided — {line}")])
