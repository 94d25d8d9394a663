"""Extending an open grant: more time on top of its current end, approved like a request.

An extension never ends access earlier than it ends now: it adds its duration to the current end, capped by
the policy's (and the rule's) maximum counted from now; when the cap leaves nothing to add it is refused with
the reason. It re-initiates only the ports the grant still holds, through ``jit.granting`` (so a colleague
sharing the port keeps their own end), with its own attempt marker.

The grant stays ``active`` and keeps its id throughout; the extension lives in the grant's extras (see
``jit.extras.Extension``) and moves ``pending → approved → granted`` (or denied / timed out / failed) by
compare-and-set steps on them, so concurrent approvals make exactly one Azure initiate. Nobody may approve an
extension they asked for or that extends their own grant. Once Azure accepts, one atomic step moves the grant's
end, counts the extension and reschedules its reminder and expiry; if the grant was revoked or expired
meanwhile, that step fails and the ports just opened are closed again.

Approvers see a card with ``jit_approve`` / ``jit_deny`` whose value is ``<request id>#ext<n>``, so a click
on an old extension card can never approve a newer one.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

from jit import extras
from jit.autoapprove import auto_approval, member_of
from jit.errors import NotAllowed, RequestRejected, UnknownRequest
from jit.extras import Extension, ExtensionState
from jit.granting import Blocked, NotConfigured, VmBusy
from jit.hints import Command, command_hint, request_hint
from jit.justification import parse_justification
from jit.model import MIN_ACCESS, AccessRequest, RequestState
from jit.policy_check import check_against_policy
from jit.ports import LifecycleNotifier
from jit.ports.azure_errors import AzureJitError
from jit.routing import Route

if TYPE_CHECKING:
    from jit.service import Decision, JitService

log = logging.getLogger(__name__)

EXTENSION_MARK = "#ext"
MAX_APPROVAL_ATTEMPTS = 25
MIN_GAIN = timedelta(minutes=1)
"""An extension that would add less than this is refused rather than sent to Azure."""
DueHandler = Callable[[AccessRequest], Awaitable[None]]
_E = ExtensionState


def extension_ref(request_id: str, seq: int) -> str:
    """The button value naming one extension of one grant."""
    return f"{request_id}{EXTENSION_MARK}{seq}"


def parse_extension_ref(value: str) -> tuple[str, int] | None:
    """``(request id, n)`` from a button value, or None when it names a plain request."""
    request_id, mark, seq = value.partition(EXTENSION_MARK)
    if not mark or not seq.isdigit():
        return None
    return request_id, int(seq)


@dataclass(frozen=True)
class ExtensionAsked:
    """The grant after an extension was asked: ``created`` False when one was already waiting."""

    request: AccessRequest
    created: bool


class Extensions:
    """The extend use cases and the schedule items that follow them (``extcard:``, ``exttimeout:``, …)."""

    def __init__(self, service: JitService, notices: LifecycleNotifier, wake: Callable[[], None]):
        self.service = service
        self.notices = notices
        self._wake = wake

    def handlers(self) -> Mapping[str, DueHandler]:
        """The schedule item kinds this part handles."""
        return {
            "extcard": self._post_card,
            "exttimeout": self._time_out,
            "extreconcile": self._reconcile,
            "extdone": self._announce,
        }

    async def request(self, request_id: str, user: str, duration: timedelta | None) -> ExtensionAsked:
        """Ask for ``duration`` more from now (default: the original length); granted at once where rules allow."""
        service = self.service
        grant = await self._get(request_id)
        if user != grant.requester and not await member_of(service.directory, user, service.config.admins):
            await service.store.record("extend_refused", actor=user, request_id=grant.id)
            raise NotAllowed("Only the person who asked for this access (or an admin) can extend it.")
        if grant.state is not RequestState.ACTIVE:
            raise RequestRejected(
                f"Request `{grant.id}` is not open (it is {grant.state.value.replace('_', ' ')}), so it cannot be "
                "extended. Ask for access again instead.",
                request_hint(grant.ports, f"{grant.vm.resource_group}/{grant.vm.name}", timedelta(hours=1)),
            )
        current = extras.extension(grant)
        if current.open:
            return ExtensionAsked(grant, created=False)
        wanted = duration or grant.duration
        route = await self._route(grant)
        if not route.anyone_may_request and not await member_of(service.directory, grant.requester, route.requesters):
            await service.store.record("extend_refused", actor=user, request_id=grant.id, detail={"why": "requester"})
            raise NotAllowed(f"The rule `{route.name}` no longer lets this person ask for `{grant.vm.name}`.")
        until = await self._new_end(grant, route, wanted)
        now = service.clock.now()
        decision = await auto_approval(
            route,
            requester=grant.requester,
            ports=grant.ports,
            duration=wanted,
            now=now,
            directory=service.directory,
            audit=service.store.record,
            request_id=grant.id,
        )
        seq = current.seq + 1
        fields: dict[str, object] = {
            extras.key(extras.EXT_SEQ): str(seq),
            extras.key(extras.EXT_STATE): (_E.APPROVED if decision.allowed else _E.PENDING).value,
            extras.key(extras.EXT_DURATION): extras.seconds(wanted),
            extras.key(extras.EXT_BY): user,
            extras.key(extras.EXT_AT): now.isoformat(),
            extras.key(extras.EXT_APPROVALS): None,
            extras.key(extras.EXT_CARD): None,
            extras.key(extras.EXT_DECIDED_BY): f"rule:{decision.rule}" if decision.allowed else None,
            extras.key(extras.EXT_AUTO): decision.rule if decision.allowed else None,
            extras.key(extras.EXT_FAILURE): None,
            extras.key(extras.EXT_UNTIL): until.isoformat(),
        }
        if decision.allowed:
            schedule = {f"extreconcile:{grant.id}": now + service.config.reconcile_after}
        else:
            deadline = min(now + service.config.request_ttl, grant.ends_at or now + service.config.request_ttl)
            schedule = {f"extcard:{grant.id}": now, f"exttimeout:{grant.id}": deadline}
        audit = {"seq": str(seq), "duration": extras.seconds(wanted), "until": until.isoformat()}
        if decision.allowed:
            audit["auto_approved_by_rule"] = decision.rule
        result = await service.store.update_fields(
            grant.id,
            fields,
            actor=user,
            event="extension_requested",
            audit=audit,
            expect_states={RequestState.ACTIVE},
            expect_fields=_expect(current),
            schedule=schedule,
        )
        if not result.ok:
            return ExtensionAsked(result.request, created=False)
        self._wake()
        if decision.allowed:
            return ExtensionAsked(await self._grant(result.request, seq), created=True)
        return ExtensionAsked(result.request, created=True)

    async def approve(self, reference: str, approver: str) -> Decision:
        """Count one approval of an extension; the one that meets the quorum makes the single Azure call."""
        from jit.service import Decision

        request_id, seq = _parse(reference)
        for _ in range(MAX_APPROVAL_ATTEMPTS):
            grant = await self._get(request_id)
            ext = extras.extension(grant)
            if ext.seq != seq or ext.state is not _E.PENDING or grant.state is not RequestState.ACTIVE:
                return Decision(grant, acted=False)
            await self._authorise(grant, approver, "approve")
            if approver in ext.approvals:
                return Decision(grant, acted=False, recorded=True)
            approvals = (*ext.approvals, approver)
            done = len(approvals) >= extras.quorum(grant)
            now = self.service.clock.now()
            fields: dict[str, object] = {extras.key(extras.EXT_APPROVALS): ",".join(approvals)}
            if done:
                fields[extras.key(extras.EXT_STATE)] = _E.APPROVED.value
                fields[extras.key(extras.EXT_DECIDED_BY)] = ",".join(approvals)
            result = await self.service.store.update_fields(
                grant.id,
                fields,
                actor=approver,
                event="extension_approved" if done else "extension_approval_recorded",
                audit={"seq": str(seq)},
                expect_states={RequestState.ACTIVE},
                expect_fields={**_expect(ext), extras.key(extras.EXT_APPROVALS): ",".join(ext.approvals) or None},
                schedule=(
                    {f"extreconcile:{grant.id}": now + self.service.config.reconcile_after}
                    if done
                    else {f"extcard:{grant.id}": now}
                ),
                unschedule=[f"exttimeout:{grant.id}"] if done else [],
            )
            if not result.ok:
                continue
            self._wake()
            if not done:
                return Decision(result.request, acted=True, recorded=True)
            return Decision(await self._grant(result.request, seq), acted=True)
        raise RuntimeError(f"could not record the approval of {reference} after {MAX_APPROVAL_ATTEMPTS} attempts")

    async def deny(self, reference: str, approver: str) -> Decision:
        """Refuse an extension; the access itself stays open until its current end."""
        from jit.service import Decision

        request_id, seq = _parse(reference)
        grant = await self._get(request_id)
        ext = extras.extension(grant)
        if ext.seq != seq or ext.state is not _E.PENDING:
            return Decision(grant, acted=False)
        await self._authorise(grant, approver, "deny")
        now = self.service.clock.now()
        result = await self.service.store.update_fields(
            grant.id,
            {extras.key(extras.EXT_STATE): _E.DENIED.value, extras.key(extras.EXT_DECIDED_BY): approver},
            actor=approver,
            event="extension_denied",
            audit={"seq": str(seq)},
            expect_fields=_expect(ext),
            schedule={f"extdone:{grant.id}": now},
            unschedule=[f"exttimeout:{grant.id}"],
        )
        if result.ok:
            self._wake()
        return Decision(result.request, acted=result.ok)

    async def _route(self, grant: AccessRequest) -> Route:
        """The rule that applies to the grant's VM now (from cached reads)."""
        vm = await self.service.azure.find_vm(f"{grant.vm.subscription_id}/{grant.vm.resource_group}/{grant.vm.name}")
        return self.service.router.route(vm)

    async def _limit(self, grant: AccessRequest, route: Route) -> datetime:
        """The latest end the policy (and the rule, and the global cap) allow for the grant's ports, from now."""
        service = self.service
        policy = await service.azure.policy_for(grant.vm)
        if policy is None:
            raise RequestRejected(f"Just-in-time access is no longer configured for `{grant.vm.name}`.")
        open_ports = grant.open_ports
        if not open_ports:
            raise RequestRejected(f"Request `{grant.id}` no longer holds any port, so there is nothing to extend.")
        try:
            rules = check_against_policy(
                policy,
                vm_label=grant.vm.name,
                ports=open_ports,
                duration=MIN_ACCESS,
                source=grant.source,
                reason=grant.reason,
            )
        except RequestRejected as exc:
            raise RequestRejected(exc.problem, command_hint(Command.EXTEND, grant.id, "30m")) from None
        limits = [rule.max_duration for rule in rules]
        limits += [v for v in (service.config.max_duration, route.max_duration) if v is not None]
        return service.clock.now() + min(limits)

    async def _new_end(self, grant: AccessRequest, route: Route, wanted: timedelta) -> datetime:
        """The grant's current end plus ``wanted``, capped by ``_limit``; refused when nothing can be added."""
        current = grant.ends_at or self.service.clock.now()
        limit = await self._limit(grant, route)
        if limit <= current + MIN_GAIN:
            raise RequestRejected(
                f"`{grant.vm.name}` may be open at most until {limit:%H:%M} UTC from now, and this access already "
                f"lasts until {current:%H:%M} UTC, so it cannot be extended now. Ask again closer to its end.",
                command_hint(Command.STATUS, grant.id),
            )
        return min(current + wanted, limit)

    async def _grant(self, grant: AccessRequest, seq: int) -> AccessRequest:
        service = self.service
        ext = extras.extension(grant)
        approver = ext.decided_by or "unknown"
        failure: str | None = None
        end = grant.ends_at or service.clock.now()
        try:
            end = await self._new_end(grant, await self._route(grant), ext.duration)
            opened = await service.granting.open(grant, grant.open_ports, end, approved_by=approver)
            if isinstance(opened, Blocked):
                failure = "The port is now held from another source, so the extension was not applied."
        except RequestRejected as exc:
            failure = exc.problem
        except NotConfigured:
            failure = "JIT is no longer configured for this VM, so Azure cannot extend the access."
        except VmBusy:
            failure = "Another change to this VM's access took too long, so the extension was not applied."
        except AzureJitError as exc:
            failure = exc.user_message
            log.warning("azure.extend_failed", extra={"request_id": grant.id, "error": type(exc).__name__})
        if failure is not None:
            return await self._fail(grant, seq, failure)
        return await self._apply(grant, seq, end)

    async def _apply(self, grant: AccessRequest, seq: int, end: datetime) -> AccessRequest:
        """Move the grant's end (one atomic step), or undo Azure's new window if the grant ended meanwhile."""
        service = self.service
        now = service.clock.now()
        remind_at = end - service.config.remind_before
        schedule = {f"expire:{grant.id}": end, f"extdone:{grant.id}": now}
        unschedule = [f"extreconcile:{grant.id}"]
        if remind_at > now:
            schedule[f"remind:{grant.id}"] = remind_at
        else:
            unschedule.append(f"remind:{grant.id}")
        count = int(grant.extra.get(extras.EXTENSIONS, "0") or 0) + 1
        result = await service.store.update_fields(
            grant.id,
            {"ends_at": end, extras.key(extras.EXTENSIONS): str(count), extras.key(extras.EXT_STATE): _E.GRANTED.value},
            actor=extras.extension(grant).decided_by or "jitbot",
            event="extended",
            audit={"seq": str(seq), "ends_at": end.isoformat()},
            expect_states={RequestState.ACTIVE},
            expect_fields={extras.key(extras.EXT_SEQ): str(seq), extras.key(extras.EXT_STATE): _E.APPROVED.value},
            schedule=schedule,
            unschedule=unschedule,
        )
        self._wake()
        if result.ok:
            return result.request
        if result.request.state is not RequestState.ACTIVE:
            try:
                await service.granting.close(result.request, closed_by="jitbot")
            except (AzureJitError, VmBusy) as exc:
                log.warning(
                    "azure.close_after_lapse_failed", extra={"request_id": grant.id, "error": type(exc).__name__}
                )
            return await self._fail(result.request, seq, "The access had already ended, so it was not extended.")
        return result.request

    async def _fail(self, grant: AccessRequest, seq: int, failure: str) -> AccessRequest:
        result = await self.service.store.update_fields(
            grant.id,
            {extras.key(extras.EXT_STATE): _E.FAILED.value, extras.key(extras.EXT_FAILURE): failure},
            actor="jitbot",
            event="extension_failed",
            audit={"seq": str(seq), "failure": failure},
            expect_fields={extras.key(extras.EXT_SEQ): str(seq), extras.key(extras.EXT_STATE): _E.APPROVED.value},
            schedule={f"extdone:{grant.id}": self.service.clock.now()},
            unschedule=[f"extreconcile:{grant.id}"],
        )
        self._wake()
        return result.request

    async def _post_card(self, grant: AccessRequest) -> None:
        ext = extras.extension(grant)
        if ext.state is None or (ext.card is None and ext.state is not _E.PENDING):
            return
        reference = await self.notices.extension_card(grant)
        if ext.card is None:
            await self.service.store.update_fields(
                grant.id,
                {extras.key(extras.EXT_CARD): reference},
                actor="jitbot",
                event="extension_card_posted",
                expect_fields={extras.key(extras.EXT_SEQ): str(ext.seq)},
            )

    async def _time_out(self, grant: AccessRequest) -> None:
        ext = extras.extension(grant)
        if ext.state is not _E.PENDING:
            return
        now = self.service.clock.now()
        ended = grant.state is not RequestState.ACTIVE or (grant.ends_at is not None and grant.ends_at <= now)
        deadline = (ext.at or now) + self.service.config.request_ttl
        if not ended and now < deadline:
            await self.service.schedule.add(f"exttimeout:{grant.id}", min(deadline, grant.ends_at or deadline))
            return
        why = "The access ended before anyone approved the extension." if ended else None
        await self.service.store.update_fields(
            grant.id,
            {extras.key(extras.EXT_STATE): _E.TIMED_OUT.value, extras.key(extras.EXT_FAILURE): why},
            actor="jitbot",
            event="extension_timed_out",
            audit={"seq": str(ext.seq)},
            expect_fields=_expect(ext),
            schedule={f"extdone:{grant.id}": now},
        )
        self._wake()

    async def _reconcile(self, grant: AccessRequest) -> None:
        """After a crash between approving an extension and saving it: trust Azure's history, never initiate twice."""
        ext = extras.extension(grant)
        if ext.state is not _E.APPROVED:
            return
        policy = await self.service.azure.policy_for(grant.vm)
        records = await self.service.azure.request_history(policy) if policy else []
        since = ext.at or grant.created_at
        for record in records:
            parsed = parse_justification(record.justification)
            if not parsed or parsed.request_id != grant.id or record.start < since or not record.ports:
                continue
            if parsed.attempt in grant.attempts:
                asked = (grant.ends_at or record.start) + ext.duration
                await self._apply(grant, ext.seq, min([asked, *(port.end for port in record.ports)]))
                return
        await self._fail(
            grant, ext.seq, "jitbot was interrupted before Azure confirmed the extension; nothing changed."
        )

    async def _announce(self, grant: AccessRequest) -> None:
        ext = extras.extension(grant)
        if ext.state is None or ext.open:
            return
        marker = f"ext_told:{grant.id}:{ext.seq}:{ext.state.value}"
        if await self.service.schedule.is_done(marker):
            return
        if ext.card:
            await self.notices.extension_card(grant)
        if ext.state is _E.GRANTED:
            if grant.card_ts:
                await self.service.notifier.update_card(grant)
            await self.service.notifier.tell_requester(grant)
        else:
            await self.notices.extension_outcome(grant)
        await self.service.schedule.mark_done(marker)

    async def _authorise(self, grant: AccessRequest, user: str, verb: str) -> None:
        if user == grant.requester:
            await self.service.store.record(
                f"extension_{verb}_refused", actor=user, request_id=grant.id, detail={"why": "self"}
            )
            raise NotAllowed(f"You cannot {verb} an extension of your own access; another approver has to.")
        if user == extras.extension(grant).by:
            await self.service.store.record(
                f"extension_{verb}_refused", actor=user, request_id=grant.id, detail={"why": "asked_for_it"}
            )
            raise NotAllowed(f"You asked for this extension, so you cannot {verb} it; another approver has to.")
        if not await self.service.may_approve(user, grant):
            await self.service.store.record(
                f"extension_{verb}_refused", actor=user, request_id=grant.id, detail={"why": "not_approver"}
            )
            raise NotAllowed(f"You are not one of the approvers for `{grant.vm.name}`, so you cannot {verb} it.")

    async def _get(self, request_id: str) -> AccessRequest:
        request = await self.service.store.get(request_id)
        if request is None:
            raise UnknownRequest(request_id)
        return request


def _parse(reference: str) -> tuple[str, int]:
    parsed = parse_extension_ref(reference)
    if parsed is None:
        raise UnknownRequest(reference)
    return parsed


def _expect(ext: Extension) -> dict[str, object]:
    """The extension is still the one we read: same number, same state."""
    return {
        extras.key(extras.EXT_SEQ): str(ext.seq) if ext.seq else None,
        extras.key(extras.EXT_STATE): ext.state.value if ext.state else None,
    }
