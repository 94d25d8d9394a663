"""Whether an approver's own Azure identity may request JIT access to the VM (``JITBOT_APPROVER_RBAC``).

With ``enforce``, jitbot trusts an approver only as far as Azure does: a person whose Azure account could not
request JIT access to the VM in the portal may not approve someone else's access to it either. The check is the
requester's (``jit.requester_access``), made when the approver clicks; any verdict but "allowed" refuses (a failed
lookup too: it fails closed), with an ephemeral reason, and the refusal is audited as ``approve_refused_rbac``.
"""

from __future__ import annotations

from jit.errors import NotAllowed
from jit.model import AccessRequest, ApproverRbac, RbacOutcome, RbacVerdict, VmRef
from jit.ports import AuditRecorder, RequesterPermissions
from jit.requester_access import GRANTORS


def approver_refusal_text(verdict: RbacVerdict, vm: VmRef) -> str:
    """The ephemeral answer to a refused Approve click: why, and what would make it work."""
    where = f"`{vm.short}` (subscription `{vm.subscription_id}`)"
    rule = "JITBOT_APPROVER_RBAC=enforce: approvers must be able to request JIT access to the VM in Azure themselves."
    if verdict.outcome is RbacOutcome.UNVERIFIED:
        reason = verdict.reason
        return f"You cannot approve this yet: jitbot could not verify your Azure access to {where}: {reason} {rule}"
    who = f"Your Azure account `{verdict.principal}`" if verdict.principal else "Your Azure account"
    actions = ", ".join(f"`{action}`" for action in verdict.missing)
    denied = " (refused by the deny assignment " + ", ".join(f"`{n}`" for n in verdict.denied_by) + ")"
    return (
        f"You cannot approve this: {who} lacks {actions} on {where}{denied if verdict.denied_by else ''}. {rule} "
        f"An {GRANTORS} of the VM can grant you the role, or another approver can decide."
    )


class ApproverScreen:
    """Checks an approver at click time when ``JITBOT_APPROVER_RBAC=enforce``; otherwise does nothing."""

    def __init__(self, permissions: RequesterPermissions | None, mode: ApproverRbac, audit: AuditRecorder | None):
        self.permissions = permissions
        self.mode = mode
        self._audit = audit

    async def check(self, approver: str, request: AccessRequest) -> None:
        """Return when ``approver`` may approve ``request`` as far as Azure is concerned; else audit and raise
        NotAllowed with the reason."""
        if self.mode is ApproverRbac.OFF or self.permissions is None:
            return
        verdict = await self.permissions.check(approver, request.vm)
        if verdict.outcome is RbacOutcome.ALLOWED:
            return
        if self._audit is not None:
            detail = {"vm": request.vm.id, "rbac": verdict.outcome.value, "principal": verdict.principal}
            if verdict.missing:
                detail["missing"] = ",".join(verdict.missing)
            if verdict.reason:
                detail["reason"] = verdict.reason
            await self._audit("approve_refused_rbac", actor=approver, request_id=request.id, detail=detail)
        raise NotAllowed(approver_refusal_text(verdict, request.vm))


NO_APPROVER_SCREEN = ApproverScreen(None, ApproverRbac.OFF, None)
"""The screen when nothing is configured: every approver the rules allow may approve."""
