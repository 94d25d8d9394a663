"""Who may do what to a request: the one place jitbot decides it, and audits each refusal.

- Anyone the VM's rule lists as a requester may ask (a rule may let anyone ask).
- Only the rule's approvers decide a request, never its requester; the approvers are those frozen into the
  request when it was asked (plus the escalation group once it escalated), so a rules change cannot move a
  pending decision.
- An extension is decided by an approver who is neither the grant's requester nor the person who asked for the
  extension; the requester or an admin may ask for one.
- The requester, an approver or an admin may close access early; an approver or an admin, never the person who
  used it, reviews break-glass access, which only members of the rule's break-glass group may use.
- Only the requester cancels a request or asks for the same access again.
"""

from __future__ import annotations

from jit.errors import NotAllowed
from jit.model import AccessRequest, VirtualMachine
from jit.ports import AuditRecorder, Directory
from jit.principals import member_of
from jit.request_extras import extras_of
from jit.routing import Route, Router


class Authorisation:
    """Membership checks on the directory, against the rules in force and the admins."""

    def __init__(self, directory: Directory, router: Router, admins: tuple[str, ...], audit: AuditRecorder):
        self.directory = directory
        self.router = router
        self.admins = admins
        self.audit = audit

    async def is_member(self, user: str, principals: tuple[str, ...]) -> bool:
        """Whether ``user`` is one of ``principals`` (directly or through their groups)."""
        return await member_of(self.directory, user, principals)

    async def is_admin(self, user: str) -> bool:
        """Whether ``user`` is a jitbot admin."""
        return await self.is_member(user, self.admins)

    async def may_request(self, user: str, route: Route) -> bool:
        """Whether ``route`` lets ``user`` ask for access."""
        return route.anyone_may_request or await self.is_member(user, route.requesters)

    async def may_approve(self, user: str, request: AccessRequest) -> bool:
        """Whether ``user`` is one of the request's approvers (never its requester)."""
        if user == request.requester:
            return False
        approvers = extras_of(request).approvers or self.router.route(VirtualMachine(request.vm)).approvers
        return await self.is_member(user, approvers)

    async def approves_for(self, user: str, vm: VirtualMachine) -> bool:
        """Whether ``user`` approves for the rule that applies to ``vm`` now, or is an admin."""
        return await self.is_member(user, self.router.route(vm).approvers) or await self.is_admin(user)

    async def may_revoke(self, user: str, request: AccessRequest) -> bool:
        """The requester, an approver of the request or an admin."""
        if user == request.requester:
            return True
        return await self.may_approve(user, request) or await self.is_admin(user)

    async def check_decision(self, request: AccessRequest, user: str, verb: str) -> None:
        """Raise NotAllowed (audited ``<verb>_refused``) unless ``user`` may approve or deny the request."""
        if user == request.requester:
            await self._refused(f"{verb}_refused", user, request, "self")
            raise NotAllowed(f"You cannot {verb} your own request; another approver has to.")
        if not await self.may_approve(user, request):
            await self._refused(f"{verb}_refused", user, request, "not_approver")
            raise NotAllowed(f"You are not one of the approvers for `{request.vm.name}`, so you cannot {verb} it.")

    async def check_extension_decision(self, grant: AccessRequest, user: str, verb: str) -> None:
        """Raise NotAllowed (audited ``extension_<verb>_refused``) unless ``user`` may decide the grant's
        extension."""
        event = f"extension_{verb}_refused"
        if user == grant.requester:
            await self._refused(event, user, grant, "self")
            raise NotAllowed(f"You cannot {verb} an extension of your own access; another approver has to.")
        if user == extras_of(grant).extension.by:
            await self._refused(event, user, grant, "asked_for_it")
            raise NotAllowed(f"You asked for this extension, so you cannot {verb} it; another approver has to.")
        if not await self.may_approve(user, grant):
            await self._refused(event, user, grant, "not_approver")
            raise NotAllowed(f"You are not one of the approvers for `{grant.vm.name}`, so you cannot {verb} it.")

    async def check_break_glass(self, requester: str, route: Route, label: str) -> None:
        """Raise NotAllowed (audited) for ``--break-glass`` from anyone outside the VM's break-glass group."""
        if route.break_glass and await self.is_member(requester, route.break_glass):
            return
        await self.audit("break_glass_refused", actor=requester, request_id=None, detail={"vm": label})
        raise NotAllowed(
            f"You are not in the break-glass group for `{label}` (rule `{route.name}`), so `--break-glass` cannot "
            "be used. Ask for access without it and an approver will decide."
        )

    async def _refused(self, event: str, user: str, request: AccessRequest, why: str) -> None:
        await self.audit(event, actor=user, request_id=request.id, detail={"why": why})
