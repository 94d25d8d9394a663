"""Asking for access: a draft checked against the rules and the VM's JIT policy, stored as ``pending``.

The checks run in the order a person can act on (may you ask, JIT on for the VM at all, break-glass group, reason
and ticket, the policy's ports/duration/source, wide sources, who else holds the port), and each refusal says
what would work instead (``jit.hints``). A request its rule approves automatically, or a break-glass one, is
approved and granted at once (``jit.opening``); any other waits for its card's approvers. Asking twice with the
same words hands back the pending request instead of a second one.
"""

from __future__ import annotations

import hashlib
from datetime import datetime

from jit.autoapprove import auto_approval
from jit.deps import Deps
from jit.errors import JitOff, NotAllowed, RequestRejected
from jit.follow_ups import pending_schedule
from jit.hints import Command, RequestHint, command_hint, request_hint
from jit.holder_notes import conflict_text, holders_json
from jit.model import AccessRequest, JitPolicy, RequestState, UnsupportedReason, VirtualMachine
from jit.opening import Opening
from jit.policy_check import check_against_policy, tightest
from jit.ports.azure_errors import VmAmbiguous, VmNotFound
from jit.ports.records import PolicyRefusals, TooManyPending
from jit.reason_check import check_reason
from jit.request_extras import TRUE, Extra
from jit.request_ids import new_request_id
from jit.requester_access import NO_SCREEN, RequesterScreen
from jit.results import RequestDraft, Submitted
from jit.routing import ConflictChoice, Route
from jit.rule_snapshot import route_snapshot, vm_snapshot
from jit.schedule_items import Kind, item
from jit.sharing import OpeningPlan, plan_opening
from jit.sources import refuse_wide_source, wide_source_extra
from jit.suggesting import Suggesting


