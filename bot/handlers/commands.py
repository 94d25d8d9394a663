"""``/jit``: parse and ack at once (grammar errors in the ack itself), then do the work in a lazy listener."""

from __future__ import annotations

import logging
import math
from typing import Any

from slack_bolt.context.ack.async_ack import AsyncAck
from slack_bolt.context.respond.async_respond import AsyncRespond

from bot.ackpath.fast_ack import immediate_reply
from bot.blocks.common import Message
from bot.blocks.errors import error_message, rate_limited_message
from bot.blocks.hints import hint_command
from bot.blocks.request import cancel_reply
from bot.grammar import (
    Cancel,
    Command,
    Extend,
    GrammarError,
    Help,
    OpenRequestForm,
    RequestAccess,
    Revoke,
    Status,
    parse_command,
)
from bot.handlers.errors import message_for
from bot.handlers.lifecycle import LifecycleHandlers
from bot.handlers.request_form import RequestFormHandlers
from bot.handlers.requesting import submit_request
from bot.runtime import Runtime

log = logging.getLogger(__name__)


def _ephemeral(message: Message) -> dict[str, Any]:
    return {"response_type": "ephemeral", **message.as_kwargs()}


def costs(command: Command) -> bool:
    """Whether a command counts against ``JITBOT_COMMANDS_PER_MINUTE``: everything that asks Azure (a VM's help or
    status, the list, requests, admin commands), changes access or builds a report does; ``/jit help``, your own
    ``/jit status`` and ``/jit cancel`` (Redis only) never do, so exploring cannot use up the limit."""
    if isinstance(command, Cancel) or (isinstance(command, Help) and not command.topic):
        return False
    return not (isinstance(command, Status) and command.vm is None)


class CommandHandlers:
    """The `/jit` listeners; subcommands beyond requests are delegated to their own modules."""

    def __init__(self, runtime: Runtime):
        self.runtime = runtime

    async def ack(self, ack: AsyncAck, body: dict[str, Any]) -> None:
        """Answer within Slack's 3 s: grammar errors and help right here, everything else after the ack."""
        reply = immediate_reply(str(body.get("text", "")))
        if reply is None:
            await ack()
        else:
            await ack(**_ephemeral(reply))

    async def run(self, body: dict[str, Any], respond: AsyncRespond) -> None:
        """The work behind a command: rate limit, then the use case, then an ephemeral reply."""
        user = str(body.get("user_id", ""))
        try:
            command = parse_command(str(body.get("text", "")))
        except GrammarError as exc:
            if exc.request is not None:
                await respond(**_ephemeral(await self.corrected(user, exc)))
            return
        if isinstance(command, Help) and command.topic is None:
            return
        self.runtime.metrics.commands.labels(command=type(command).__name__).inc()
        try:
            refusal = await self._over_the_limit(user, command) if costs(command) else None
            if refusal is not None:
                await respond(**_ephemeral(refusal))
                return
            reply = await self.dispatch(user, command, body)
        except Exception as exc:
            reply = message_for(exc)
        if reply is not None:
            await respond(**_ephemeral(reply))

    async def corrected(self, user: str, mistake: GrammarError) -> Message:
        """A mistake in a request, with the corrected request checked against the VM (or why none would pass);
        the grammar's own example when that check cannot run."""
        assert mistake.request is not None
        try:
            found = await self.runtime.service.suggest(user, mistake.request)
        except Exception as exc:
            log.warning("command.suggestion_unchecked", extra={"error": type(exc).__name__})
            return error_message(mistake.problem, mistake.example)
        if found.hint is None:
            return error_message(f"{mistake.problem} {found.why_none}")
        return error_message(mistake.problem, hint_command(found.hint))

    async def _over_the_limit(self, user: str, command: Command) -> Message | None:
        """Count a costly command; over ``JITBOT_COMMANDS_PER_MINUTE`` it is refused (audited) with when to retry."""
        limit = self.runtime.settings.commands_per_minute
        decision = await self.runtime.limiter.hit(user, limit)
        if decision.allowed:
            return None
        self.runtime.metrics.rate_limited.labels(kind="command").inc()
        why = f"more than {limit} commands in a minute"
        detail = {"what": f"command {type(command).__name__}", "why": why}
        await self.runtime.store.record("rate_limited", actor=user, request_id=None, detail=detail)
        seconds = max(1, math.ceil(decision.retry_after.total_seconds()))
        return rate_limited_message(
            f"You sent more than {limit} commands that ask Azure or change access in a minute; "
            f"try again in {seconds} s. (`/jit help`, your own `/jit status` and `/jit cancel` are never limited.)"
        )

    async def dispatch(self, user: str, command: Command, body: dict[str, Any]) -> Message | None:
        """Run one parsed command for ``user``; returns the ephemeral reply (None when a view was opened)."""
        if isinstance(command, RequestAccess):
            return await submit_request(
                self.runtime,
                user,
                command,
                requester_name=str(body.get("user_name", "")),
                reply_channel=str(body.get("channel_id", "")),
            )
        if isinstance(command, OpenRequestForm):
            await RequestFormHandlers(self.runtime).open(body)
            return None
        if isinstance(command, Cancel):
            decision = await self.runtime.service.cancel(command.request_id, user)
            return cancel_reply(decision.request, acted=decision.acted)
        if isinstance(command, Extend | Revoke):
            return await LifecycleHandlers(self.runtime).command(user, command)
        from bot.handlers.subcommands import run_subcommand

        return await run_subcommand(self.runtime, user, command, body)
