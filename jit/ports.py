"""The ports (in the hexagonal sense) the use cases depend on; adapters implement them."""

from __future__ import annotations

from collections.abc import Awaitable, Mapping, Sequence
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Protocol

from jit.model import (
    AccessRequest,
    InitiateResult,
    JitPolicy,
    JitRequestRecord,
    OutsideAccess,
    PolicyPort,
    SecurityContext,
    UnsupportedReason,
    VirtualMachine,
    VmHistory,
    VmJitStatus,
    VmRef,
)

if TYPE_CHECKING:
    from jit.requester_access import RbacVerdict


class AzureJit(Protocol):
    """Everything jitbot asks of Azure. Implemented by ``jit.azure.gateway.AzureGateway``."""

    async def find_vm(self, spec: str) -> VirtualMachine:
        """Resolve ``vm``, ``rg/vm`` or ``sub/rg/vm``; raises VmNotFound, VmAmbiguous or InvalidVmName."""
        ...

    async def policy_for(self, vm: VmRef) -> JitPolicy | None:
        """The JIT policy covering ``vm``, or None when JIT is not configured."""
        ...

    async def inventory(self) -> list[VmJitStatus]:
        """Every VM in the configured subscriptions, classified like the portal's three tabs."""
        ...

    async def unsupported_reasons(self, vm: VmRef) -> tuple[UnsupportedReason, ...]:
        """Why ``vm`` cannot use JIT; empty when it can."""
        ...

    async def security_context(self, vm: VmRef) -> SecurityContext:
        """What an approver should know about ``vm`` before opening it; never raises for Azure's sake: a part that
        could not be read within the time budget is marked refused, slow or failed."""
        ...

    async def initiate(
        self,
        policy: JitPolicy,
        ports: Sequence[int],
        source: str,
        end: datetime,
        justification: str,
        *,
        port_ends: Mapping[int, datetime] | None = None,
    ) -> InitiateResult:
        """Open ``ports`` from ``source`` until ``end`` (``port_ends``: later ends for ports shared with others);
        exactly one ARM write."""
        ...

    async def request_history(self, policy: JitPolicy) -> list[JitRequestRecord]:
        """Azure's ``requests[]`` for the policy's VM, read fresh (before writing to a shared port, reconciling)."""
        ...

    async def cached_history(self, vm: VmRef) -> list[JitRequestRecord]:
        """Azure's ``requests[]`` for ``vm`` from the short-lived cache (status pages, the approval card)."""
        ...

    async def all_histories(self) -> list[VmHistory]:
        """Every JIT-configured VM's request history, read fresh (the periodic sync with Azure)."""
        ...

    async def configure(self, vm: VmRef, ports: Sequence[PolicyPort]) -> JitPolicy:
        """Enable JIT on ``vm`` or replace its port rules, leaving other VMs in the policy untouched."""
        ...

    async def disable(self, vm: VmRef) -> None:
        """Remove ``vm`` from its JIT policy (deleting the policy when it was the last VM)."""
        ...

    async def close_access(self, vm: VmRef, ports: Sequence[int], source: str) -> int:
        """Remove the NSG allow rules JIT opened for these ports and source; returns how many were removed."""
        ...


class Notifier(Protocol):
    """How the use cases tell people things. Implemented on the Slack Web API in ``bot``.

    Every method may be called more than once for the same event (at-least-once delivery after a crash),
    so implementations render from the request's current state and never assume they run once.
    """

    async def post_card(self, request: AccessRequest) -> str:
        """Post the approval card to ``request.card_channel``; returns the message ts for later updates."""
        ...

    async def update_card(self, request: AccessRequest) -> None:
        """Re-render the card for the request's current state (buttons removed once decided)."""
        ...

    async def tell_requester(self, request: AccessRequest) -> None:
        """DM the requester the outcome for the current state: connection details, denial, failure…"""
        ...

    async def reminder(self, request: AccessRequest) -> None:
        """Access closes soon: DM the requester and post to the on-call channel."""
        ...

    async def expired(self, request: AccessRequest) -> None:
        """Access has closed: DM the requester and post to the on-call channel."""
        ...


