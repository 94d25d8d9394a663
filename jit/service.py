"""The use cases: request, approve, deny, cancel, and what happens when scheduled work falls due.

Every state change goes through ``RequestStore.transition`` (one atomic Redis step that also writes the audit
record and the schedule), so concurrent clicks, Slack retries and several replicas yield one outcome. People are
told things through durable ``outcome:``/``card:`` schedule items, so a crash after a state change still
delivers the message (at least once; the notifier renders from current state, so a repeat is harmless).
"""

from __future__ import annotations

import hashlib
import logging
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from jit import extras
from jit.autoapprove import auto_approval, member_of
from jit.azure_sync import DEFAULT_INTERVAL as DEFAULT_SYNC_INTERVAL
from jit.azure_sync import SYNC_ITEM, AzureSync, SyncReport
from jit.clock import Clock
from jit.displacement import Displacement
from jit.errors import NotAllowed, RequestRejected, UnknownRequest
from jit.extensions import ExtensionAsked, Extensions, parse_extension_ref
from jit.granting import Blocked, Granting, NotConfigured, VmBusy
from jit.hints import Command, command_hint, request_hint
from jit.holder_notes import conflict_text, holders_json
from jit.holdings import same_network
from jit.justification import parse_justification
from jit.lifecycle import Lifecycle, Reviewed, Revoked, pending_schedule
from jit.model import AccessRequest, HeldPort, RequestState, VirtualMachine
from jit.policy_check import check_against_policy
from jit.port_survey import held_ports
from jit.ports import AzureJit, Directory, LifecycleNotifier, Notifier
from jit.ports.azure_errors import AzureJitError
from jit.requester_access import NO_SCREEN, RequesterScreen
from jit.routing import DEFAULT_REVIEW_WITHIN, ConflictChoice, Route, Router
from jit.sharing import OpeningPlan, others, plan_opening
from jit.sources import WidePrefixes, refuse_wide_source, wide_source_extra
from jit.store.locks import Locks
from jit.store.requests import RequestStore, TooManyPending, new_request_id
from jit.store.schedule import Schedule

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class ServiceConfig:
    """Timings and defaults the use cases need (from Settings)."""

    request_ttl: timedelta
    remind_before: timedelta
    default_source: str
    max_pending_per_user: int = 5
    max_duration: timedelta | None = None
    reconcile_after: timedelta = timedelta(minutes=3)
    admins: tuple[str, ...] = ()
    review_within: timedelta = DEFAULT_REVIEW_WITHIN
    max_queue_wait: timedelta = timedelta(hours=24)
    sync_interval: timedelta = DEFAULT_SYNC_INTERVAL
    wide_sources: WidePrefixes = field(default_factory=WidePrefixes)


@dataclass(frozen=True)
class RequestDraft:
    """What an engineer asked for, already parsed by the Slack face."""

    requester: str
    vm: str
    ports: tuple[int, ...]
    duration: timedelta
    source: str | None
    reason: str
    break_glass: bool = False


@dataclass(frozen=True)
class Submitted:
    """The request that now waits for approval; ``created`` is False when an identical one was pending."""

    request: AccessRequest
    created: bool


@dataclass(frozen=True)
class Decision:
    """The result of a click: ``acted`` is False when someone else had already decided.

    ``recorded`` means the approval counted toward a quorum (or an extension's quorum) that is not met yet.
    """

    request: AccessRequest
    acted: bool
    recorded: bool = False


def _key(kind: str, request_id: str) -> str:
    return f"{kind}:{request_id}"


