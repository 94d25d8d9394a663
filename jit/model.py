"""Typed values shared by the use cases, the Azure gateway, the store and the Slack face."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from enum import StrEnum

WELL_KNOWN_PORTS: Mapping[str, tuple[int, ...]] = {
    "ssh": (22,),
    "rdp": (3389,),
    "winrm": (5985, 5986),
}
RECOMMENDED_PORTS: tuple[int, ...] = (22, 3389, 5985, 5986)
DEFAULT_MAX_ACCESS = timedelta(hours=3)
MIN_ACCESS = timedelta(minutes=5)
MAX_ACCESS = timedelta(days=1)
ANY_SOURCE = "*"


class PortProtocol(StrEnum):
    """Protocol of a JIT port rule, spelled as Azure spells it."""

    TCP = "TCP"
    UDP = "UDP"
    ANY = "*"


@dataclass(frozen=True, slots=True)
class VmRef:
    """Where a VM lives in Azure; ``id`` keeps Azure's own casing of the resource id."""

    id: str
    subscription_id: str
    resource_group: str
    name: str
    location: str

    @property
    def short(self) -> str:
        """``rg/name``: how people disambiguate a VM in a command."""
        return f"{self.resource_group}/{self.name}"

    def same_vm(self, resource_id: str) -> bool:
        """Azure resource ids compare case-insensitively."""
        return self.id.lower() == resource_id.lower()


@dataclass(frozen=True, slots=True)
class VirtualMachine:
    """A VM as jitbot needs it: where it is, what it runs and how to reach it."""

    ref: VmRef
    os_type: str | None = None
    private_ips: tuple[str, ...] = ()
    public_ips: tuple[str, ...] = ()
    tags: Mapping[str, str] = field(default_factory=dict, hash=False)


@dataclass(frozen=True, slots=True)
class PolicyPort:
    """One port rule of a JIT policy. ``allowed_sources`` is ``("*",)`` when any source is allowed."""

    number: int
    protocol: PortProtocol = PortProtocol.ANY
    allowed_sources: tuple[str, ...] = (ANY_SOURCE,)
    max_duration: timedelta = DEFAULT_MAX_ACCESS


@dataclass(frozen=True, slots=True)
class JitPolicy:
    """The JIT policy entry covering one VM, and where the policy lives (for initiate and PUT)."""

    id: str
    subscription_id: str
    resource_group: str
    location: str
    name: str
    vm_id: str
    ports: tuple[PolicyPort, ...]

    def port(self, number: int) -> PolicyPort | None:
        """The rule for ``number``, or None when the policy does not cover that port."""
        return next((p for p in self.ports if p.number == number), None)


class JitSupport(StrEnum):
    """The Azure portal's three tabs."""

    CONFIGURED = "configured"
    NOT_CONFIGURED = "not_configured"
    UNSUPPORTED = "unsupported"


class UnsupportedReason(StrEnum):
    """Why a VM cannot use JIT; each value is explained to people by the Slack face."""

    NO_NSG = "no_nsg"
    CLASSIC_VM = "classic_vm"
    DEFENDER_OFF = "defender_off"
    FIREWALL_MANAGED = "firewall_managed"
    DISABLED_BY_POLICY = "disabled_by_policy"


@dataclass(frozen=True)
class PolicyDenial:
    """Azure Policy refused to let JIT cover a VM (403 ``RequestDisallowedByPolicy``) when an admin tried.

    No read API predicts such a refusal, so jitbot remembers it to list the VM as unsupported. ``assignment`` is
    the policy assignment's display name (empty when Azure did not name it); ``at`` is when Azure refused.
    """

    vm_id: str
    assignment: str
    assignment_id: str | None
    at: datetime


@dataclass(frozen=True, slots=True)
class GrantedPort:
    """One port of one JIT request in Azure's history (``status``/``status_reason`` as Azure spells them)."""

    number: int
    source: str
    end: datetime
    status: str
    status_reason: str = ""


@dataclass(frozen=True, slots=True)
class JitRequestRecord:
    """One entry of a policy's ``requests[]`` history, for one VM."""

    vm_id: str
    start: datetime
    requestor: str
    justification: str
    ports: tuple[GrantedPort, ...]
    requester_person: str | None = None
    request_id: str | None = None
    attempt: str | None = None


@dataclass(frozen=True)
class VmHistory:
    """One JIT-configured VM's request history, and the policy it came from."""

    vm_id: str
    policy_id: str
    records: tuple[JitRequestRecord, ...]


@dataclass(frozen=True)
class OutsideAccess:
    """A port Azure has open on a VM that jitbot did not open: who (Azure's ``requestor``), which port, from
    where, since and until when."""

    vm_id: str
    vm_name: str
    port: int
    requestor: str
    source: str
    start: datetime
    end: datetime
    justification: str = ""


@dataclass(frozen=True, slots=True)
class JitActivity:
    """The portal's columns for a configured VM."""

    approved_last_7_days: int
    last_access: datetime | None
    last_user: str | None