class Directory(Protocol):
    """Who belongs to a Slack user group; implemented (with a short cache) in ``bot``."""

    async def group_members(self, group_id: str) -> frozenset[str]:
        """User ids in the group ``group_id`` (``S…``); a group Slack does not know has none."""
        ...

    async def readable_members(self, group_id: str) -> frozenset[str]:
        """User ids in the group; raises ``jit.errors.GroupUnreadable`` when Slack does not know the group (deleted,
        mistyped, disabled) or cannot answer, for lists where reading "empty" would grant something."""
        ...


class LifecycleNotifier(Protocol):
    """What the lifecycle tells people beyond one request's outcome. Implemented on the Slack Web API in ``bot``.

    Like Notifier, every method renders from the request's current state and may run more than once. Messages
    that are updated later are named by a ``"<channel> <ts>"`` reference, which the use cases store.
    """

    async def extension_card(self, request: AccessRequest) -> str:
        """Post the card for the request's latest extension, or re-render it when posted; returns its reference."""
        ...

    async def extension_outcome(self, request: AccessRequest) -> None:
        """DM the requester that an extension was denied, timed out or failed (granted: see Notifier)."""
        ...

    async def nudge_approvers(self, request: AccessRequest, waited: timedelta) -> None:
        """Remind the approvers, in the card's thread, that the request still waits."""
        ...

    async def escalate(self, request: AccessRequest, waited: timedelta) -> str:
        """Post the request with its buttons where the escalation goes; returns the copy's reference."""
        ...

    async def update_copy(self, request: AccessRequest, reference: str) -> None:
        """Re-render a copy of the approval card (the escalated one) for the request's current state."""
        ...

    async def break_glass(self, request: AccessRequest) -> list[str]:
        """Announce break-glass access loudly to approvers and on-call; returns the posts' references."""
        ...

    async def review_overdue(self, request: AccessRequest, round_number: int) -> None:
        """Nobody has reviewed a break-glass grant in time: escalate again."""
        ...

    async def review_done(self, request: AccessRequest, references: Sequence[str]) -> None:
        """Show on the break-glass announcements who reviewed it (and remove their buttons)."""
        ...

    async def revoked(self, request: AccessRequest) -> None:
        """Access was closed early: tell on-call who closed what."""
        ...

    async def superseded(self, request: AccessRequest) -> None:
        """A newer grant from another source took every port of this one: tell on-call."""
        ...

    async def ports_lost(self, request: AccessRequest) -> None:
        """A newer grant took some of this grant's ports: tell the holder which closed and which stay open."""
        ...

    async def outside_closed(self, request: AccessRequest) -> None:
        """This grant closed access someone had opened outside jitbot: tell on-call whose."""
        ...

    async def outside_access(self, sighting: OutsideAccess) -> None:
        """A port on a VM jitbot watches was opened outside jitbot: tell on-call who, what, from where, until."""
        ...


class RequesterPermissions(Protocol):
    """Whether a person's own Azure identity may request JIT access to a VM, as the Azure portal would check.

    Implemented on Microsoft Graph and Azure RBAC by ``jit.azure.requester_permissions``. Never raises for a
    failed lookup: the verdict says it could not be verified, and why.
    """

    async def check(self, requester: str, vm: VmRef) -> RbacVerdict:
        """The verdict for Slack user ``requester`` on ``vm``."""
        ...


class PeopleEmails(Protocol):
    """A Slack user's email address (their link to an Entra ID account); implemented on ``users.info`` in ``bot``."""

    async def email_of(self, user: str) -> str:
        """The email of ``user``; raises ``jit.errors.IdentityUnavailable`` (with a reason) when there is none."""
        ...


class AuditRecorder(Protocol):
    """``RequestStore.record``: appends one audit-only event (a refusal, a decision left to a person)."""

    def __call__(
        self, event: str, *, actor: str, request_id: str | None, detail: Mapping[str, str] | None = None
    ) -> Awaitable[object]:
        """Append ``event`` to the audit trail."""
        ...
