"""Whether the requester's own Azure identity may request JIT access to the VM, and what jitbot does about it.

The Azure portal lets a person request JIT access only when their identity holds the actions in
``REQUIRED_ACTIONS`` on the VM. jitbot asks Azure with its own identity, so without this check anyone in Slack
could reach a VM their Azure account may not touch. ``JITBOT_REQUESTER_RBAC`` decides what a verdict does:
``off`` (no check), ``warn`` (approvers see it on the card) or ``enforce`` (refused before any approver is asked,
and a lookup failure refuses too: the check fails closed).
"""

from __future__ import annotations

import json

from jit.errors import NotAllowed
from jit.model import RbacMode, RbacOutcome, RbacVerdict, VmRef
from jit.ports import AuditRecorder, RequesterPermissions
from jit.request_extras import Extra

INITIATE_ACTION = "Microsoft.Security/locations/jitNetworkAccessPolicies/initiate/action"
REQUIRED_ACTIONS: tuple[str, ...] = (
    INITIATE_ACTION,
    "Microsoft.Security/locations/jitNetworkAccessPolicies/read",
    "Microsoft.Compute/virtualMachines/read",
    "Microsoft.Network/networkInterfaces/read",
    "Microsoft.Network/publicIPAddresses/read",
)
"""What the portal requires to request JIT access to a VM ("Request JIT access to a VM" in Microsoft's
"Enable just-in-time access on VMs", MicrosoftDocs/azure-docs
articles/defender-for-cloud/just-in-time-access-usage.md). The page lists ``jitNetworkAccessPolicies/*/read`` and
``networkInterfaces/*/read``; the operations behind those patterns that the portal's request blade calls are the
policy read and the NIC read named here (as in Microsoft's Set-JitLeastPrivilegedRole script)."""

GRANTORS = "Owner, User Access Administrator or Role Based Access Control Administrator"


def verdict_extra(verdict: RbacVerdict) -> dict[str, str]:
    """The verdict as ``request.extra`` entries, so the card shows what was known when the request was made."""
    extra = {Extra.RBAC.value: verdict.outcome.value}
    if verdict.principal:
        extra[Extra.RBAC_PRINCIPAL.value] = verdict.principal
    if verdict.missing:
        extra[Extra.RBAC_MISSING.value] = ",".join(verdict.missing)
    if verdict.reason:
        extra[Extra.RBAC_REASON.value] = verdict.reason
    if verdict.denied_by:
        extra[Extra.RBAC_DENIED_BY.value] = json.dumps(list(verdict.denied_by))
    return extra


def refusal_text(verdict: RbacVerdict, vm: VmRef) -> str:
    """The ephemeral refusal in ``enforce`` mode: what is missing, on what, and who can grant it."""
    where = f"`{vm.short}` (subscription `{vm.subscription_id}`)"
    grant = (
        f"An {GRANTORS} of the VM, its resource group `{vm.resource_group}` or its subscription can grant it "
        "(Azure portal > the VM > Access control (IAM) > Add role assignment)."
    )
    if verdict.outcome is RbacOutcome.UNVERIFIED:
        return (
            f"jitbot could not verify that your Azure account may request just-in-time access to {where}: "
            f"{verdict.reason} Requests are refused until it can (JITBOT_REQUESTER_RBAC=enforce); "
            "ask the jitbot operators to fix the lookup, or try again shortly."
        )
    who = f"Your Azure account `{verdict.principal}`" if verdict.principal else "Your Azure account"
    actions = ", ".join(f"`{action}`" for action in verdict.missing)
    if verdict.denied_by:
        names = ", ".join(f"`{name}`" for name in verdict.denied_by)
        return (
            f"{who} may not request just-in-time access to {where}: the Azure deny assignment {names} refuses "
            f"{actions}, whatever roles you hold. In the Azure portal you could not request it either. A deny "
            "assignment is removed or changed only by what created it (a managed application, a deployment stack "
            "or a Blueprint); ask its owner."
        )
    return (
        f"{who} may not request just-in-time access to {where}: it lacks {actions}. "
        f"In the Azure portal you could not request it either. {grant}"
    )


class RequesterScreen:
    """Runs the check for ``submit`` and applies the mode: record the verdict, or refuse and audit."""

    def __init__(self, permissions: RequesterPermissions | None, mode: RbacMode, audit: AuditRecorder | None):
        self.permissions = permissions
        self.mode = mode
        self._audit = audit

    async def screen(self, requester: str, vm: VmRef, route_mode: RbacMode | None = None) -> dict[str, str]:
        """The extras to store with the request; raises NotAllowed (after auditing) when ``enforce`` refuses.

        ``route_mode`` is the VM's rules' ``requester_rbac`` (strictest of the rules that apply); None keeps
        ``JITBOT_REQUESTER_RBAC``."""
        mode = route_mode or self.mode
        if mode is RbacMode.OFF or self.permissions is None:
            return {}
        verdict = await self.permissions.check(requester, vm)
        if mode is RbacMode.ENFORCE and verdict.outcome is not RbacOutcome.ALLOWED:
            if self._audit is not None:
                detail = {"vm": vm.id, "rbac": verdict.outcome.value, "principal": verdict.principal}
                if verdict.missing:
                    detail["missing"] = ",".join(verdict.missing)
                if verdict.reason:
                    detail["reason"] = verdict.reason
                if verdict.denied_by:
                    detail["denied_by"] = ",".join(verdict.denied_by)
                await self._audit("request_refused_rbac", actor=requester, request_id=None, detail=detail)
            raise NotAllowed(refusal_text(verdict, vm))
        return verdict_extra(verdict)


NO_SCREEN = RequesterScreen(None, RbacMode.OFF, None)
"""The screen when nothing is configured: no check, no extras."""
