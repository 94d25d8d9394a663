"""The approval card's context section: the VM's security context and the requester's recent history on it, as
they were when the card was first posted (``jit.card_context``). Before that, or for a request made before jitbot
kept them, the section is left out."""

from __future__ import annotations

from slack_sdk.models.blocks import Block

from bot.blocks.common import section, slack_date
from bot.blocks.security_context import security_context_blocks
from jit.card_context import HISTORY_WINDOW, RequesterHistory, requester_history_of, security_context_of
from jit.model import AccessRequest


def card_context_blocks(request: AccessRequest) -> list[Block]:
    """The security section, then one line of the requester's history on this VM."""
    blocks: list[Block] = []
    security = security_context_of(request)
    if security is not None:
        blocks += security_context_blocks(security)
    history = requester_history_of(request)
    if history is not None:
        blocks.append(section(history_line(history)))
    return blocks


def history_line(history: RequesterHistory) -> str:
    """``*Requester's history here* 3 grants in the last 30 days, last <date>`` or a first-time note."""
    days = HISTORY_WINDOW.days
    if history.last_grant is None:
        return "*Requester's history here*: no earlier access to this VM through jitbot."
    count = history.grants_in_window
    grants = "1 grant" if count == 1 else f"{count} grants"
    return f"*Requester's history here*: {grants} in the last {days} days; last {slack_date(history.last_grant)}."
