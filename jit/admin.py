"""The admin use cases behind the portal's JIT page: see the inventory, enable, customise and disable JIT on a VM.

Only members of ``JITBOT_ADMINS`` may change a policy; the check runs before any Azure call, and a refusal is
audited like every change. Each change is audited with who made it and the port rules before and after, so the
trail answers "who opened port 8080 to the internet on db-01, and what was there before".

Azure Policy can forbid JIT on a VM, and Azure only says so when a write is attempted. When an admin's write is
refused that way, the refusal is audited and remembered, and from then on the inventory lists the VM as
unsupported ("disabled by policy") until a write succeeds or the memory fades (see ``jit.store.policy_denials``).
The gateway stays a pure view of Azure; the merge happens here.
"""

from __future__ import annotations

import contextlib
import json
import logging
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, replace

from jit.clock import Clock
from jit.durations import to_iso8601
from jit.errors import NotAllowed, RequestRejected
from jit.hints import Command, command_hint
from jit.model import (
    HeldPort,
    JitPolicy,
    JitSupport,
    PolicyDenial,
    PolicyPort,
    UnsupportedReason,
    VirtualMachine,
    VmJitStatus,
    VmRef,
)
from jit.port_survey import Surveyor, held_ports
from jit.ports import AzureJit, Directory
from jit.ports.azure_errors import JitDeniedByPolicy, VmNotFound
from jit.ports.records import LockBusy, Turns
from jit.resource_ids import id_segments
from jit.sharing import PortHolders
from jit.store.policy_denials import PolicyDenials
from jit.store.requests import RequestStore

log = logging.getLogger(__name__)

_STALE_REFERENCE = "That VM reference is not valid any more; list the VMs again."


@dataclass(frozen=True)
class Readiness:
    """What the requirements check found: the VM, why JIT cannot protect it (empty when it can), its policy,
    and the remembered Azure Policy refusal behind ``DISABLED_BY_POLICY``."""

    vm: VirtualMachine
    reasons: tuple[UnsupportedReason, ...]
    policy: JitPolicy | None
    policy_denial: PolicyDenial | None = None

    @property
    def ready(self) -> bool:
        """JIT can be switched on or changed for this VM.

        A remembered Azure Policy refusal does not block: only another write can tell whether an exemption has
        been granted since, so the admin may try again (and is told what happened last time).
        """
        return all(reason is UnsupportedReason.DISABLED_BY_POLICY for reason in self.reasons)


@dataclass(frozen=True)
class PolicyChange:
    """One admin change: the VM's rules before and after (``after`` None once disabled), and its audit entry."""

    vm: VirtualMachine
    actor: str
    before: JitPolicy | None
    after: JitPolicy | None
    audit_id: str


@dataclass(frozen=True)
class DisablePreview:
    """What turning JIT off on a VM would affect: the VM, and who holds which of its ports right now (in full: the
    admin about to act sees every holder)."""

    vm: VirtualMachine
    open_now: tuple[HeldPort, ...]


@dataclass(frozen=True)
class VmOverview:
    """One VM as `/jit status <vm>` shows it: its tab, policy, and who holds which of its ports right now (see
    ``jit.port_survey.held_ports`` for what a viewer may see of it)."""

    status: VmJitStatus
    holders: Mapping[int, PortHolders]


def vm_spec(vm: str) -> str:
    """A VM spec ``find_vm`` accepts: ARM ids (from buttons and modals) become ``subscription/rg/name``."""
    if not vm.lower().startswith("/subscriptions/"):
        return vm
    segments = id_segments(vm)
    name = segments.get("virtualmachines")
    if not name or "subscriptions" not in segments or "resourcegroups" not in segments:
        raise VmNotFound(
            "That VM reference is not valid any more; list the VMs again.", hint=command_hint(Command.LIST)
        )
    return f"{segments['subscriptions']}/{segments['resourcegroups']}/{name}"


def ports_json(policy: JitPolicy | None) -> str:
    """Port rules as compact JSON for the audit trail (``[]`` when there is no policy)."""
    return rules_json(policy.ports if policy is not None else ())


def rules_json(ports: Sequence[PolicyPort]) -> str:
    """Port rules as compact JSON for the audit trail."""
    rules = [
        {
            "number": p.number,
            "protocol": p.protocol.value,
            "sources": list(p.allowed_sources),
            "max": to_iso8601(p.max_duration),
        }
        for p in ports
    ]
    return json.dumps(rules, separators=(",", ":"))


