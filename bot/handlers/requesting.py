"""Submitting a request, however it was typed (the `/jit` line or the request form)."""

from __future__ import annotations

import logging

from bot.blocks.common import Message
from bot.blocks.request import requester_confirmation
from bot.grammar import RequestAccess
from bot.logs import request_id_var
from bot.runtime import Runtime
from jit.results import RequestDraft

log = logging.getLogger(__name__)


async def submit_request(runtime: Runtime, user: str, command: RequestAccess) -> Message:
    """Hand the request to the use case, count it, and build the requester's confirmation."""
    submitted = await runtime.service.submit(
        RequestDraft(
            requester=user,
            vm=command.vm,
            ports=command.ports,
            duration=command.duration,
            source=command.source,
            reason=command.reason,
            break_glass=command.break_glass,
        )
    )
    request_id_var.set(submitted.request.id)
    runtime.metrics.requests.labels(outcome="requested" if submitted.created else "duplicate").inc()
    log.info("request.submitted", extra={"jit_request": submitted.request.id, "new_request": submitted.created})
    return requester_confirmation(submitted.request, already_pending=not submitted.created)
