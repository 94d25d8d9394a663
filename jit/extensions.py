"""Extending an open grant: more time on top of its current end, approved like a request.

An extension never ends access earlier than it ends now: it adds its duration to the current end, capped by
the policy's (and the rule's) maximum counted from now; when the cap leaves nothing to add it is refused with
the reason. It re-initiates only the ports the grant still holds, through ``jit.granting`` (so a colleague
sharing the port keeps their own end), with its own attempt marker.

The grant stays ``active`` and keeps its id throughout; the extension lives in the grant's extras
(``jit.request_extras.Extension``) and moves by the table ``jit.flows.EXTENSION``, each move a compare-and-set
on its number and state, so concurrent approvals make exactly one Azure initiate. Who may ask and decide is
``jit.authorisation``'s. Once Azure accepts, one atomic step moves the grant's end, counts the extension and
reschedules its reminder and expiry; if the grant was revoked or expired meanwhile, that step fails and the
ports just opened are closed again.

Approvers see a card whose buttons carry ``<request id>#ext<n>``, so a click on an old extension card can never
approve a newer one.
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta

from jit.autoapprove import auto_approval
from jit.button_posts import remember_posts
from jit.deps import Deps
from jit.errors import NotAllowed, RequestRejected, UnknownRequest
from jit.extension_window import ExtensionWindow
from jit.flows import Step, extension_step
from jit.granting import Blocked, NotConfigured, VmBusy
from jit.hints import request_hint
from jit.model import AccessRequest, RequestState
from jit.ports.azure_errors import AzureJitError
from jit.request_extras import Extension, ExtensionState, Extra, extra_field, extras_of, seconds
from jit.results import Decision, ExtensionAsked
from jit.schedule_items import Kind, Sent, item
from jit.suggesting import Suggesting

log = logging.getLogger(__name__)

EXTENSION_MARK = "#ext"
MAX_APPROVAL_ATTEMPTS = 25

_E = ExtensionState
EXTENSION_NOT_RECORDED = "jitbot was interrupted before Azure confirmed the extension; nothing changed."


def extension_ref(request_id: str, seq: int) -> str:
    """The button value naming one extension of one grant."""
    return f"{request_id}{EXTENSION_MARK}{seq}"


def parse_extension_ref(value: str) -> tuple[str, int] | None:
    """``(request id, n)`` from a button value, or None when it names a plain request."""
    request_id, mark, seq = value.partition(EXTENSION_MARK)
    if not mark or not seq.isdigit():
        return None
    return request_id, int(seq)


def _move(ext: Extension, target: ExtensionState, *, new_seq: int | None = None) -> Step:
    return extension_step(ext.seq, ext.state.value if ext.state else None, target, new_seq=new_seq)


class Extensions:
    """The extend use cases and their items (``extcard``, ``exttimeout``, ``extreconcile``, ``extdone``)."""

    def __init__(self, deps: Deps):
        self.deps = deps
        self.window = ExtensionWindow(deps)

    async def request(self, request_id: str, user: str, duration: timedelta | None) -> ExtensionAsked:
        """Ask for ``duration`` more (default: the original length); granted at once where rules allow."""
        deps = self.deps
        grant = await deps.store.require(request_id)
        if user != grant.requester and not await deps.access.is_admin(user):
            await deps.store.record("extend_refused", actor=user, request_id=grant.id)
            raise NotAllowed("Only the person who asked for this access (or an admin) can extend it.")
        if grant.state is not RequestState.ACTIVE:
            again = request_hint(
                grant.ports, f"{grant.vm.resource_group}/{grant.vm.name}", grant.duration, grant.source, grant.reason
            )
            refusal = RequestRejected(
                f"Request `{grant.id}` is not open (it is {grant.state.value.replace('_', ' ')}), so it cannot be "
                "extended. Ask for access again instead.",
                again,
            )
            raise await Suggesting(deps).checked(refusal, user)
        current = extras_of(grant).extension
        if current.open:
            return ExtensionAsked(grant, created=False)
        wanted = duration or grant.duration
        route = await self.window.route(grant)
        if not await deps.access.may_request(grant.requester, route):
            await deps.store.record("extend_refused", actor=user, request_id=grant.id, detail={"why": "requester"})
            raise NotAllowed(f"The rule `{route.name}` no longer lets this person ask for `{grant.vm.name}`.")
        until = await self.window.new_end(grant, route, wanted)
        now = deps.clock.now()
        decision = await auto_approval(
            route,
            requester=grant.requester,
            ports=grant.ports,
            duration=wanted,
            now=now,
            directory=deps.directory,
            audit=deps.store.record,
            request_id=grant.id,
        )
        seq = current.seq + 1
        step = _move(current, _E.APPROVED if decision.allowed else _E.PENDING, new_seq=seq)
        fields: dict[str, object] = {
            **step.fields,
            extra_field(Extra.EXT_DURATION): seconds(wanted),
            extra_field(Extra.EXT_BY): user,
            extra_field(Extra.EXT_AT): now.isoformat(),
            extra_field(Extra.EXT_APPROVALS): None,
            extra_field(Extra.EXT_CARD): None,
            extra_field(Extra.EXT_DECIDED_BY): f"rule:{decision.rule}" if decision.allowed else None,
            extra_field(Extra.EXT_AUTO): decision.rule if decision.allowed else None,
            extra_field(Extra.EXT_FAILURE): None,
            extra_field(Extra.EXT_UNTIL): until.isoformat(),
        }
        if decision.allowed:
            schedule = {item(Kind.EXT_RECONCILE, grant.id): now + deps.config.reconcile_after}
        else:
            deadline = min(now + deps.config.request_ttl, grant.ends_at or now + deps.config.request_ttl)
            schedule = {item(Kind.EXT_CARD, grant.id): now, item(Kind.EXT_TIMEOUT, grant.id): deadline}
        audit = {"seq": str(seq), "duration": seconds(wanted), "until": until.isoformat()}
        if decision.allowed:
            audit["auto_approved_by_rule"] = decision.rule
        result = await deps.store.update_fields(
            grant.id,
            fields,
            actor=user,
            event="extension_requested",
            audit=audit,
            expect_states={RequestState.ACTIVE},
            expect_fields=step.expect,
            schedule=schedule,
        )
        if not result.ok:
            return ExtensionAsked(result.request, created=False)
        deps.wake()
        if decision.allowed:
            return ExtensionAsked(await self._grant(result.request, seq), created=True)
        return ExtensionAsked(result.request, created=True)

    async def approve(self, reference: str, approver: str) -> Decision:
        """Count one approval of an extension; the one that meets the quorum makes the single Azure call."""
        deps = self.deps
        request_id, seq = _parse(reference)
        for _ in range(MAX_APPROVAL_ATTEMPTS):
            grant = await deps.store.require(request_id)
            extras = extras_of(grant)
            ext = extras.extension
            if ext.seq != seq or ext.state is not _E.PENDING or grant.state is not RequestState.ACTIVE:
                return Decision(grant, acted=False)
            await deps.access.check_extension_decision(grant, approver, "approve")
            if approver in ext.approvals:
                return Decision(grant, acted=False, recorded=True)
            approvals = (*ext.approvals, approver)
            done = len(approvals) >= extras.quorum
            now = deps.clock.now()
            step = _move(ext, _E.APPROVED if done else _E.PENDING).also(
                fields={extra_field(Extra.EXT_APPROVALS): ",".join(approvals)},
                expect={extra_field(Extra.EXT_APPROVALS): ",".join(ext.approvals) or None},
            )
            if done:
                step = step.also(fields={extra_field(Extra.EXT_DECIDED_BY): ",".join(approvals)})
            result = await deps.store.update_fields(
                grant.id,
                step.fields,
                actor=approver,
                event="extension_approved" if done else "extension_approval_recorded",
                audit={"seq": str(seq)},
                expect_states={RequestState.ACTIVE},
                expect_fields=step.expect,
                schedule=(
                    {item(Kind.EXT_RECONCILE, grant.id): now + deps.config.reconcile_after}
                    if done
                    else {item(Kind.EXT_CARD, grant.id): now}
                ),
                unschedule=[item(Kind.EXT_TIMEOUT, grant.id)] if done else [],
            )
            if not result.ok:
                continue
            deps.wake()
            if not done:
                return Decision(result.request, acted=True, recorded=True)
            return Decision(await self._grant(result.request, seq), acted=True)
        raise RuntimeError(f"could not record the approval of {reference} after {MAX_APPROVAL_ATTEMPTS} attempts")

    async def deny(self, reference: str, approver: str) -> Decision:
        """Refuse an extension; the access itself stays open until its current end."""
        deps = self.deps
        request_id, seq = _parse(reference)
        grant = await deps.store.require(request_id)
        ext = extras_of(grant).extension
        if ext.seq != seq or ext.state is not _E.PENDING:
            return Decision(grant, acted=False)
        await deps.access.check_extension_decision(grant, approver, "deny")
        step = _move(ext, _E.DENIED).also(fields={extra_field(Extra.EXT_DECIDED_BY): approver})
        result = await deps.store.update_fields(
            grant.id,
            step.fields,
            actor=approver,
            event="extension_denied",
            audit={"seq": str(seq)},
            expect_fields=step.expect,
            schedule={item(Kind.EXT_DONE, grant.id): deps.clock.now()},
            unschedule=[item(Kind.EXT_TIMEOUT, grant.id)],
        )
        if result.ok:
            deps.wake()
        return Decision(result.request, acted=result.ok)

    async def post_card(self, grant: AccessRequest) -> None:
        """The ``extcard`` item: post the extension's card once (remembering where), or re-render it."""
        ext = extras_of(grant).extension
        if ext.state is None or (ext.card is None and ext.state is not _E.PENDING):
            return
        reference = await self.deps.notices.extension_card(grant)
        if ext.card is None:
            await self.deps.store.update_fields(
                grant.id,
                {extra_field(Extra.EXT_CARD): reference},
                actor="jitbot",
                event="extension_card_posted",
                expect_fields={extra_field(Extra.EXT_SEQ): str(ext.seq)},
            )

    async def time_out(self, grant: AccessRequest) -> None:
        """The ``exttimeout`` item: a pending extension nobody decided in time (or whose access ended)."""
        deps = self.deps
        ext = extras_of(grant).extension
        if ext.state is not _E.PENDING:
            return
        now = deps.clock.now()
        ended = grant.state is not RequestState.ACTIVE or (grant.ends_at is not None and grant.ends_at <= now)
        deadline = (ext.at or now) + deps.config.request_ttl
        if not ended and now < deadline:
            await deps.schedule.add(item(Kind.EXT_TIMEOUT, grant.id), min(deadline, grant.ends_at or deadline))
            return
        why = "The access ended before anyone approved the extension." if ended else None
        step = _move(ext, _E.TIMED_OUT).also(fields={extra_field(Extra.EXT_FAILURE): why})
        await deps.store.update_fields(
            grant.id,
            step.fields,
            actor="jitbot",
            event="extension_timed_out",
            audit={"seq": str(ext.seq)},
            expect_fields=step.expect,
            schedule={item(Kind.EXT_DONE, grant.id): now},
        )
        deps.wake()

    async def reconcile(self, grant: AccessRequest) -> None:
        """The ``extreconcile`` item, after a crash between approving an extension and saving it: trust Azure's
        history, never initiate twice."""
        ext = extras_of(grant).extension
        if ext.state is not _E.APPROVED:
            return
        record = await self.deps.granting.confirmed(grant, since=ext.at or grant.created_at)
        if record is None:
            await self._fail(
                grant, ext.seq, "jitbot was interrupted before Azure confirmed the extension; nothing changed."
            )
            return
        asked = (grant.ends_at or record.start) + ext.duration
        await self._apply(grant, ext.seq, min([asked, *(port.end for port in record.ports)]))

    async def announce(self, grant: AccessRequest) -> None:
        """The ``extdone`` item: the extension's card shows its outcome and the requester hears it, once."""
        deps = self.deps
        ext = extras_of(grant).extension
        if ext.state is None or ext.open:
            return
        marker = Sent.extension_outcome(grant.id, ext.seq, ext.state.value)
        if await deps.schedule.is_done(marker):
            return
        if ext.card:
            await deps.notices.extension_card(grant)
        if ext.state is _E.GRANTED:
            if grant.card_ts:
                await deps.notifier.update_card(grant)
            await remember_posts(deps, grant, await deps.notifier.tell_requester(grant))
        else:
            await deps.notices.extension_outcome(grant)
        await deps.schedule.mark_done(marker)

    async def _grant(self, grant: AccessRequest, seq: int) -> AccessRequest:
        ext = extras_of(grant).extension
        approver = ext.decided_by or "unknown"
        failure: str | None = None
        end = grant.ends_at or self.deps.clock.now()
        try:
            end = await self.window.new_end(grant, await self.window.route(grant), ext.duration)
            opened = await self.deps.granting.open(grant, grant.open_ports, end, approved_by=approver)
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
        deps = self.deps
        now = deps.clock.now()
        remind_at = end - deps.config.remind_before
        schedule = {item(Kind.EXPIRE, grant.id): end, item(Kind.EXT_DONE, grant.id): now}
        unschedule = [item(Kind.EXT_RECONCILE, grant.id)]
        if remind_at > now:
            schedule[item(Kind.REMIND, grant.id)] = remind_at
        else:
            unschedule.append(item(Kind.REMIND, grant.id))
        extras = extras_of(grant)
        step = extension_step(seq, _E.APPROVED.value, _E.GRANTED).also(
            fields={"ends_at": end, extra_field(Extra.EXTENSIONS): str(extras.extensions + 1)}
        )
        result = await deps.store.update_fields(
            grant.id,
            step.fields,
            actor=extras.extension.decided_by or "jitbot",
            event="extended",
            audit={"seq": str(seq), "ends_at": end.isoformat()},
            expect_states={RequestState.ACTIVE},
            expect_fields=step.expect,
            schedule=schedule,
            unschedule=unschedule,
        )
        deps.wake()
        if result.ok:
            return result.request
        if result.request.state is not RequestState.ACTIVE:
            try:
                await deps.granting.close(result.request, closed_by="jitbot")
            except (AzureJitError, VmBusy) as exc:
                log.warning(
                    "azure.close_after_lapse_failed", extra={"request_id": grant.id, "error": type(exc).__name__}
                )
            return await self._fail(result.request, seq, "The access had already ended, so it was not extended.")
        return result.request

    async def _fail(self, grant: AccessRequest, seq: int, failure: str) -> AccessRequest:
        step = extension_step(seq, _E.APPROVED.value, _E.FAILED).also(fields={extra_field(Extra.EXT_FAILURE): failure})
        result = await self.deps.store.update_fields(
            grant.id,
            step.fields,
            actor="jitbot",
            event="extension_failed",
            audit={"seq": str(seq), "failure": failure},
            expect_fields=step.expect,
            schedule={item(Kind.EXT_DONE, grant.id): self.deps.clock.now()},
            unschedule=[item(Kind.EXT_RECONCILE, grant.id)],
        )
        self.deps.wake()
        return result.request


def _parse(reference: str) -> tuple[str, int]:
    parsed = parse_extension_ref(reference)
    if parsed is None:
        raise UnknownRequest(reference)
    return parsed
