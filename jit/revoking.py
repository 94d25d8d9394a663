"""Closing access early: ``active → revoked``, then the NSG rules removed without closing anyone else's access.

The requester, an approver or an admin may revoke (``jit.authorisation``); of concurrent revokes, an expiry and
an extension exactly one outcome wins. Closing in Azure goes through ``jit.granting`` and retries from the
``close`` item until it succeeds; the outcome is announced only once the ports are closed.
"""

from __future__ import annotations

import logging
from datetime import timedelta

from jit.deps import Deps
from jit.errors import NotAllowed, RequestRejected
from jit.granting import VmBusy
from jit.hints import Command, command_hint
from jit.model import AccessRequest, RequestState
from jit.ports.azure_errors import AzureJitError
from jit.request_extras import Extra, extra_field, extras_of
from jit.results import Revoked
from jit.schedule_items import Kind, Sent, item

log = logging.getLogger(__name__)

CLOSE_RETRY = timedelta(seconds=30)


class CloseFailed(Exception):
    """Azure did not close the access yet; the scheduler retries the ``close`` item."""


class Revoking:
    """The revoke use case and its ``close`` item."""

    def __init__(self, deps: Deps):
        self.deps = deps

    async def revoke(self, request_id: str, user: str) -> Revoked:
        """Close access early; one outcome however many click."""
        deps = self.deps
        request = await deps.store.require(request_id)
        if not await deps.access.may_revoke(user, request):
            await deps.store.record("revoke_refused", actor=user, request_id=request.id)
            raise NotAllowed(
                f"Only the person who asked, an approver of `{request.vm.name}` or an admin can close this access."
            )
        if request.state is RequestState.PENDING:
            raise RequestRejected(
                f"Request `{request.id}` is still waiting for approval, so nothing is open yet.",
                command_hint(Command.CANCEL, request.id),
            )
        if request.state is RequestState.APPROVED:
            raise RequestRejected(f"Access to `{request.vm.name}` is being opened right now; try again in a moment.")
        if request.state is not RequestState.ACTIVE:
            return Revoked(request, acted=False)
        now = deps.clock.now()
        schedule = {item(Kind.CLOSE, request.id): now + CLOSE_RETRY}
        if extras_of(request).extension.open:
            schedule[item(Kind.EXT_TIMEOUT, request.id)] = now
        result = await deps.store.transition(
            request.id,
            RequestState.REVOKED,
            actor=user,
            fields={"decided_at": now, extra_field(Extra.REVOKED_BY): user},
            schedule=schedule,
            unschedule=[item(Kind.REMIND, request.id), item(Kind.EXPIRE, request.id)],
            audit={"revoked_by": user},
        )
        if not result.ok:
            return Revoked(result.request, acted=False)
        closed = await self._close_now(result.request)
        deps.wake()
        return Revoked(result.request, acted=True, closed=closed)

    async def close(self, request: AccessRequest) -> None:
        """The ``close`` item: retry closing a revoked grant's ports (raises CloseFailed to be retried)."""
        if request.state is RequestState.REVOKED and not await self._close_now(request):
            raise CloseFailed(f"closing access for {request.id} failed; the scheduler retries")

    async def _close_now(self, request: AccessRequest) -> bool:
        """Close the request's access without closing anyone else's; on success audit it once and announce
        the outcome, else leave the retry."""
        deps = self.deps
        closed_by = extras_of(request).revoked_by or "jitbot"
        try:
            plan = await deps.granting.close(request, closed_by=closed_by)
        except (AzureJitError, VmBusy) as exc:
            log.warning("azure.close_access_failed", extra={"request_id": request.id, "error": type(exc).__name__})
            return False
        marker = Sent.closed(request.id)
        if not await deps.schedule.is_done(marker):
            await deps.store.record(
                "access_closed",
                actor="jitbot",
                request_id=request.id,
                detail={
                    "rules_removed_for_ports": ",".join(map(str, plan.delete)),
                    "shortened_for_others": ",".join(f"{p}:{at.isoformat()}" for p, at in sorted(plan.shorten.items())),
                    "already_taken": ",".join(map(str, plan.lost)),
                },
            )
            await deps.schedule.mark_done(marker)
        await deps.schedule.update(
            {item(Kind.OUTCOME, request.id): deps.clock.now()}, remove=[item(Kind.CLOSE, request.id)]
        )
        deps.wake()
        return True