class JitService:
    """The use cases, wired to Azure, the store, the schedule and the notifier."""

    def __init__(
        self,
        *,
        azure: AzureJit,
        store: RequestStore,
        schedule: Schedule,
        notifier: Notifier,
        directory: Directory,
        router: Router,
        clock: Clock,
        config: ServiceConfig,
        notices: LifecycleNotifier,
        locks: Locks,
        wake: Callable[[], None] = lambda: None,
        requester_screen: RequesterScreen = NO_SCREEN,
    ):
        self.azure = azure
        self.store = store
        self.schedule = schedule
        self.notifier = notifier
        self.directory = directory
        self.router = router
        self.clock = clock
        self.config = config
        self._wake = wake
        self.granting = Granting(azure, store, clock, locks)
        self.displacement = Displacement(store, clock, wake)
        self.requester_screen = requester_screen
        self.lifecycle = Lifecycle(self, notices, wake)
        self.extensions = Extensions(self, notices, wake)
        self.sync = AzureSync(
            azure=azure,
            store=store,
            schedule=schedule,
            granting=self.granting,
            displacement=self.displacement,
            notices=notices,
            clock=clock,
            interval=config.sync_interval,
            wake=wake,
        )

    async def submit(self, draft: RequestDraft) -> Submitted:
        """Validate a request against the VM's policy and our rules, store it, and queue its approval card."""
        vm = await self.azure.find_vm(draft.vm)
        route = self.router.route(vm)
        label = draft.vm
        if not route.anyone_may_request and not await self._is_member(draft.requester, route.requesters):
            raise NotAllowed(f"You are not allowed to request access to `{label}` (rule `{route.name}`).")
        if draft.break_glass:
            await self.lifecycle.check_break_glass(draft.requester, route, label)
        if route.reason_required and not draft.reason.strip():
            raise RequestRejected(
                f"A reason is required for `{label}`.",
                request_hint(draft.ports, label, draft.duration, draft.source, "INC-1234 fixing deploy"),
            )
        if route.ticket_pattern and not draft.break_glass and not _contains(route.ticket_pattern, draft.reason):
            raise RequestRejected(
                f"The reason for `{label}` must mention a ticket matching `{route.ticket_pattern}`.",
                request_hint(draft.ports, label, draft.duration, draft.source, "INC-1234 fixing deploy"),
            )
        policy = await self.azure.policy_for(vm.ref)
        if policy is None:
            raise RequestRejected(
                f"Just-in-time access is not configured for `{label}`; ask a jitbot admin to enable it. "
                "These VMs have it:",
                command_hint(Command.LIST, "configured"),
            )
        source = draft.source or self.config.default_source
        limit = _tighter(self.config.max_duration, route.max_duration)
        check_against_policy(
            policy,
            vm_label=label,
            ports=draft.ports,
            duration=draft.duration,
            source=source,
            reason=draft.reason,
            extra_max=limit,
        )
        await refuse_wide_source(
            self.store.record,
            self.config.wide_sources,
            route,
            requester=draft.requester,
            vm_label=label,
            source=source,
            ports=draft.ports,
            duration=draft.duration,
            reason=draft.reason,
            suggestion=self.config.default_source,
        )
        requester_rbac = await self.requester_screen.screen(draft.requester, vm.ref)
        now = self.clock.now()
        preview = await self._preview(vm, draft.ports, source, now + draft.duration)
        if preview.displaced and route.on_conflict is ConflictChoice.REFUSE:
            raise RequestRejected(
                f"{conflict_text(preview.displaced)} The rule `{route.name}` does not let a new grant close it, "
                f"so ask again once it has ended.",
                command_hint(Command.STATUS, label),
            )
        automatic = (
            draft.break_glass
            or (
                await auto_approval(
                    route,
                    requester=draft.requester,
                    ports=draft.ports,
                    duration=draft.duration,
                    now=now,
                    directory=self.directory,
                    audit=self.store.record,
                )
            ).allowed
        )
        extra = {
            **_vm_extra(vm, route),
            **extras.route_snapshot(route, automatic=automatic),
            **wide_source_extra(source, self.config.wide_sources),
            **requester_rbac,
        }
        if preview.sharing or preview.displaced:
            extra[extras.PORT_HOLDERS] = holders_json(preview)
        if draft.break_glass:
            extra[extras.BREAK_GLASS] = extras.TRUE
        elif automatic:
            extra[extras.AUTO_APPROVED] = route.name
        request = AccessRequest(
            id=new_request_id(),
            requester=draft.requester,
            vm=vm.ref,
            ports=draft.ports,
            source=source,
            duration=draft.duration,
            reason=draft.reason,
            state=RequestState.PENDING,
            created_at=now,
            card_channel=route.approval_channel,
            policy_id=policy.id,
            extra=extra,
        )
        try:
            created = await self.store.create(
                request,
                dedupe_key=_dedupe_key(request),
                max_pending_per_user=self.config.max_pending_per_user,
                schedule={} if automatic else pending_schedule(route, request.id, now, self.config.request_ttl),
            )
        except TooManyPending as exc:
            raise RequestRejected(
                f"You already have {exc.count} requests waiting for approval. Wait for them, or cancel one "
                "(your status shows their ids):",
                command_hint(Command.STATUS),
            ) from None
        if created.created and automatic:
            return Submitted(await self._approve_now(created.request), True)
        if created.created:
            self._wake()
        return Submitted(created.request, created.created)

    async def approve(self, request_id: str, approver: str) -> Decision:
        """Approve and grant: exactly one approver wins the pending→approved step and makes the one Azure call.

        With a quorum, each approval is appended atomically; the one that completes it attempts the move.
        """
        if parse_extension_ref(request_id):
            return await self.extensions.approve(request_id, approver)
        request = await self._get(request_id)
        await self._authorise_decision(request, approver, "approve")
        now = self.clock.now()
        if extras.quorum(request) > 1:
            counted = await self.store.update_fields(
                request_id,
                {},
                actor=approver,
                event="approval_recorded",
                expect_states={RequestState.PENDING},
                append={"approvals": approver},
            )
            if not counted.ok:
                return Decision(counted.request, acted=False)
            if len(counted.request.approvals) < extras.quorum(request):
                if counted.changed:
                    await self.schedule.add(_key("card", request_id), now)
                    self._wake()
                return Decision(counted.request, acted=counted.changed, recorded=True)
        won = await self.store.transition(
            request_id,
            RequestState.APPROVED,
            actor=approver,
            fields={"approver": approver, "decided_at": now.isoformat()},
            schedule={_key("reconcile", request_id): now + self.config.reconcile_after},
            unschedule=[_key("timeout", request_id)],
        )
        if not won.ok:
            return Decision(won.request, acted=False)
        return Decision(await self._grant(won.request), acted=True)

    async def deny(self, request_id: str, approver: str) -> Decision:
        """Deny a pending request (a single Deny ends a quorum too); the card and the requester are told."""
        if parse_extension_ref(request_id):
            return await self.extensions.deny(request_id, approver)
        request = await self._get(request_id)
        await self._authorise_decision(request, approver, "deny")
        now = self.clock.now()
        result = await self.store.transition(
            request_id,
            RequestState.DENIED,
            actor=approver,
            fields={"approver": approver, "decided_at": now.isoformat()},
            schedule={_key("outcome", request_id): now},
            unschedule=[_key("timeout", request_id)],
        )
        if result.ok:
            self._wake()
        return Decision(result.request, acted=result.ok)

    async def cancel(self, request_id: str, user: str) -> Decision:
        """The requester withdraws a pending request."""
        request = await self._get(request_id)
        if request.requester != user:
            await self.store.record("cancel_refused", actor=user, request_id=request_id)
            raise NotAllowed("Only the person who asked can cancel a request.")
        now = self.clock.now()
        result = await self.store.transition(
            request_id,
            RequestState.CANCELLED,
            actor=user,
            fields={"decided_at": now.isoformat()},
            schedule={_key("outcome", request_id): now},
            unschedule=[_key("timeout", request_id)],
        )
        if result.ok:
            self._wake()
        return Decision(result.request, acted=result.ok)

    async def ask_again(self, request_id: str, user: str) -> Submitted:
        """The same access again (VM, ports, source, duration, reason) as a new request; only its requester may."""
        previous = await self._get(request_id)
        if user != previous.requester:
            await self.store.record("ask_again_refused", actor=user, request_id=previous.id)
            raise NotAllowed("Only the person who asked for this access can ask for it again.")
        vm = previous.vm
        return await self.submit(
            RequestDraft(
                requester=user,
                vm=f"{vm.subscription_id}/{vm.resource_group}/{vm.name}",
                ports=previous.ports,
                duration=previous.duration,
                source=previous.source,
                reason=previous.reason,
            )
        )

    async def extend(self, request_id: str, user: str, duration: timedelta | None = None) -> ExtensionAsked:
        """More time on top of the current end (default: as long as the original), capped by the policy's maximum
        from now, approved like a request."""
        return await self.extensions.request(request_id, user, duration)

    async def revoke(self, request_id: str, user: str) -> Revoked:
        """Close open access early: NSG rules removed, request revoked, card, requester and on-call told."""
        return await self.lifecycle.revoke(request_id, user)

    async def acknowledge_review(self, request_id: str, user: str) -> Reviewed:
        """An approver or admin has reviewed a break-glass grant; its escalation stops."""
        return await self.lifecycle.acknowledge_review(request_id, user)

    async def approves_for(self, user: str, vm: VirtualMachine) -> bool:
        """Whether ``user`` is one of the approvers of the rule that applies to ``vm`` (or an admin)."""
        return await self._is_member(user, self.router.route(vm).approvers) or await self._is_member(
            user, self.config.admins
        )

    async def shared_with(self, request: AccessRequest) -> tuple[HeldPort, ...]:
        """The other holders of an open grant's ports, from cached reads. They share the grant's own source, so
        the holder sees who they are (not another source, which is for approvers and admins only)."""
        survey = await self.granting.survey(request.vm, fresh=False)
        mine = {
            n: held
            for n, held in others(survey.holders, request.id).items()
            if n in request.open_ports and same_network(held.source, request.source)
        }
        return held_ports(mine, viewer=request.requester, detailed=True)

    async def may_approve(self, user: str, request: AccessRequest) -> bool:
        """Whether ``user`` is one of the approvers of the request's route (never the requester)."""
        if user == request.requester:
            return False
        stored = request.extra.get("approvers", "")
        approvers = tuple(stored.split(",")) if stored else self.router.route(VirtualMachine(request.vm)).approvers
        return await self._is_member(user, approvers)

    async def sync_with_azure(self) -> SyncReport:
        """Compare every active grant with Azure's JIT history now (the periodic sync runs the same)."""
        return await self.sync.run()

    async def handle_due(self, key: str) -> None:
        """Run one scheduled item; safe to run again for the same key (at-least-once delivery)."""
        if key == SYNC_ITEM:
            await self.sync.run_scheduled()
            return
        kind, _, request_id = key.partition(":")
        handler = {
            "card": self._post_card,
            "outcome": self._announce_outcome,
            "timeout": self._time_out,
            "reconcile": self._reconcile,
            "remind": self._remind,
            "expire": self._expire,
            "grant": self._grant_queued,
            "queued": self._tell_queued,
            **self.lifecycle.handlers(),
            **self.extensions.handlers(),
        }.get(kind)
        if handler is None:
            log.warning("schedule.unknown_item", extra={"key": key})
            return
        request = await self.store.get(request_id)
        if request is None:
            log.warning("schedule.unknown_request", extra={"request_id": request_id})
            return
        await handler(request)

    async def _preview(self, vm: VirtualMachine, ports: tuple[int, ...], source: str, end: datetime) -> OpeningPlan:
        """Whose access approving would keep open or close, from cached reads (no ARM call when warm)."""
        survey = await self.granting.survey(vm.ref, fresh=False)
        return plan_opening(ports, source, end, survey.holders, {})

    async def _grant(self, request: AccessRequest) -> AccessRequest:
        """Open the request's ports in Azure (sharing or displacing other holders as its rule says)."""
        approver = extras.granted_by(request)
        own_end = self.clock.now() + request.duration
        choice = extras.conflict_choice(request)
        try:
            opened = await self.granting.open(request, request.ports, own_end, approved_by=approver, choice=choice)
        except NotConfigured:
            return await self._finish_failed(
                request, approver, "JIT is no longer configured for this VM, so Azure cannot open the port."
            )
        except AzureJitError as exc:
            log.warning("azure.initiate_failed", extra={"request_id": request.id, "error": type(exc).__name__})
            return await self._finish_failed(request, approver, exc.user_message)
        except VmBusy:
            return await self._finish_failed(
                request,
                approver,
                "Another change to this VM's access took too long, so nothing was opened. Please ask again.",
            )
        if isinstance(opened, Blocked):
            if opened.choice is ConflictChoice.QUEUE:
                return await self._queue(request, opened.plan)
            return await self._finish_failed(
                request,
                approver,
                f"{conflict_text(opened.plan.displaced)} This VM's rule does not let a new grant close it, so "
                "nothing was opened; ask again once it has ended.",
            )
        active = await self._activate(request, approver, opened.start, own_end)
        await self.displacement.apply(active, opened.plan)
        return active

    async def _queue(self, request: AccessRequest, plan: OpeningPlan) -> AccessRequest:
        """Wait for the port to free up (rule ``on_conflict: queue``), within ``max_queue_wait`` of the approval."""
        now = self.clock.now()
        free_at = plan.free_at or now
        approved_at = request.decided_at or now
        if free_at > approved_at + self.config.max_queue_wait:
            return await self._finish_failed(
                request,
                extras.granted_by(request),
                f"{conflict_text(plan.displaced)} That is too long to wait, so nothing was opened; ask again later.",
            )
        result = await self.store.update_fields(
            request.id,
            {extras.key(extras.QUEUED_UNTIL): free_at.isoformat(), extras.key(extras.PORT_HOLDERS): holders_json(plan)},
            actor="jitbot",
            event="queued",
            audit={"until": free_at.isoformat()},
            expect_states={RequestState.APPROVED},
            schedule={
                _key("grant", request.id): free_at,
                _key("reconcile", request.id): free_at + self.config.reconcile_after,
                _key("queued", request.id): now,
            },
        )
        self._wake()
        return result.request

    async def _grant_queued(self, request: AccessRequest) -> None:
        """A queued request's turn: take it off the queue (one replica wins), then try to open it again."""
        queued = request.extra.get(extras.QUEUED_UNTIL)
        if request.state is not RequestState.APPROVED or not queued:
            return
        taken = await self.store.update_fields(
            request.id,
            {extras.key(extras.QUEUED_UNTIL): None},
            actor="jitbot",
            event="dequeued",
            expect_states={RequestState.APPROVED},
            expect_fields={extras.key(extras.QUEUED_UNTIL): queued},
            schedule={_key("reconcile", request.id): self.clock.now() + self.config.reconcile_after},
        )
        if taken.ok and taken.changed:
            await self._grant(taken.request)

    async def _tell_queued(self, request: AccessRequest) -> None:
        """Tell the requester (and the card) that the approved request waits for the port."""
        if request.state is not RequestState.APPROVED or not request.extra.get(extras.QUEUED_UNTIL):
            return
        if request.card_ts:
            await self.notifier.update_card(request)
        marker = f"told:queued:{request.id}:{request.extra.get(extras.QUEUED_UNTIL)}"
        if not await self.schedule.is_done(marker):
            await self.notifier.tell_requester(request)
            await self.schedule.mark_done(marker)

    async def _activate(self, request: AccessRequest, actor: str, start: datetime, end: datetime) -> AccessRequest:
        now = self.clock.now()
        schedule = {_key("outcome", request.id): now, _key("expire", request.id): end}
        remind_at = end - self.config.remind_before
        if remind_at > now or (end > now and end - start > self.config.remind_before):
            schedule[_key("remind", request.id)] = max(remind_at, now)
        result = await self.store.transition(
            request.id,
            RequestState.ACTIVE,
            actor=actor,
            fields={"starts_at": start.isoformat(), "ends_at": end.isoformat()},
            schedule=schedule,
            unschedule=[_key("reconcile", request.id)],
        )
        self._wake()
        return result.request

    async def _finish_failed(self, request: AccessRequest, actor: str, failure: str) -> AccessRequest:
        result = await self.store.transition(
            request.id,
            RequestState.FAILED,
            actor=actor,
            fields={"failure": failure},
            schedule={_key("outcome", request.id): self.clock.now()},
            unschedule=[_key("reconcile", request.id)],
            audit={"failure": failure},
        )
        self._wake()
        return result.request

    async def _approve_now(self, request: AccessRequest) -> AccessRequest:
        """Auto-approved by its rule, or break-glass: approved without a person and granted at once."""
        now = self.clock.now()
        glass = extras.is_break_glass(request)
        schedule = {_key("card", request.id): now, _key("reconcile", request.id): now + self.config.reconcile_after}
        if glass:
            schedule[_key("glass", request.id)] = now + self.config.reconcile_after
            schedule[_key("review", request.id)] = now + extras.review_within(request, self.config.review_within)
        won = await self.store.transition(
            request.id,
            RequestState.APPROVED,
            actor=request.requester if glass else "jitbot",
            fields={"decided_at": now},
            schedule=schedule,
            audit={"break_glass": extras.TRUE}
            if glass
            else {"auto_approved_by_rule": request.extra[extras.AUTO_APPROVED]},
        )
        self._wake()
        if not won.ok:
            return won.request
        granted = await self._grant(won.request)
        if glass:
            await self.schedule.add(_key("glass", request.id), self.clock.now())
            self._wake()
        return granted

    async def _authorise_decision(self, request: AccessRequest, user: str, verb: str) -> None:
        if user == request.requester:
            await self.store.record(f"{verb}_refused", actor=user, request_id=request.id, detail={"why": "self"})
            raise NotAllowed(f"You cannot {verb} your own request; another approver has to.")
        if not await self.may_approve(user, request):
            await self.store.record(
                f"{verb}_refused", actor=user, request_id=request.id, detail={"why": "not_approver"}
            )
            raise NotAllowed(f"You are not one of the approvers for `{request.vm.name}`, so you cannot {verb} it.")

    async def _get(self, request_id: str) -> AccessRequest:
        request = await self.store.get(request_id)
        if request is None:
            raise UnknownRequest(request_id)
        return request

    async def _is_member(self, user: str, principals: tuple[str, ...]) -> bool:
        return await member_of(self.directory, user, principals)

    async def _post_card(self, request: AccessRequest) -> None:
        if request.card_ts:
            await self.notifier.update_card(request)
            return
        ts = await self.notifier.post_card(request)
        await self.store.update_fields(request.id, {"card_ts": ts}, actor="jitbot", event="card_posted")

    async def _announce_outcome(self, request: AccessRequest) -> None:
        if request.card_ts:
            await self.notifier.update_card(request)
        marker = f"told:{request.state.value}:{request.id}"
        if not await self.schedule.is_done(marker):
            await self.notifier.tell_requester(request)
            await self.schedule.mark_done(marker)
        await self.lifecycle.after_outcome(request)

    async def _time_out(self, request: AccessRequest) -> None:
        if request.state is RequestState.PENDING:
            result = await self.store.transition(
                request.id,
                RequestState.TIMED_OUT,
                actor="jitbot",
                fields={"decided_at": self.clock.now().isoformat()},
            )
            if result.ok:
                await self._announce_outcome(result.request)

    async def _reconcile(self, request: AccessRequest) -> None:
        """After a crash between approval and the saved grant: trust Azure's history, never initiate again."""
        if request.state is not RequestState.APPROVED:
            return
        queued = request.extra.get(extras.QUEUED_UNTIL)
        if queued:
            await self.schedule.add(
                _key("reconcile", request.id), datetime.fromisoformat(queued) + self.config.reconcile_after
            )
            return
        policy = await self.azure.policy_for(request.vm)
        records = await self.azure.request_history(policy) if policy else []
        for record in records:
            parsed = parse_justification(record.justification)
            if parsed is None or parsed.request_id != request.id or not record.ports:
                continue
            if parsed.attempt not in request.attempts:
                continue
            own_end = min([record.start + request.duration, *(port.end for port in record.ports)])
            await self._activate(request, "jitbot", record.start, own_end)
            return
        await self._finish_failed(
            request,
            "jitbot",
            "jitbot was interrupted before Azure confirmed the grant, and Azure has no record of it. "
            "Nothing was opened; please request access again.",
        )

    async def _remind(self, request: AccessRequest) -> None:
        marker = f"reminded:{request.id}:{request.ends_at.isoformat() if request.ends_at else ''}"
        if request.state is not RequestState.ACTIVE or await self.schedule.is_done(marker):
            return
        request = await self.sync.check_grant(request)
        if request.state is RequestState.ACTIVE:
            await self.notifier.reminder(request)
            await self.schedule.mark_done(marker)

    async def _expire(self, request: AccessRequest) -> None:
        if request.state is RequestState.ACTIVE:
            if request.ends_at and request.ends_at > self.clock.now():
                await self.schedule.add(_key("expire", request.id), request.ends_at)
                return
            result = await self.store.transition(
                request.id, RequestState.EXPIRED, actor="jitbot", expect_fields={"ends_at": request.ends_at}
            )
            request = result.request
        if request.state is not RequestState.EXPIRED:
            return
        marker = f"expired:{request.id}"
        if not await self.schedule.is_done(marker):
            if request.card_ts:
                await self.notifier.update_card(request)
            await self.notifier.expired(request)
            await self.schedule.mark_done(marker)


def _tighter(a: timedelta | None, b: timedelta | None) -> timedelta | None:
    values = [v for v in (a, b) if v is not None]
    return min(values) if values else None


def _contains(pattern: str, text: str) -> bool:
    return re.search(pattern, text) is not None


def _dedupe_key(request: AccessRequest) -> str:
    parts = [
        request.requester,
        request.vm.id.lower(),
        ",".join(map(str, request.ports)),
        str(int(request.duration.total_seconds())),
        request.source,
        " ".join(request.reason.split()),
    ]
    return hashlib.sha256("|".join(parts).encode()).hexdigest()[:32]


def _vm_extra(vm: VirtualMachine, route: Route) -> dict[str, str]:
    extra = {"route": route.name, "approvers": ",".join(route.approvers)}
    if vm.private_ips:
        extra["private_ips"] = ",".join(vm.private_ips)
    if vm.public_ips:
        extra["public_ips"] = ",".join(vm.public_ips)
    if vm.os_type:
        extra["os_type"] = vm.os_type
    return extra
