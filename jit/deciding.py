"""Deciding a pending request: approve (alone or towards a quorum), deny, cancel, or time out.

Every move is one ``RequestStore.transition`` (``jit.states``), so of concurrent clicks, Slack retries and
replicas exactly one wins; the others get ``acted=False`` and the request as it now is. With a quorum, each
approval is appended atomically and the one that completes it attempts ``pending → approved``; that approval
alone makes the Azure call (``jit.opening``).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from jit.approver_access import NO_APPROVER_SCREEN, ApproverScreen
from jit.deps import Deps
from jit.errors import NotAllowed
from jit.model import AccessRequest, RequestState
from jit.opening import Opening
from jit.request_extras import Extra, extra_field, extras_of
from jit.results import Decision
from jit.schedule_items import Kind, item

MAX_DENY_REASON_CHARS = 500
"""A deny reason is one short paragraph; longer text is cut (the modal's input allows no more)."""


class Deciding:
    """``pending → approved | denied | cancelled | timed_out``; ``tell_outcome`` announces a time-out at once."""

    def __init__(
        self,
        deps: Deps,
        opening: Opening,
        tell_outcome: Callable[[AccessRequest], Awaitable[None]],
        approver_screen: ApproverScreen = NO_APPROVER_SCREEN,
    ):
        self.deps = deps
        self.opening = opening
        self.tell_outcome = tell_outcome
        self.approver_screen = approver_screen

    async def approve(self, request_id: str, approver: str) -> Decision:
        """Count ``approver``'s approval; the one that completes the quorum approves and grants."""
        deps = self.deps
        request = await deps.store.require(request_id)
        await deps.access.check_decision(request, approver, "approve")
        if request.state is RequestState.PENDING:
            await self.approver_screen.check(approver, request)
        now = deps.clock.now()
        quorum = extras_of(request).quorum
        if quorum > 1:
            counted = await deps.store.update_fields(
                request_id,
                {},
                actor=approver,
                event="approval_recorded",
                expect_states={RequestState.PENDING},
                append={"approvals": approver},
            )
            if not counted.ok:
                return Decision(counted.request, acted=False)
            if len(counted.request.approvals) < quorum:
                if counted.changed:
                    await deps.schedule.add(item(Kind.CARD, request_id), now)
                    deps.wake()
                return Decision(counted.request, acted=counted.changed, recorded=True)
        won = await deps.store.transition(
            request_id,
            RequestState.APPROVED,
            actor=approver,
            fields={"approver": approver, "decided_at": now.isoformat()},
            schedule={item(Kind.RECONCILE, request_id): now + deps.config.reconcile_after},
            unschedule=[item(Kind.TIMEOUT, request_id)],
        )
        if not won.ok:
            return Decision(won.request, acted=False)
        return Decision(await self.opening.grant(won.request), acted=True)

    async def may_deny(self, request_id: str, approver: str) -> AccessRequest:
        """The request, if ``approver`` may deny it now (raises NotAllowed, audited, otherwise): checked before the
        Deny button asks for a reason, so nobody writes one only to be refused."""
        request = await self.deps.store.require(request_id)
        await self.deps.access.check_decision(request, approver, "deny")
        return request

    async def deny(self, request_id: str, approver: str, reason: str = "") -> Decision:
        """Deny a pending request (a single Deny ends a quorum too) with the approver's optional ``reason`` (kept
        on the request and in the audit record); the card and the requester are told."""
        await self.may_deny(request_id, approver)
        reason = " ".join(reason.split())[:MAX_DENY_REASON_CHARS]
        fields: dict[str, object] = {"approver": approver}
        if reason:
            fields[extra_field(Extra.DENY_REASON)] = reason
        audit = {"reason": reason} if reason else {}
        return await self._end(request_id, RequestState.DENIED, approver, fields, audit)

    async def cancel(self, request_id: str, user: str) -> Decision:
        """The requester withdraws a pending request."""
        request = await self.deps.store.require(request_id)
        if request.requester != user:
            await self.deps.store.record("cancel_refused", actor=user, request_id=request_id)
            raise NotAllowed("Only the person who asked can cancel a request.")
        return await self._end(request_id, RequestState.CANCELLED, user, {})

    async def time_out(self, request: AccessRequest) -> None:
        """Nobody decided in time (the ``timeout`` item): ``pending → timed_out``, then tell at once."""
        if request.state is not RequestState.PENDING:
            return
        result = await self.deps.store.transition(
            request.id,
            RequestState.TIMED_OUT,
            actor="jitbot",
            fields={"decided_at": self.deps.clock.now().isoformat()},
        )
        if result.ok:
            await self.tell_outcome(result.request)

    async def _end(
        self,
        request_id: str,
        to: RequestState,
        actor: str,
        fields: dict[str, object],
        audit: dict[str, str] | None = None,
    ) -> Decision:
        deps = self.deps
        now = deps.clock.now()
        result = await deps.store.transition(
            request_id,
            to,
            actor=actor,
            fields={**fields, "decided_at": now.isoformat()},
            schedule={item(Kind.OUTCOME, request_id): now},
            unschedule=[item(Kind.TIMEOUT, request_id)],
            audit=audit,
        )
        if result.ok:
            deps.wake()
        return Decision(result.request, acted=result.ok)