@dataclass(frozen=True, slots=True)
class HolderView:
    """Someone holding a port, as one viewer may see them: ``who`` and ``source`` are None when the viewer may
    not see other people's details (only approvers and admins may). ``slack``: ``who`` is a Slack user id."""

    until: datetime
    who: str | None = None
    slack: bool = False
    source: str | None = None
    mine: bool = False
    request_id: str | None = None


@dataclass(frozen=True, slots=True)
class HeldPort:
    """A port Azure has open on a VM now, until ``until``, and who holds it."""

    port: int
    until: datetime
    holders: tuple[HolderView, ...]


@dataclass(frozen=True, slots=True)
class VmJitStatus:
    """One row of the inventory: a VM, its tab, why it is unsupported, its policy and activity, the Azure Policy
    refusal behind ``DISABLED_BY_POLICY``, its JIT history and what is open on it now (filled by the use cases)."""

    vm: VirtualMachine
    support: JitSupport
    unsupported_reasons: tuple[UnsupportedReason, ...] = ()
    policy: JitPolicy | None = None
    activity: JitActivity | None = None
    policy_denial: PolicyDenial | None = None
    history: tuple[JitRequestRecord, ...] = field(default=(), repr=False)
    open_now: tuple[HeldPort, ...] = ()


@dataclass(frozen=True)
class InitiateResult:
    """What Azure accepted: the window starts at ``start``, each port closes at its end time, and ``end`` is the
    latest of them (later than the grant's own end where the window is shared with others)."""

    start: datetime
    end: datetime
    ports: tuple[GrantedPort, ...]


class RequestState(StrEnum):
    """States of an access request; the legal moves are in ``jit.states``."""

    PENDING = "pending"
    APPROVED = "approved"
    ACTIVE = "active"
    EXPIRED = "expired"
    DENIED = "denied"
    CANCELLED = "cancelled"
    TIMED_OUT = "timed_out"
    FAILED = "failed"
    REVOKED = "revoked"
    SUPERSEDED = "superseded"


@dataclass(frozen=True)
class AccessRequest:
    """An engineer's request for access to ports of one VM, and everything that happened to it.

    ``attempts`` holds the marker of every initiate jitbot made for this request (``jit.justification``), saved
    before each POST; ``lost_ports`` the ports a newer grant from another source took away while it was active.
    """

    id: str
    requester: str
    vm: VmRef
    ports: tuple[int, ...]
    source: str
    duration: timedelta
    reason: str
    state: RequestState
    created_at: datetime
    approver: str | None = None
    decided_at: datetime | None = None
    starts_at: datetime | None = None
    ends_at: datetime | None = None
    failure: str | None = None
    card_channel: str | None = None
    card_ts: str | None = None
    policy_id: str | None = None
    approvals: tuple[str, ...] = ()
    attempts: tuple[str, ...] = ()
    lost_ports: tuple[int, ...] = ()
    extra: Mapping[str, str] = field(default_factory=dict, hash=False)

    @property
    def open_ports(self) -> tuple[int, ...]:
        """The ports this grant still holds: all it was granted, less those a newer grant took from it."""
        return tuple(p for p in self.ports if p not in self.lost_ports)


class RbacMode(StrEnum):
    """``JITBOT_REQUESTER_RBAC``."""

    OFF = "off"
    WARN = "warn"
    ENFORCE = "enforce"


class ApproverRbac(StrEnum):
    """``JITBOT_APPROVER_RBAC``: whether an approver's own Azure identity must be able to request JIT on the VM."""

    OFF = "off"
    ENFORCE = "enforce"


class RbacOutcome(StrEnum):
    """What the check found."""

    ALLOWED = "allowed"
    MISSING = "missing"
    UNVERIFIED = "unverified"


@dataclass(frozen=True)
class RbacVerdict:
    """The requester's Azure identity (``principal``, their UPN) and what it lacks on the VM.

    ``reason`` says why the check could not be made (UNVERIFIED); it is safe to show in Slack. ``denied_by`` names
    the deny assignments that refuse some of ``missing`` even where a role grants them (MISSING).
    """

    outcome: RbacOutcome
    principal: str = ""
    missing: tuple[str, ...] = ()
    reason: str = ""
    denied_by: tuple[str, ...] = ()

    @classmethod
    def allowed(cls, principal: str) -> RbacVerdict:
        """The identity holds every required action."""
        return cls(RbacOutcome.ALLOWED, principal)

    @classmethod
    def lacking(cls, principal: str, missing: tuple[str, ...], denied_by: tuple[str, ...] = ()) -> RbacVerdict:
        """The identity lacks ``missing`` (a non-empty subset of REQUIRED_ACTIONS), some perhaps through the deny
        assignments ``denied_by``."""
        return cls(RbacOutcome.MISSING, principal, missing, denied_by=denied_by)

    @classmethod
    def unverified(cls, reason: str, principal: str = "") -> RbacVerdict:
        """The check could not be made; ``reason`` says why."""
        return cls(RbacOutcome.UNVERIFIED, principal, reason=reason)


@dataclass(frozen=True)
class EscalatedCopies:
    """Where an escalated request's copies were posted (``"<channel> <ts>"`` references): one in the escalation
    channel, without decision buttons, and one DM with them to each person the escalation brought in."""

    channel_copy: str
    decider_dms: tuple[str, ...] = ()
