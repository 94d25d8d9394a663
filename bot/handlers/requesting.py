"""Submitting a request, however it was typed (the `/jit` line, the request form, or the "from me" page)."""

from __future__ import annotations

import logging

from bot.blocks.common import Message
from bot.blocks.request import requester_confirmation
from bot.blocks.source_link import from_me_unavailable_message, source_link_message
from bot.grammar import RequestAccess
from bot.handlers.errors import message_for
from bot.logs import request_id_var
from bot.runtime import Runtime
from bot.source_page.paths import page_url
from jit.errors import NotAllowed, RequestRejected
from jit.results import RequestDraft
from jit.source_confirmations import draft_from
from jit.store.source_links import PendingSource

log = logging.getLogger(__name__)


async def submit_request(
    runtime: Runtime, user: str, command: RequestAccess, *, requester_name: str = "", reply_channel: str = ""
) -> Message:
    """Hand the request to the use case (or, for `from me`, send the link that asks for the address first)."""
    draft = RequestDraft(
        requester=user,
        vm=command.vm,
        ports=command.ports,
        duration=command.duration,
        source=command.source,
        reason=command.reason,
        break_glass=command.break_glass,
    )
    if command.from_me:
        return await _source_link(runtime, draft, requester_name or user, reply_channel)
    return await submit_draft(runtime, draft)


async def submit_draft(runtime: Runtime, draft: RequestDraft) -> Message:
    """Submit, count it, and build the requester's confirmation."""
    submitted = await runtime.service.submit(draft)
    request_id_var.set(submitted.request.id)
    runtime.metrics.requests.labels(outcome="requested" if submitted.created else "duplicate").inc()
    log.info("request.submitted", extra={"jit_request": submitted.request.id, "new_request": submitted.created})
    return requester_confirmation(submitted.request, already_pending=not submitted.created)


async def _source_link(runtime: Runtime, draft: RequestDraft, requester_name: str, reply_channel: str) -> Message:
    """A one-time link to the page that sees the requester's address; or why there is none."""
    settings = runtime.settings
    if settings.socket_mode or settings.public_url is None:
        await runtime.store.record(
            "source_link_refused",
            actor=draft.requester,
            request_id=None,
            detail={"why": "socket_mode" if settings.socket_mode else "no_public_url", "vm": draft.vm},
        )
        return from_me_unavailable_message(socket_mode=settings.socket_mode)
    token, pending = await runtime.source_confirmations.issue(
        draft, requester_name=requester_name, reply_channel=reply_channel
    )
    return source_link_message(page_url(settings.public_url, token), pending.draft, pending.expires_at)


async def tell_requester(runtime: Runtime, user: str, channel: str, reply: Message) -> None:
    """An ephemeral message in ``channel`` when there is one and it works, else a DM."""
    if channel:
        try:
            await runtime.slack.chat_postEphemeral(channel=channel, user=user, **reply.as_kwargs())
            return
        except Exception:
            log.info("requester.ephemeral_failed_falling_back_to_dm")
    opened = await runtime.slack.conversations_open(users=user)
    await runtime.slack.chat_postMessage(channel=opened["channel"]["id"], **reply.as_kwargs())


async def submit_confirmed(runtime: Runtime, pending: PendingSource, address: str) -> str | None:
    """The "from me" page was confirmed from ``address``: make the request as if typed with ``from <address>``,
    and tell the requester in Slack. Returns the refusal to show on the page, None when the request is in."""
    problem: str | None = None
    try:
        reply = await submit_draft(runtime, draft_from(pending, address))
    except Exception as exc:
        reply = message_for(exc)
        problem = exc.problem if isinstance(exc, RequestRejected | NotAllowed) else "jitbot could not make the request."
    try:
        await tell_requester(runtime, pending.draft.requester, pending.reply_channel, reply)
    except Exception as exc:
        log.warning("from_me.tell_failed", extra={"error": type(exc).__name__})
    return problem