def with_denial(status: VmJitStatus, denial: PolicyDenial | None) -> VmJitStatus:
    """``status`` with a remembered Azure Policy refusal merged in.

    A VM without a policy moves to the Unsupported tab with ``DISABLED_BY_POLICY``; an unsupported one gains the
    reason. A configured VM stays configured: its existing policy still grants access, only changes are refused.
    """
    if denial is None or status.support is JitSupport.CONFIGURED:
        return status
    reasons = tuple(dict.fromkeys((*status.unsupported_reasons, UnsupportedReason.DISABLED_BY_POLICY)))
    return replace(status, support=JitSupport.UNSUPPORTED, unsupported_reasons=reasons, policy_denial=denial)


class AdminService:
    """Admin checks and policy changes through the Azure gateway, each one audited in the request store."""

    def __init__(
        self,
        *,
        azure: AzureJit,
        store: RequestStore,
        directory: Directory,
        admins: Sequence[str],
        clock: Clock,
        denials: PolicyDenials,
        locks: Turns,
    ):
        self.azure = azure
        self.store = store
        self.directory = directory
        self.admins = tuple(admins)
        self.clock = clock
        self.denials = denials
        self.locks = locks
        self.surveyor = Surveyor(azure, store, clock)

    @contextlib.asynccontextmanager
    async def _editing(self, vm: VmRef) -> AsyncIterator[None]:
        """jitbot's policy writers take turns across replicas: one policy document per resource group and region."""
        try:
            async with self.locks.hold(f"policy:{vm.subscription_id}/{vm.resource_group}/{vm.location}".lower()):
                yield
        except LockBusy:
            raise RequestRejected(
                f"Another change to the JIT policy of resource group `{vm.resource_group}` ({vm.location}) is still "
                "being saved. Nothing was changed; try again in a moment.",
                command_hint(Command.STATUS, vm.name),
            ) from None

    async def is_admin(self, user: str) -> bool:
        """Whether ``user`` is named in JITBOT_ADMINS directly or through one of its user groups."""
        if not user:
            return False
        if user in self.admins:
            return True
        for principal in self.admins:
            if principal.startswith("S") and user in await self.directory.group_members(principal):
                return True
        return False

    async def require_admin(self, user: str, action: str, target: str) -> None:
        """Refuse (and audit the refusal) unless ``user`` is an admin; runs before anything touches Azure."""
        if await self.is_admin(user):
            return
        await self.store.record(
            "admin_refused", actor=user, request_id=None, detail={"action": action, "target": target[:300]}
        )
        raise NotAllowed(
            f"Only jitbot admins can {action} JIT on a VM, and you are not one of them. "
            "Ask an admin, or ask to be added to JITBOT_ADMINS."
        )

    async def find(self, vm: str) -> VirtualMachine:
        """The VM named by a spec or an ARM id; an id must resolve to exactly that VM."""
        found = await self.azure.find_vm(vm_spec(vm))
        if vm.lower().startswith("/subscriptions/") and not found.ref.same_vm(vm):
            raise VmNotFound(
                "That VM reference is not valid any more; list the VMs again.", hint=command_hint(Command.LIST)
            )
        return found

    async def disable_preview(self, user: str, vm: str) -> DisablePreview:
        """Before the disable confirmation: the VM must have JIT (else RequestRejected), and whatever is open on it
        now, read fresh from Azure's history, so the admin knows whose access the change concerns."""
        await self.require_admin(user, "disable", vm)
        found = await self.find(vm)
        survey = await self.surveyor.survey(found.ref, fresh=True)
        if survey.policy is None:
            raise RequestRejected(
                f"JIT is not configured on `{found.ref.name}`, so there is nothing to disable.",
                command_hint(Command.LIST, "configured"),
            )
        return DisablePreview(found, held_ports(survey.holders, viewer=user, detailed=True))

    async def readiness(self, user: str, vm: str, *, action: str = "enable") -> Readiness:
        """The requirements check before the policy modal: Defender for Servers, ARM VM, NSG, a remembered Azure
        Policy refusal; and the policy."""
        await self.require_admin(user, action, vm)
        found = await self.find(vm)
        reasons = await self.azure.unsupported_reasons(found.ref)
        policy = await self.azure.policy_for(found.ref)
        denial = await self.denials.get(found.ref.id)
        if denial is not None:
            reasons = (*reasons, UnsupportedReason.DISABLED_BY_POLICY)
        return Readiness(found, reasons, policy, denial)

    async def configure(self, user: str, vm: str, ports: Sequence[PolicyPort]) -> PolicyChange:
        """Write the VM's port rules (other VMs in the policy untouched) and audit before/after.

        When Azure Policy refuses, the refusal is remembered and audited before the error reaches the admin.
        """
        await self.require_admin(user, "change", vm)
        found = await self.find(vm)
        async with self._editing(found.ref):
            before = await self.azure.policy_for(found.ref)
            try:
                after = await self.azure.configure(found.ref, ports)
            except JitDeniedByPolicy as denied:
                await self._remember_denial(user, found, before, ports, denied)
                raise
        await self.denials.forget(found.ref.id)
        audit_id = await self.store.record(
            "policy_configured" if before is not None else "policy_enabled",
            actor=user,
            request_id=None,
            detail={
                "vm": found.ref.id,
                "policy": after.id,
                "before": ports_json(before),
                "after": ports_json(after),
            },
        )
        log.info("admin.policy_saved", extra={"vm": found.ref.id, "actor": user, "ports": len(after.ports)})
        return PolicyChange(found, user, before, after, audit_id)

    async def _remember_denial(
        self,
        user: str,
        found: VirtualMachine,
        before: JitPolicy | None,
        ports: Sequence[PolicyPort],
        denied: JitDeniedByPolicy,
    ) -> None:
        denial = PolicyDenial(found.ref.id, denied.assignment, denied.assignment_id, self.clock.now())
        await self.denials.remember(denial)
        await self.store.record(
            "azure_policy_denied",
            actor=user,
            request_id=None,
            detail={
                "vm": found.ref.id,
                "assignment": denied.assignment[:300],
                "assignment_id": (denied.assignment_id or "")[:500],
                "before": ports_json(before),
                "attempted": rules_json(ports),
            },
        )
        log.warning(
            "admin.azure_policy_denied", extra={"vm": found.ref.id, "actor": user, "assignment": denied.assignment}
        )

    async def retry_command(self, vm: str) -> Command:
        """The command that tries a failed save again, from what Azure holds now: ``enable`` while the VM has no
        JIT policy (``edit`` would refuse), ``edit`` once it has one."""
        found = await self.find(vm)
        return Command.EDIT if await self.azure.policy_for(found.ref) is not None else Command.ENABLE

    async def disable(self, user: str, vm: str) -> PolicyChange:
        """Remove the VM from its JIT policy (other VMs untouched) and audit what it had."""
        await self.require_admin(user, "disable", vm)
        found = await self.find(vm)
        async with self._editing(found.ref):
            before = await self.azure.policy_for(found.ref)
            if before is None:
                raise RequestRejected(
                    f"JIT is not configured on `{found.ref.name}`, so there is nothing to disable.",
                    command_hint(Command.LIST, "configured"),
                )
            await self.azure.disable(found.ref)
        audit_id = await self.store.record(
            "policy_disabled",
            actor=user,
            request_id=None,
            detail={"vm": found.ref.id, "policy": before.id, "before": ports_json(before), "after": "[]"},
        )
        log.info("admin.policy_disabled", extra={"vm": found.ref.id, "actor": user})
        return PolicyChange(found, user, before, None, audit_id)

    async def inventory(
        self, *, viewer: str | None = None, detailed: Callable[[VirtualMachine], Awaitable[bool]] | None = None
    ) -> list[VmJitStatus]:
        """Every VM in the portal's three tabs, remembered Azure Policy refusals included (anyone may look; only
        admins get the Enable buttons). With a ``viewer``, configured VMs also say who holds which port now
        (``detailed`` decides, per VM, whether the viewer sees other people's details)."""
        rows = await self.azure.inventory()
        denials = await self.denials.all()
        rows = [with_denial(row, denials.get(row.vm.ref.id.lower())) for row in rows]
        if viewer is None:
            return rows
        configured = [i for i, row in enumerate(rows) if row.support is JitSupport.CONFIGURED and row.history]
        surveys = await self.surveyor.holders_of_many([(rows[i].policy, rows[i].history) for i in configured])
        for index, survey in zip(configured, surveys, strict=True):
            see = await detailed(rows[index].vm) if detailed is not None else False
            rows[index] = replace(rows[index], open_now=held_ports(survey.holders, viewer=viewer, detailed=see))
        return rows

    async def overview(self, vm: str) -> VmOverview:
        """One VM's tab, policy and who holds its ports now, from cached reads of Azure's request history."""
        found = await self.find(vm)
        reasons = await self.azure.unsupported_reasons(found.ref)
        policy = await self.azure.policy_for(found.ref)
        if reasons:
            status = VmJitStatus(found, JitSupport.UNSUPPORTED, reasons, policy)
        elif policy is not None:
            status = VmJitStatus(found, JitSupport.CONFIGURED, (), policy)
        else:
            status = VmJitStatus(found, JitSupport.NOT_CONFIGURED)
        status = with_denial(status, await self.denials.get(found.ref.id))
        if policy is None:
            return VmOverview(status, {})
        survey = await self.surveyor.survey(found.ref, fresh=False)
        return VmOverview(status, survey.holders)
