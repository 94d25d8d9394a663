"""Opening an approved request in Azure, and what follows from it: active, failed, or queued for a busy port.

``approved → active`` once Azure accepts the initiate (``jit.granting``); ``approved → failed`` when it refuses
or cannot be reached; an ``on_conflict: queue`` rule keeps the request approved and queued until the port frees
up (``jit.flows.QUEUE``). After a crash between the approval and the saved outcome, the ``reconcile`` item
trusts Azure's history and never initiates again.
"""

from __future__ import annotations

import logging
from datetime import datetime

from jit.deps import Deps
from jit.flows import QUEUE, Queue
from jit.granting import Blocked, NotConfigured, VmBusy
from jit.holder_notes import conflict_text, holders_json
from jit.model import AccessRequest, RequestState
from jit.ports.azure_errors import AzureJitError
from jit.request_extras import TRUE, Extra, extra_field, extras_of, granted_by
from jit.routing import ConflictChoice
from jit.schedule_items import Kind, item
from jit.sharing import OpeningPlan

log = logging.getLogger(__name__)

JIT_GONE = "JIT is no longer configured for this VM, so Azure cannot open the port."
VM_BUSY = "Another change to this VM's access took too long, so nothing was opened. Please ask again."
NO_RECORD = (
    "jitbot was interrupted before Azure confirmed the grant, and Azure has no record of it. "
    "Nothing was opened; please request access again."
)


