"""The Azure port: everything jitbot asks of Azure, in jitbot's own types. Implemented by
``jit.azure.gateway.AzureGateway``; its refusals are the errors in ``jit.ports.azure_errors``."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Protocol

from jit.model import (
    InitiateResult,
    JitPolicy,
    JitRequestRecord,
    PolicyPort,
    UnsupportedReason,
    VirtualMachine,
    VmHistory,
    VmJitStatus,
    VmRef,
)
from jit.vm_security import SecurityContext


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
