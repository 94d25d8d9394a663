"""``jit.ports.azure.AzureJit`` in memory: VMs, their JIT policies, Azure's request history and the NSG allow rules.

It behaves the way ``sandbox/arm_jit.py`` (the ARM emulator the end-to-end tests use) models Defender for Cloud:

- ``initiate`` refuses what the policy does not allow (a port it lacks, an end past the port's maximum plus a
  minute of clock slack, an end in the past, a source outside the allowed prefixes) with ``NotSubsetOfPolicy``;
  otherwise it appends one entry to the VM's history (``startTimeUtc`` now, each port ``Initiated`` until its own
  end, Azure's ``requestor`` being jitbot's identity, the justification as sent) and answers like the 202.
- A port opened again supersedes the open one, whoever opened it: the older entry's port turns
  ``Revoked``/``NewerRequestInitiated`` and its allow rule goes, even when the new one ends sooner.
- ``close_access`` deletes the allow rules for those ports and that source; the history is left as it is (deleting
  an NSG rule does not touch JIT's history).

Histories are always read fresh (``cached_history`` has no cache). ``refuse`` makes the next call of a method raise
one of the errors in ``jit.ports.azure_errors`` (or a crash), before or after applying it (Azure took the POST but
its answer was lost); ``interleave`` runs something inside the next write, after its effect, as a concurrent click
would.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta

from jit.clock import Clock
from jit.justification import parse_justification
from jit.model import (
    ANY_SOURCE,
    GrantedPort,
    InitiateResult,
    JitPolicy,
    JitRequestRecord,
    JitSupport,
    PolicyPort,
    UnsupportedReason,
    VirtualMachine,
    VmHistory,
    VmJitStatus,
    VmRef,
)
from jit.ports.azure_errors import AzureNotFound, NotSubsetOfPolicy, VmAmbiguous, VmNotFound
from jit.vm_names import did_you_mean, parse_vm_spec
from jit.vm_security import ContextPart, PowerState, SecurityContext, VmProfile, VmRuntime

CLOCK_SLACK = timedelta(minutes=1)
JITBOT_IDENTITY = "jitbot-managed-identity"
INITIATED = "Initiated"
REVOKED = "Revoked"
NEWER_REQUEST = "NewerRequestInitiated"


@dataclass(frozen=True)
class Initiate:
    """One initiate Azure accepted: what was sent."""

    vm_id: str
    ports: tuple[int, ...]
    source: str
    end: datetime
    justification: str
    port_ends: Mapping[int, datetime] = field(default_factory=dict)


@dataclass(frozen=True)
class AllowRule:
    """An NSG allow rule an initiate added."""

    vm_id: str
    port: int
    source: str


@dataclass
class _Refusal:
    error: Exception
    after_applying: bool


Interleaved = Callable[[], Awaitable[object]]


class FakeAzure:
    """The Azure port over an in-memory world; ``clock`` says when things happen."""

    def __init__(self, clock: Clock):
        self.clock = clock
        self.vms: list[VirtualMachine] = []
        self.policies: dict[str, JitPolicy] = {}
        self.history: dict[str, list[JitRequestRecord]] = {}
        self.allow_rules: list[AllowRule] = []
        self.initiated: list[Initiate] = []
        self.closed: list[tuple[str, tuple[int, ...], str]] = []
        self.unsupported: dict[str, tuple[UnsupportedReason, ...]] = {}
        self.contexts: dict[str, SecurityContext] = {}
        self.calls: list[str] = []
        self._refusals: dict[str, list[_Refusal]] = {}
        self._interleaved: dict[str, list[Interleaved]] = {}

    # -- arranging the world --------------------------------------------------------------------------------

    def add_vm(self, vm: VirtualMachine, ports: Sequence[PolicyPort] | None = None) -> JitPolicy | None:
        """Add a VM, with a JIT policy covering ``ports`` unless None."""
        self.vms.append(vm)
        return None if ports is None else self.set_policy(vm.ref, ports)

    def set_policy(self, vm: VmRef, ports: Sequence[PolicyPort]) -> JitPolicy:
        """Cover ``vm`` by a JIT policy with these port rules (replacing its rules when it had one)."""
        policy = JitPolicy(
            id=f"/subscriptions/{vm.subscription_id}/resourceGroups/{vm.resource_group}/providers/"
            f"Microsoft.Security/locations/{vm.location}/jitNetworkAccessPolicies/default",
            subscription_id=vm.subscription_id,
            resource_group=vm.resource_group,
            location=vm.location,
            name="default",
            vm_id=vm.id,
            ports=tuple(ports),
        )
        self.policies[vm.id.lower()] = policy
        self.history.setdefault(vm.id.lower(), [])
        return policy

    def remove_policy(self, vm: VmRef) -> None:
        """JIT is no longer configured for ``vm`` (its history goes with the policy)."""
        self.policies.pop(vm.id.lower(), None)

    def add_record(self, record: JitRequestRecord) -> None:
        """An entry someone else made (the portal, the CLI): it supersedes the open windows on its ports."""
        self._supersede(record.vm_id, [port.number for port in record.ports])
        self.history.setdefault(record.vm_id.lower(), []).append(record)
        self.allow_rules += [AllowRule(record.vm_id.lower(), port.number, port.source) for port in record.ports]

    def refuse(self, method: str, error: Exception, *, after_applying: bool = False) -> None:
        """The next call of ``method`` raises ``error``: one of ``jit.ports.azure_errors`` as Azure refuses, or any
        other exception for jitbot crashing there. ``after_applying``: Azure did it, but the answer was lost."""
        self._refusals.setdefault(method, []).append(_Refusal(error, after_applying))

    def interleave(self, method: str, action: Interleaved) -> None:
        """Run ``action`` inside the next call of ``method``, after its effect and before its answer."""
        self._interleaved.setdefault(method, []).append(action)

    def records(self, vm: VmRef) -> list[JitRequestRecord]:
        """The VM's history as it is now, oldest first."""
        return self._records_of(vm.id)

    def _records_of(self, vm_id: str) -> list[JitRequestRecord]:
        return sorted(self.history.get(vm_id.lower(), []), key=lambda record: record.start)

    # -- the port -------------------------------------------------------------------------------------------

    async def find_vm(self, spec: str) -> VirtualMachine:
        """Resolve ``vm``, ``rg/vm`` or ``sub/rg/vm`` (case-insensitive); raises VmNotFound, VmAmbiguous or
        InvalidVmName."""
        await self._read("find_vm")
        wanted = parse_vm_spec(spec)
        found = [vm for vm in self.vms if wanted.matches(vm.ref.subscription_id, vm.ref.resource_group, vm.ref.name)]
        if not found:
            refs = [(vm.ref.subscription_id, vm.ref.resource_group, vm.ref.name) for vm in self.vms]
            raise VmNotFound(nearest=did_you_mean(wanted, refs))
        if len(found) > 1:
            raise VmAmbiguous(wanted.name, [vm.ref for vm in found])
        return found[0]

    async def policy_for(self, vm: VmRef) -> JitPolicy | None:
        """The JIT policy covering ``vm``, or None."""
        await self._read("policy_for")
        return self.policies.get(vm.id.lower())

    async def inventory(self) -> list[VmJitStatus]:
        """Every VM, in the portal's three tabs."""
        await self._read("inventory")
        rows = []
        for vm in self.vms:
            policy = self.policies.get(vm.ref.id.lower())
            reasons = self.unsupported.get(vm.ref.id.lower(), ())
            if policy is not None:
                support = JitSupport.CONFIGURED
            else:
                support = JitSupport.UNSUPPORTED if reasons else JitSupport.NOT_CONFIGURED
            rows.append(VmJitStatus(vm, support, reasons, policy, history=tuple(self.records(vm.ref))))
        return rows

    async def unsupported_reasons(self, vm: VmRef) -> tuple[UnsupportedReason, ...]:
        """Why ``vm`` cannot use JIT; empty when it can."""
        await self._read("unsupported_reasons")
        return self.unsupported.get(vm.id.lower(), ())

    async def security_context(self, vm: VmRef) -> SecurityContext:
        """What ``contexts`` holds for ``vm``, else a running VM without findings or public IPs."""
        await self._read("security_context")
        known = self.contexts.get(vm.id.lower())
        if known is not None:
            return known
        return SecurityContext(
            vm=vm,
            read_at=self.clock.now(),
            recommendations=ContextPart.read(()),
            alerts=ContextPart.read(()),
            runtime=ContextPart.read(VmRuntime(PowerState.RUNNING)),
            profile=ContextPart.read(VmProfile(public_ips=())),
        )

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
        """Open ``ports`` from ``source`` until ``end`` (``port_ends`` for later ends): one history entry."""
        refusal = await self._enter("initiate")
        now = self.clock.now()
        current = self.policies.get(policy.vm_id.lower())
        if current is None or current.id != policy.id:
            raise AzureNotFound()
        ends = {number: (port_ends or {}).get(number, end) for number in ports}
        for number, port_end in ends.items():
            self._check(current, number, port_end, source, now)
        self._supersede(policy.vm_id, ports)
        granted = tuple(GrantedPort(number, source, ends[number], INITIATED, "UserRequested") for number in ports)
        parsed = parse_justification(justification)
        self.history.setdefault(policy.vm_id.lower(), []).append(
            JitRequestRecord(
                vm_id=policy.vm_id,
                start=now,
                requestor=JITBOT_IDENTITY,
                justification=justification,
                ports=granted,
                requester_person=parsed.requester if parsed else None,
                request_id=parsed.request_id if parsed else None,
                attempt=parsed.attempt if parsed else None,
            )
        )
        self.allow_rules += [AllowRule(policy.vm_id.lower(), number, source) for number in ports]
        self.initiated.append(Initiate(policy.vm_id, tuple(ports), source, end, justification, dict(port_ends or {})))
        await self._leave("initiate", refusal)
        answered = tuple(replace(port, status="Initiating") for port in granted)
        return InitiateResult(start=now, end=max(ends.values()), ports=answered)

    async def request_history(self, policy: JitPolicy) -> list[JitRequestRecord]:
        """The history of the policy's VM, read fresh."""
        await self._read("request_history")
        return self._records_of(policy.vm_id)

    async def cached_history(self, vm: VmRef) -> list[JitRequestRecord]:
        """The history of ``vm`` (always fresh here)."""
        await self._read("cached_history")
        return self.records(vm)

    async def all_histories(self) -> list[VmHistory]:
        """Every JIT-configured VM's history."""
        await self._read("all_histories")
        return [
            VmHistory(policy.vm_id, policy.id, tuple(self._records_of(policy.vm_id)))
            for policy in self.policies.values()
        ]

    async def configure(self, vm: VmRef, ports: Sequence[PolicyPort]) -> JitPolicy:
        """Enable JIT on ``vm`` or replace its port rules."""
        refusal = await self._enter("configure")
        policy = self.set_policy(vm, ports)
        await self._leave("configure", refusal)
        return policy

    async def disable(self, vm: VmRef) -> None:
        """Remove ``vm`` from its JIT policy."""
        refusal = await self._enter("disable")
        self.remove_policy(vm)
        await self._leave("disable", refusal)

    async def close_access(self, vm: VmRef, ports: Sequence[int], source: str) -> int:
        """Delete the allow rules JIT opened on ``vm`` for these ports and this source; returns how many."""
        refusal = await self._enter("close_access")
        doomed = [
            rule
            for rule in self.allow_rules
            if rule.vm_id == vm.id.lower() and rule.port in ports and rule.source.lower() == source.lower()
        ]
        self.allow_rules = [rule for rule in self.allow_rules if rule not in doomed]
        self.closed.append((vm.id, tuple(ports), source))
        await self._leave("close_access", refusal)
        return len(doomed)

    # -- inside ---------------------------------------------------------------------------------------------

    async def _read(self, method: str) -> None:
        """Record a call that changes nothing; raise the refusal queued for it."""
        refusal = await self._enter(method)
        if refusal is not None:
            raise refusal.error

    async def _enter(self, method: str) -> _Refusal | None:
        """Record the call; raise a refusal meant to come before the effect, or hand back one meant for after."""
        self.calls.append(method)
        queued = self._refusals.get(method)
        if not queued:
            return None
        refusal = queued.pop(0)
        if not refusal.after_applying:
            raise refusal.error
        return refusal

    async def _leave(self, method: str, refusal: _Refusal | None) -> None:
        for action in self._interleaved.pop(method, []):
            await action()
        if refusal is not None:
            raise refusal.error

    def _check(self, policy: JitPolicy, number: int, end: datetime, source: str, now: datetime) -> None:
        rule = policy.port(number)
        if rule is None:
            raise NotSubsetOfPolicy(detail=f"port {number} is not in the policy")
        if end <= now:
            raise NotSubsetOfPolicy(detail=f"port {number}: the end time is in the past")
        if end - now > rule.max_duration + CLOCK_SLACK:
            raise NotSubsetOfPolicy(detail=f"port {number}: longer than the maximum {rule.max_duration}")
        if not _source_allowed(source, rule.allowed_sources):
            raise NotSubsetOfPolicy(detail=f"port {number}: source {source} is not allowed")

    def _supersede(self, vm_id: str, ports: Sequence[int]) -> None:
        key = vm_id.lower()
        self.allow_rules = [rule for rule in self.allow_rules if not (rule.vm_id == key and rule.port in ports)]
        records = self.history.get(key, [])
        for index, record in enumerate(records):
            if any(port.number in ports and port.status == INITIATED for port in record.ports):
                records[index] = replace(
                    record,
                    ports=tuple(
                        replace(port, status=REVOKED, status_reason=NEWER_REQUEST)
                        if port.number in ports and port.status == INITIATED
                        else port
                        for port in record.ports
                    ),
                )


def _source_allowed(source: str, allowed: Sequence[str]) -> bool:
    if ANY_SOURCE in allowed:
        return True
    try:
        network = ipaddress.ip_network(source, strict=False)
    except ValueError:
        return False
    for prefix in allowed:
        try:
            candidate = ipaddress.ip_network(prefix, strict=False)
        except ValueError:
            continue
        if candidate.version == network.version and network.subnet_of(candidate):  # type: ignore[arg-type]
            return True
    return False
