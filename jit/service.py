"""The use cases as the Slack face sees them: one object, built once from the ports.

Each use case lives in its own module (``requesting``, ``deciding``, ``opening``, ``extensions``,
``revoking``, ``break_glass``, ``follow_ups``, ``ending``, ``telling``, ``reporting``); this module wires them to
one ``Deps`` and to the schedule (``jit.dispatch``: one handler per schedule kind and routine). Every state change
goes through the store's atomic steps (``jit.states``, ``jit.flows``), so concurrent clicks, Slack retries and
several replicas yield one outcome, and people are told from durable schedule items, so a crash after a change
still delivers the message.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta

from jit.approver_access import NO_APPROVER_SCREEN, ApproverScreen
from jit.authorisation import Authorisation
from jit.azure_sync import AzureSync, SyncReport
from jit.break_glass import BreakGlass
from jit.clock import Clock
from jit.deciding import Deciding
from jit.deps import Deps, ServiceConfig
from jit.dispatch import Dispatch
from jit.displacement import Displacement
from jit.ending import Ending
from jit.extensions import Extensions, parse_extension_ref
from jit.follow_ups import FollowUps
from jit.granting import Granting
from jit.hints import RequestHint
from jit.model import AccessRequest, HeldPort, VirtualMachine
from jit.opening import Opening
from jit.ports import AzureJit, Directory, LifecycleNotifier, Notifier
from jit.ports.records import PolicyRefusals, RequestRecords, Timetable
from jit.reporting import AuditTrail, Reporting, ReviewPoster
from jit.requester_access import NO_SCREEN, RequesterScreen
from jit.requesting import Requesting
from jit.results import Decision, ExtensionAsked, RequestDraft, Reviewed, Revoked, Submitted
from jit.review import AccessReview
from jit.revoking import Revoking
from jit.routing import Router
from jit.schedule_items import Kind, Routine
from jit.suggesting import Suggestion
from jit.telling import Telling

__all__ = ["JitService", "ServiceConfig"]


class JitService:
    """The use cases, wired to Azure, the store, the schedule and the notifiers."""

    def __init__(
        self,
        *,
        azure: AzureJit,
        store: RequestRecords,
        schedule: Timetable,
        notifier: Notifier,
        directory: Directory,
        router: Router,
        clock: Clock,
        config: ServiceConfig,
        notices: LifecycleNotifier,
        access: Authorisation,
        granting: Granting,
        trail: AuditTrail,
        reviews: ReviewPoster,
        policy_refusals: PolicyRefusals,
        wake: Callable[[], None] = lambda: None,
        run_now: Callable[[str], None] | None = None,
        requester_screen: RequesterScreen = NO_SCREEN,
        approver_screen: ApproverScreen = NO_APPROVER_SCREEN,
    ):
        displacement = Displacement(store, clock, wake)
        self.access = access
        deps = Deps(
            azure=azure,
            store=store,
            schedule=schedule,
            notifier=notifier,
            notices=notices,
            directory=directory,
            router=router,
            clock=clock,
            config=config,
            access=self.access,
            granting=granting,
            displacement=displacement,
            wake=wake,
            run_now=run_now,
        )
        self.granting = granting
        self.sync = AzureSync(
            azure=azure,
            store=store,
            schedule=schedule,
            granting=granting,
            displacement=displacement,
            notices=notices,
            clock=clock,
            interval=config.sync_interval,
            wake=wake,
        )
        telling = Telling(deps)
        opening = Opening(deps)
        self.requesting = Requesting(deps, opening, policy_refusals, requester_screen)
        self.deciding = Deciding(deps, opening, telling.outcome, approver_screen)
        self.extensions = Extensions(deps)
        self.revoking = Revoking(deps)
        self.break_glass = BreakGlass(deps)
        self.reporting = Reporting(
            records=store,
            trail=trail,
            azure=azure,
            poster=reviews,
            schedule=schedule,
            access=access,
            clock=clock,
            reviewers=config.reviewers,
            channel=config.review_channel,
        )
        follow_ups = FollowUps(deps)
        ending = Ending(deps, self.sync)
        self.dispatch = Dispatch(
            [
                (Kind.CARD, telling.card),
                (Kind.OUTCOME, telling.outcome),
                (Kind.QUEUED, telling.queued),
                (Kind.LOST, telling.ports_lost),
                (Kind.DISPLACED, telling.outside_closed),
                (Kind.TIMEOUT, self.deciding.time_out),
                (Kind.RECONCILE, opening.reconcile),
                (Kind.GRANT, opening.grant_queued),
                (Kind.REMIND, ending.remind),
                (Kind.EXPIRE, ending.expire),
                (Kind.NUDGE, follow_ups.nudge),
                (Kind.ESCALATE, follow_ups.escalate),
                (Kind.GLASS, self.break_glass.announce),
                (Kind.REVIEW, self.break_glass.review_due),
                (Kind.REVIEWED, self.break_glass.review_shown),
                (Kind.CLOSE, self.revoking.close),
                (Kind.EXT_CARD, self.extensions.post_card),
                (Kind.EXT_TIMEOUT, self.extensions.time_out),
                (Kind.EXT_RECONCILE, self.extensions.reconcile),
                (Kind.EXT_DONE, self.extensions.announce),
            ],
            store,
            [(Routine.SYNC, self.sync.run_scheduled), (Routine.WEEKLY_REVIEW, self.reporting.weekly)],
        )

    async def submit(self, draft: RequestDraft) -> Submitted:
        """Validate a request against the VM's policy and the rules, store it, and queue its approval card."""
        return await self.requesting.submit(draft)

    async def suggest(self, requester: str, asked: RequestHint) -> Suggestion:
        """The request nearest to ``asked`` that ``requester`` could make and the checks accept (or why none)."""
        return await self.requesting.suggesting.nearest(requester, asked)

    async def ask_again(self, request_id: str, user: str) -> Submitted:
        """The same access again as a new request; only its requester may."""
        return await self.requesting.ask_again(request_id, user)

    async def approve(self, request_id: str, approver: str) -> Decision:
        """Approve a request (``<id>``) or an extension (``<id>#ext<n>``); exactly one approval makes the one
        Azure call."""
        if parse_extension_ref(request_id):
            return await self.extensions.approve(request_id, approver)
        return await self.deciding.approve(request_id, approver)

    async def deny(self, request_id: str, approver: str, reason: str = "") -> Decision:
        """Deny a pending request (with the approver's optional ``reason``) or extension; the card and the
        requester are told."""
        if parse_extension_ref(request_id):
            return await self.extensions.deny(request_id, approver)
        return await self.deciding.deny(request_id, approver, reason)

    async def may_deny(self, request_id: str, approver: str) -> AccessRequest:
        """The pending request ``approver`` may deny (raises NotAllowed, audited, otherwise)."""
        return await self.deciding.may_deny(request_id, approver)

    async def cancel(self, request_id: str, user: str) -> Decision:
        """The requester withdraws a pending request."""
        return await self.deciding.cancel(request_id, user)

    async def extend(self, request_id: str, user: str, duration: timedelta | None = None) -> ExtensionAsked:
        """More time on top of the current end (default: as long as the original), capped by the policy's maximum
        from now, approved like a request."""
        return await self.extensions.request(request_id, user, duration)

    async def revoke(self, request_id: str, user: str) -> Revoked:
        """Close open access early: NSG rules removed, request revoked, card, requester and on-call told."""
        return await self.revoking.revoke(request_id, user)

    async def acknowledge_review(self, request_id: str, user: str) -> Reviewed:
        """An approver or admin has reviewed a break-glass grant; its escalation stops."""
        return await self.break_glass.acknowledge_review(request_id, user)

    async def report(self, user: str, days: int) -> AccessReview:
        """Send ``user`` (an approver or admin) the access review of the last ``days`` days by DM."""
        return await self.reporting.on_demand(user, days)

    async def approves_for(self, user: str, vm: VirtualMachine) -> bool:
        """Whether ``user`` approves for the rule that applies to ``vm`` now, or is an admin."""
        return await self.access.approves_for(user, vm)

    async def may_approve(self, user: str, request: AccessRequest) -> bool:
        """Whether ``user`` is one of the request's approvers (never its requester)."""
        return await self.access.may_approve(user, request)

    async def shared_with(self, request: AccessRequest) -> tuple[HeldPort, ...]:
        """The other holders of an open grant's ports who share its source (``Granting.shared_with``)."""
        return await self.granting.shared_with(request)

    async def sync_with_azure(self) -> SyncReport:
        """Compare every active grant with Azure's JIT history now (the periodic sync runs the same)."""
        return await self.sync.run()

    async def handle_due(self, key: str) -> None:
        """Run one scheduled item; safe to run again for the same key (at-least-once delivery)."""
        await self.dispatch.handle(key)