class Requesting:
    """``submit`` and ``ask_again``."""

    def __init__(
        self,
        deps: Deps,
        opening: Opening,
        policy_refusals: PolicyRefusals,
        requester_screen: RequesterScreen = NO_SCREEN,
    ):
        self.deps = deps
        self.opening = opening
        self.policy_refusals = policy_refusals
        self.requester_screen = requester_screen
        self.suggesting = Suggesting(deps)

    async def submit(self, draft: RequestDraft) -> Submitted:
        """Validate a request against the VM's policy and the rules, store it, and queue its approval card.

        A refusal's suggested request has itself passed the checks (``jit.suggesting``), and a VM name that
        matches nothing suggests the VM most likely meant."""
        try:
            return await self._submit(draft)
        except RequestRejected as exc:
            raise await self.suggesting.checked(exc, draft.requester) from None
        except VmNotFound as exc:
            if not exc.nearest:
                raise
            found = await self.suggesting.nearest(draft.requester, _asked(draft, exc.nearest[0]))
            raise VmNotFound(exc.user_message, hint=found.hint, nearest=exc.nearest) from None
        except VmAmbiguous as exc:
            if not exc.candidates:
                raise
            found = await self.suggesting.nearest(draft.requester, _asked(draft, exc.specs[0]))
            raise VmAmbiguous(exc.name, exc.candidates, hint=found.hint) from None

    async def _submit(self, draft: RequestDraft) -> Submitted:
        deps = self.deps
        vm = await deps.azure.find_vm(draft.vm)
        route = deps.router.route(vm)
        label = draft.vm
        await self._check_may_ask(draft, route, label)
        policy = await self._policy_or_refusal(vm, label)
        await self._check_asker(draft, route, label)
        check_reason(
            route,
            label,
            request_hint(draft.ports, label, draft.duration, draft.source, draft.reason, draft.break_glass),
        )
        source = draft.source or deps.config.default_source
        check_against_policy(
            policy,
            vm_label=label,
            ports=draft.ports,
            duration=draft.duration,
            source=source,
            reason=draft.reason,
            extra_max=tightest(deps.config.max_duration, route.max_duration),
            typed_source=draft.source,
            break_glass=draft.break_glass,
        )
        await refuse_wide_source(
            deps.store.record,
            deps.config.wide_sources,
            route,
            requester=draft.requester,
            vm_label=label,
            source=source,
            ports=draft.ports,
            duration=draft.duration,
            reason=draft.reason,
            suggestion=deps.config.default_source,
            break_glass=draft.break_glass,
        )
        requester_rbac = await self.requester_screen.screen(draft.requester, vm.ref, route.requester_rbac)
        now = deps.clock.now()
        preview = await self._preview(vm, draft.ports, source, now + draft.duration)
        if preview.displaced and route.on_conflict is ConflictChoice.REFUSE:
            raise RequestRejected(
                f"{conflict_text(preview.displaced)} The rule `{route.name}` does not let a new grant close it, "
                f"so ask again once it has ended.",
                command_hint(Command.STATUS, label),
            )
        automatic = draft.break_glass or await self._auto_approved(draft, route, now)
        extra = {
            **vm_snapshot(vm),
            **route_snapshot(route, automatic=automatic),
            **wide_source_extra(source, deps.config.wide_sources),
            **requester_rbac,
        }
        if preview.sharing or preview.displaced:
            extra[Extra.PORT_HOLDERS.value] = holders_json(preview)
        if draft.break_glass:
            extra[Extra.BREAK_GLASS.value] = TRUE
        elif automatic:
            extra[Extra.AUTO_APPROVED.value] = route.name
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
            created = await deps.store.create(
                request,
                dedupe_key=_dedupe_key(request),
                max_pending_per_user=deps.config.max_pending_per_user,
                schedule={} if automatic else pending_schedule(route, request.id, now, deps.config.request_ttl),
            )
        except TooManyPending as exc:
            waiting = await deps.store.by_requester(draft.requester, [RequestState.PENDING])
            raise RequestRejected(
                f"You already have {exc.count} requests waiting for approval. Wait for them, or cancel one "
                "(this cancels your oldest; your status lists them all):",
                command_hint(Command.CANCEL, waiting[0].id) if waiting else command_hint(Command.STATUS),
            ) from None
        if created.created and automatic:
            return Submitted(await self.opening.approve_now(created.request), True)
        if created.created:
            deps.due_now(item(Kind.CARD, created.request.id))
        return Submitted(created.request, created.created)

    async def ask_again(self, request_id: str, user: str) -> Submitted:
        """The same access again (VM, ports, source, duration, reason) as a new request; only its requester may."""
        previous = await self.deps.store.require(request_id)
        if user != previous.requester:
            await self.deps.store.record("ask_again_refused", actor=user, request_id=previous.id)
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

    async def _check_may_ask(self, draft: RequestDraft, route: Route, label: str) -> None:
        """The rule names the requester: nobody else learns anything about the VM's JIT setup."""
        if not await self.deps.access.may_request(draft.requester, route):
            raise NotAllowed(f"You are not allowed to request access to `{label}` (rule `{route.name}`).")

    async def _policy_or_refusal(self, vm: VirtualMachine, label: str) -> JitPolicy:
        """The VM's JIT policy; without one, a refusal naming what would turn JIT on (an admin, or first whoever
        can fix what keeps Azure from protecting the VM, including an Azure Policy assignment that refused it when an
        admin tried), before the requester is asked for anything else."""
        policy = await self.deps.azure.policy_for(vm.ref)
        if policy is not None:
            return policy
        reasons = await self.deps.azure.unsupported_reasons(vm.ref)
        denial = await self.policy_refusals.get(vm.ref.id)
        if denial is not None:
            reasons = (*reasons, UnsupportedReason.DISABLED_BY_POLICY)
        raise JitOff(label, reasons, denial)

    async def _check_asker(self, draft: RequestDraft, route: Route, label: str) -> None:
        """May break the glass (the rule names its group)."""
        access = self.deps.access
        if draft.break_glass:
            await access.check_break_glass(draft.requester, route, label)

    async def _auto_approved(self, draft: RequestDraft, route: Route, now: datetime) -> bool:
        decision = await auto_approval(
            route,
            requester=draft.requester,
            ports=draft.ports,
            duration=draft.duration,
            now=now,
            directory=self.deps.directory,
            audit=self.deps.store.record,
        )
        return decision.allowed

    async def _preview(self, vm: VirtualMachine, ports: tuple[int, ...], source: str, end: datetime) -> OpeningPlan:
        """Whose access approving would keep open or close, from cached reads (no ARM call when warm)."""
        survey = await self.deps.granting.survey(vm.ref, fresh=False)
        return plan_opening(ports, source, end, survey.holders, {})


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


def _asked(draft: RequestDraft, vm: str) -> RequestHint:
    """Everything the person typed, for ``vm`` in place of the VM they named."""
    return request_hint(draft.ports, vm, draft.duration, draft.source, draft.reason, draft.break_glass)
