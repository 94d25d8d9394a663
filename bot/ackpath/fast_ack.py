"""Which Slack requests jitbot acks with an empty 200, decided from the body alone, without Bolt.

For these requests Bolt's answer is known in advance, so the endpoint answers at once and Bolt runs the same
dispatch after the ack, as background work (``bot.ackpath.endpoint``): clicks, events, and commands whose
ack carries nothing (neither a grammar error without a VM to check its suggestion against, nor a bare
``/jit help``). Everything else — modal submissions
(inline errors), URL verification, anything unexpected — gets its answer from Bolt. Each listener's ack must
agree with this module; ``tests/bot/ackpath/test_fast_ack.py`` checks every one of them through Bolt itself.
"""

from __future__ import annotations

import json
from urllib.parse import parse_qs

from bot.blocks.common import Message
from bot.blocks.errors import error_message
from bot.blocks.help import help_message
from bot.grammar import GrammarError, Help, parse_command

JIT_COMMAND = "/jit"


def ack_is_empty(body: bytes, content_type: str) -> bool:
    """True when the ack of this (already authenticated) request is an empty 200."""
    try:
        if content_type.startswith("application/json"):
            return _event_ack_is_empty(json.loads(body))
        form = parse_qs(body.decode(), keep_blank_values=True)
    except (ValueError, UnicodeDecodeError):
        return False
    if "payload" in form:
        try:
            payload = json.loads(form["payload"][0])
        except ValueError:
            return False
        return isinstance(payload, dict) and payload.get("type") == "block_actions"
    if form.get("command") == [JIT_COMMAND]:
        return immediate_reply(form.get("text", [""])[0]) is None
    return False


def immediate_reply(text: str) -> Message | None:
    """What the ack of ``/jit text`` carries: a grammar error or the help, else nothing (a bare ack). A mistake in
    a request naming a VM is answered after the ack instead, once its suggestion is checked against that VM."""
    try:
        command = parse_command(text)
    except GrammarError as exc:
        return None if exc.request is not None else error_message(exc.problem, exc.example)
    if isinstance(command, Help) and command.topic is None:
        return help_message()
    return None


def _event_ack_is_empty(event: object) -> bool:
    return isinstance(event, dict) and event.get("type") == "event_callback"
