"""What approvers see about the requester's own Azure RBAC on the VM (JITBOT_REQUESTER_RBAC=warn)."""

from __future__ import annotations

from slack_sdk.models.blocks import Block

from bot.blocks.common import code, context, escape_mrkdwn, section, truncate
from jit.model import AccessRequest, RbacOutcome
from jit.request_extras import extras_of


def requester_rbac_block(request: AccessRequest) -> Block | None:
    """One block on the approval card: the requester's Azure identity may request JIT on this VM, lacks what,
    or could not be checked and why. None when no check was made (mode ``off``)."""
    verdict = extras_of(request).rbac
    if verdict is None:
        return None
    who = code(verdict.principal, 120) if verdict.principal else "their Azure account"
    if verdict.outcome is RbacOutcome.ALLOWED:
        return context(f":white_check_mark: Azure RBAC: {who} may request JIT access to this VM itself.")
    if verdict.outcome is RbacOutcome.MISSING:
        actions = ", ".join(code(action, 120) for action in verdict.missing)
        if verdict.denied_by:
            names = ", ".join(code(name, 120) for name in verdict.denied_by)
            return section(
                f":warning: *An Azure deny assignment refuses the requester* — {names} denies {who} {actions} on "
                "this VM, whatever roles they hold, so they could not request JIT access in the Azure portal. "
                "Approving grants access Azure explicitly denies them."
            )
        return section(
            f":warning: *The requester's own Azure identity lacks the permission* — {who} could not request JIT "
            f"access to this VM in the Azure portal: it lacks {actions}. Approving grants access their Azure "
            "role does not."
        )
    reason = escape_mrkdwn(truncate(verdict.reason or "no reason was given.", 600))
    return section(
        f":grey_question: *Could not verify the requester's Azure RBAC* on this VM: {reason} "
        "Check their access yourself before approving."
    )
