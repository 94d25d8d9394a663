"""Azure's refusals as typed errors, each carrying a plain-language explanation for the requester.

Pure Python (no azure.* import) so the Slack face can catch and render them.
"""

from __future__ import annotations

from collections.abc import Sequence

from jit.hints import Hint
from jit.model import UnsupportedReason, VmRef


class AzureJitError(Exception):
    """Base of every gateway error. ``user_message`` is safe to show in Slack; ``detail`` is Azure's text;
    ``hint`` what to do next, when something helps."""

    default_message = "Azure could not complete the request."

    def __init__(
        self, user_message: str | None = None, *, detail: str = "", status: int | None = None, hint: Hint | None = None
    ):
        self.user_message = user_message or self.default_message
        self.detail = detail
        self.status = status
        self.hint = hint
        super().__init__(self.user_message if not detail else f"{self.user_message} ({detail})")


class VmNotFound(AzureJitError):
    """No VM with that name in the configured subscriptions; ``nearest`` are the VMs (as specs a command accepts,
    each naming exactly one VM) the person most likely meant, best first."""

    default_message = "No VM with that name was found in the subscriptions jitbot can see."

    def __init__(
        self,
        user_message: str | None = None,
        *,
        detail: str = "",
        status: int | None = None,
        hint: Hint | None = None,
        nearest: Sequence[str] = (),
    ):
        self.nearest = tuple(nearest)
        super().__init__(user_message, detail=detail, status=status, hint=hint)


class VmAmbiguous(AzureJitError):
    """Several VMs share the name; ``candidates`` lists them so the user can pick ``rg/vm``."""

    def __init__(self, name: str, candidates: Sequence[VmRef]):
        self.candidates = tuple(candidates)
        listing = ", ".join(f"`{c.subscription_id}/{c.resource_group}/{c.name}`" for c in self.candidates)
        super().__init__(f"Several VMs are called `{name}`: {listing}. Say which one with `rg/vm`.")


class InvalidVmName(AzureJitError):
    """The name breaks Azure's naming rules, so no Azure call is made for it."""

    default_message = "That is not a valid Azure VM name."


class NotSubsetOfPolicy(AzureJitError):
    """Azure's 400 "is not a subset of policy": port, duration or source outside the VM's JIT policy."""

    default_message = (
        "Azure refused: the request is outside the VM's JIT policy (port, duration or source not allowed)."
    )


class AzureBadRequest(AzureJitError):
    """Any other 400 from Azure."""

    default_message = "Azure rejected the request as invalid."


class AzureForbidden(AzureJitError):
    """403: jitbot's Azure identity lacks a permission."""

    default_message = (
        "jitbot's Azure identity is not allowed to do this (403). Ask the platform team to check its role assignment."
    )


class JitDeniedByPolicy(AzureForbidden):
    """403 ``RequestDisallowedByPolicy``: an Azure Policy assignment with a deny effect forbids this JIT change.

    No role assignment fixes it, so the message names the assignment (empty ``assignment`` when Azure did not)
    and says who can: the assignment's owner, by granting an exemption.
    """

    def __init__(self, assignment: str, *, assignment_id: str | None = None, detail: str = ""):
        self.assignment = assignment
        self.assignment_id = assignment_id
        shown = " ".join(assignment.split()).replace("`", "'")[:150]
        which = f"the Azure Policy assignment `{shown}`" if shown else "an Azure Policy assignment"
        super().__init__(
            f"Azure Policy blocked this change: {which} does not allow just-in-time access on this VM "
            "(RequestDisallowedByPolicy). jitbot cannot override Azure Policy: ask the owner of that assignment "
            "for an exemption covering the VM or its resource group, then try again.",
            detail=detail,
            status=403,
        )


class AzureNotFound(AzureJitError):
    """404: the VM or its JIT policy disappeared."""

    default_message = "Azure no longer knows this VM or its JIT policy (404). It may have been deleted or moved."


class AzureConflict(AzureJitError):
    """409: Azure is busy changing the same resource."""

    default_message = (
        "Azure reported a conflict (409): the VM's JIT policy is being changed right now. Try again in a minute."
    )


class AzureThrottled(AzureJitError):
    """429 that persisted after retries."""

    default_message = "Azure is throttling requests (429) and retries did not help. Try again in a few minutes."


class AzureUnavailable(AzureJitError):
    """5xx that persisted after retries."""

    default_message = "Azure had an internal error and retries did not help. Try again shortly."


class AzureTimeout(AzureJitError):
    """No answer from Azure in time."""

    default_message = "Azure did not answer in time. Try again shortly."


class PolicyNameTooLong(AzureJitError):
    """Azure limits the policy name plus VM name to 56 characters."""

    default_message = "The JIT policy name plus the VM name would exceed Azure's 56-character limit."


class JitNotSupported(AzureJitError):
    """The VM cannot use JIT (no NSG, classic, Defender for Servers off)."""

    default_message = "This VM cannot use just-in-time access."


class AzureAuthFailed(AzureJitError):
    """jitbot could not get or use an Azure token (401, or no credential configured)."""

    default_message = (
        "jitbot could not sign in to Azure. Ask the platform team to check its managed identity or credentials."
    )


class VmUnsupported(JitNotSupported):
    """JIT cannot protect this VM; ``reasons`` says why, so the Slack face can explain each one."""

    def __init__(self, user_message: str, reasons: Sequence[UnsupportedReason]):
        self.reasons = tuple(reasons)
        super().__init__(user_message)


class InvalidPolicyPorts(AzureJitError):
    """The port rules asked for cannot be written to a JIT policy (checked before calling Azure)."""

    default_message = "Those JIT port rules are not valid."
