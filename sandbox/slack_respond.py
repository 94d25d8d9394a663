"""What Slack does with a message sent back through a ``response_url`` (or in a slash command's ack body).

Shared by the emulator's response URL endpoint and the driver, which applies a slash command's immediate
HTTP answer the same way Slack does: shown to the user who typed the command, or to the channel.
"""

from __future__ import annotations

from typing import Any

from sandbox.slack_blocks import MAX_MESSAGE_BLOCKS, blocks_errors
from sandbox.slack_state import Message, ResponseTarget, SlackError, SlackState


def _truthy(value: Any) -> bool:
    return value is True or (isinstance(value, str) and value.lower() in ("true", "1"))


def apply_response(state: SlackState, target: ResponseTarget, payload: Any, *, via: str) -> Message | None:
    """Apply one response: delete or replace the original, or post a new ephemeral / in-channel message.

    ``delete_original`` and ``replace_original`` need the message the response URL came from (a click);
    otherwise ``response_type`` decides: ``in_channel`` posts to the conversation, anything else (the
    default, as in Slack) shows an ephemeral message to the user who triggered the interaction. A
    replacement replaces the whole message: blocks that are not sent are gone. Returns the message
    posted or changed, None after a delete.
    """
    if not isinstance(payload, dict):
        raise SlackError("invalid_payload")
    original = state.find(target.channel, target.message_ts) if target.message_ts else None
    if _truthy(payload.get("delete_original")):
        if original is None:
            raise SlackError("message_not_found")
        state.delete(original)
        return None
    text = str(payload.get("text") or "")
    blocks = payload.get("blocks")
    if blocks is not None:
        errors = blocks_errors(blocks, max_blocks=MAX_MESSAGE_BLOCKS)
        if errors:
            raise SlackError("invalid_blocks", response_metadata={"messages": errors})
    if not text and not blocks:
        raise SlackError("no_text")
    if _truthy(payload.get("replace_original")) and original is not None:
        return state.update(original, text=text, blocks=list(blocks or []), via=via)
    thread_ts = payload.get("thread_ts")
    if payload.get("response_type") == "in_channel":
        return state.post(target.channel, text=text, blocks=list(blocks or []), via=via, thread_ts=thread_ts)
    return state.post(
        target.channel, text=text, blocks=list(blocks or []), via=via, thread_ts=thread_ts, ephemeral_to=target.user
    )
