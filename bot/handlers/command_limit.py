"""Slash commands that cost something count against the user's ``JITBOT_COMMANDS_PER_MINUTE``; reading does not.

A command costs when it creates or changes access (a request, an extension, a revoke) or reads Azure (a VM's
status or help, the inventory list, the policy commands). Help, one's own status, the request form and cancelling
a pending request only read or change jitbot's own records, so a person exploring jitbot is never stopped by them.
A refusal says when the user may try again, is audited as ``rate_limited`` and counted in
``jitbot_rate_limited_total``.
"""

from __future__ import annotations

import math

from bot.blocks.common import Message
from bot.blocks.errors import commands_rate_limited_message
from bot.grammar import Cancel, Command, Help, OpenRequestForm, Status
from bot.runtime import Runtime


def counts_against_limit(command: Command) -> bool:
    """True for commands that open access or read Azure; false for help, own status, the form and cancel."""
    if isinstance(command, Help):
        return command.topic is not None
    if isinstance(command, Status):
        return command.vm is not None
    return not isinstance(command, OpenRequestForm | Cancel)


async def command_refusal(runtime: Runtime, user: str, command: Command) -> Message | None:
    """Count ``command`` for ``user``; None when it may run, else the refusal (audited) saying when to retry."""
    limit = runtime.settings.commands_per_minute
    decision = await runtime.limiter.hit(user, limit)
    if decision.allowed:
        return None
    runtime.metrics.rate_limited.labels(kind="command").inc()
    why = f"more than {limit} requests and VM look-ups in a minute"
    detail = {"what": f"command {type(command).__name__}", "why": why}
    await runtime.store.record("rate_limited", actor=user, request_id=None, detail=detail)
    wait_seconds = max(1, math.ceil(decision.retry_after.total_seconds()))
    retry_at = runtime.clock.now() + decision.retry_after
    return commands_rate_limited_message(limit, retry_at, wait_seconds)