class Opening:
    """``approved`` requests on their way to ``active``."""

    def __init__(self, deps: Deps):
        self.deps = deps

    async def approve_now(self, request: AccessRequest) -> AccessRequest:
        """Auto-approved by its rule, or break-glass: approved without a person and granted at once."""
        deps = self.deps
        now = deps.clock.now()
        extras = extras_of(request)
        glass = extras.break_glass
        reconcile_at = now + deps.config.reconcile_after
        schedule = {item(Kind.CARD, request.id): now, item(Kind.RECONCILE, request.id): reconcile_at}
        if glass:
            schedule[item(Kind.GLASS, request.id)] = reconcile_at
            schedule[item(Kind.REVIEW, request.id)] = now + extras.review_within(deps.config.review_within)
        won = await deps.store.transition(
            request.id,
            RequestState.APPROVED,
            actor=request.requester if glass else "jitbot",
            fields={"decided_at": now},
            schedule=schedule,
            audit={"break_glass": TRUE} if glass else {"auto_approved_by_rule": extras.auto_approved_by or ""},
        )
        deps.wake()
        if not won.ok:
            return won.request
        granted = await self.grant(won.request)
        if glass:
            await deps.schedule.add(item(Kind.GLASS, request.id), deps.clock.now())
            deps.wake()
        return granted

    async def grant(self, request: AccessRequest) -> AccessRequest:
        """Open the request's ports in Azure (sharing or displacing other holders as its rule says)."""
        deps = self.deps
        approver = granted_by(request)
        own_end = deps.clock.now() + request.duration
        choice = extras_of(request).on_conflict
        try:
            opened = await deps.granting.open(request, request.ports, own_end, approved_by=approver, choice=choice)
        except NotConfigured:
            return await self.fail(request, approver, JIT_GONE)
        except AzureJitError as exc:
            log.warning("azure.initiate_failed", extra={"request_id": request.id, "error": type(exc).__name__})
            return await self.fail(request, approver, exc.user_message)
        except VmBusy:
            return await self.fail(request, approver, VM_BUSY)
        if isinstance(opened, Blocked):
            if opened.choice is ConflictChoice.QUEUE:
                return await self._queue(request, opened.plan)
            return await self.fail(
                request,
                approver,
                f"{conflict_text(opened.plan.displaced)} This VM's rule does not let a new grant close it, so "
                "nothing was opened; ask again once it has ended.",
            )
        active = await self.activate(request, approver, opened.start, own_end)
        await deps.displacement.apply(active, opened.plan)
        return active

    async def activate(self, request: AccessRequest, actor: str, start: datetime, end: datetime) -> AccessRequest:
        """``approved → active`` from ``start`` to ``end``, with its outcome, reminder and expiry scheduled."""
        deps = self.deps
        now = deps.clock.now()
        schedule = {item(Kind.OUTCOME, request.id): now, item(Kind.EXPIRE, request.id): end}
        remind_at = end - deps.config.remind_before
        if remind_at > now or (end > now and end - start > deps.config.remind_before):
            schedule[item(Kind.REMIND, request.id)] = max(remind_at, now)
        result = await deps.store.transition(
            request.id,
            RequestState.ACTIVE,
            actor=actor,
            fields={"starts_at": start.isoformat(), "ends_at": end.isoformat()},
            schedule=schedule,
            unschedule=[item(Kind.RECONCILE, request.id)],
        )
        deps.wake()
        return result.request

    async def fail(self, request: AccessRequest, actor: str, failure: str) -> AccessRequest:
        """``approved → failed`` with the reason people are told."""
        deps = self.deps
        result = await deps.store.transition(
            request.id,
            RequestState.FAILED,
            actor=actor,
            fields={"failure": failure},
            schedule={item(Kind.OUTCOME, request.id): deps.clock.now()},
            unschedule=[item(Kind.RECONCILE, request.id)],
            audit={"failure": failure},
        )
        deps.wake()
        return result.request

    async def _queue(self, request: AccessRequest, plan: OpeningPlan) -> AccessRequest:
        """Wait for the port to free up (rule ``on_conflict: queue``), within ``max_queue_wait`` of the approval."""
        deps = self.deps
        now = deps.clock.now()
        free_at = plan.free_at or now
        approved_at = request.decided_at or now
        if free_at > approved_at + deps.config.max_queue_wait:
            return await self.fail(
                request,
                granted_by(request),
                f"{conflict_text(plan.displaced)} That is too long to wait, so nothing was opened; ask again later.",
            )
        step = QUEUE.step(extras_of(request).queued_until_raw, Queue.QUEUED, free_at.isoformat())
        result = await deps.store.update_fields(
            request.id,
            {**step.fields, extra_field(Extra.PORT_HOLDERS): holders_json(plan)},
            actor="jitbot",
            event="queued",
            audit={"until": free_at.isoformat()},
            expect_states={RequestState.APPROVED},
            expect_fields=step.expect,
            schedule={
                item(Kind.GRANT, request.id): free_at,
                item(Kind.RECONCILE, request.id): free_at + deps.config.reconcile_after,
                item(Kind.QUEUED, request.id): now,
            },
        )
        deps.wake()
        return result.request

    async def grant_queued(self, request: AccessRequest) -> None:
        """A queued request's turn: take it off the queue (one replica wins), then try to open it again."""
        queued = extras_of(request).queued_until_raw
        if request.state is not RequestState.APPROVED or not queued:
            return
        step = QUEUE.step(queued, None)
        taken = await self.deps.store.update_fields(
            request.id,
            step.fields,
            actor="jitbot",
            event="dequeued",
            expect_states={RequestState.APPROVED},
            expect_fields=step.expect,
            schedule={item(Kind.RECONCILE, request.id): self.deps.clock.now() + self.deps.config.reconcile_after},
        )
        if taken.ok and taken.changed:
            await self.grant(taken.request)

    async def reconcile(self, request: AccessRequest) -> None:
        """After a crash between approval and the saved grant: trust Azure's history, never initiate again."""
        if request.state is not RequestState.APPROVED:
            return
        queued = extras_of(request).queued_until
        if queued:
            await self.deps.schedule.add(item(Kind.RECONCILE, request.id), queued + self.deps.config.reconcile_after)
            return
        record = await self.deps.granting.confirmed(request)
        if record is None:
            await self.fail(request, "jitbot", NO_RECORD)
            return
        own_end = min([record.start + request.duration, *(port.end for port in record.ports)])
        await self.activate(request, "jitbot", record.start, own_end)
