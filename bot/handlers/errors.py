"""Turns any failure of a use case into the friendly ephemeral message the user sees."""

from __future__ import annotations

import logging
from datetime import timedelta

import redis.exceptions

from bot.blocks.common import Message
from bot.blocks.errors import error_message, refusal_message, unavailable_message
from bot.blocks.hints import hint_command
from bot.blocks.jit_off import jit_off_message
from bot.grammar import GrammarError
from jit.errors import JitOff, NotAllowed, RequestRejected, TemporarilyUnavailable, UnknownRequest
from jit.hints import request_hint
from jit.ports.azure_errors import AzureJitError, VmAmbiguous

log = logging.getLogger(__name__)


def message_for(exc: BaseException) -> Message:
    """The message for ``exc``; unexpected errors get a generic apology (details only in the logs)."""
    if isinstance(exc, GrammarError):
        return error_message(exc.problem, exc.example or None)
    if isinstance(exc, JitOff):
        return jit_off_message(exc.vm_label, exc.reasons)
    if isinstance(exc, RequestRejected):
        return error_message(exc.problem, hint_command(exc.hint) if exc.hint else None)
    if isinstance(exc, NotAllowed):
        return refusal_message(exc.problem)
    if isinstance(exc, UnknownRequest):
        return refusal_message("That request is unknown to jitbot (it may have expired from its records).")
    if isinstance(exc, VmAmbiguous):
        first = exc.candidates[0] if exc.candidates else None
        hint = request_hint((22,), f"{first.resource_group}/{first.name}", timedelta(hours=1)) if first else None
        return error_message(exc.user_message, hint_command(hint) if hint else None)
    if isinstance(exc, AzureJitError):
        return error_message(exc.user_message, hint_command(exc.hint) if exc.hint else None)
    if isinstance(exc, TemporarilyUnavailable | redis.exceptions.RedisError | ConnectionError | TimeoutError):
        return unavailable_message()
    log.error("handler.unexpected_error", exc_info=exc)
    return error_message("Something went wrong inside jitbot. Nothing was changed; please try again.")
