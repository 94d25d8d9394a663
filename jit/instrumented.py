"""Wraps any ``AzureJit`` to time every call and count its errors, without the gateway knowing about metrics."""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable, Mapping, Sequence
from datetime import datetime
from typing import TypeVar

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
from jit.ports import AzureJit
from jit.vm_security import SecurityContext

T = TypeVar("T")
Observer = Callable[[str, float, BaseException | None], None]


class InstrumentedAzure:
    """An ``AzureJit`` that reports (operation, seconds, error) for each call to ``observe``."""

    def __init__(self, inner: AzureJit, observe: Observer):
        self.inner = inner
        self.observe = observe

    async def _timed(self, operation: str, call: Awaitable[T]) -> T:
        started = time.perf_counter()
        try:
            result = await call
        except BaseException as exc:
            self.observe(operation, time.perf_counter() - started, exc)
            raise
        self.observe(operation, time.perf_counter() - started, None)
        return result

    async def find_vm(self, spec: str) -> VirtualMachine:
        """See AzureJit.find_vm."""
        return await self._timed("find_vm", self.inner.find_vm(spec))

    async def policy_for(self, vm: VmRef) -> JitPolicy | None:
        """See AzureJit.policy_for."""
        return await self._timed("policy_for", self.inner.policy_for(vm))

    async def inventory(self) -> list[VmJitStatus]:
        """See AzureJit.inventory."""
        return await self._timed("inventory", self.inner.inventory())

    async def unsupported_reasons(self, vm: VmRef) -> tuple[UnsupportedReason, ...]:
        """See AzureJit.unsupported_reasons."""
        return await self._timed("unsupported_reasons", self.inner.unsupported_reasons(vm))

    async def security_context(self, vm: VmRef) -> SecurityContext:
        """See AzureJit.security_context."""
        return await self._timed("security_context", self.inner.security_context(vm))

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
        """See AzureJit.initiate."""
        return await self._timed(
            "initiate", self.inner.initiate(policy, ports, source, end, justification, port_ends=port_ends)
        )

    async def request_history(self, policy: JitPolicy) -> list[JitRequestRecord]:
        """See AzureJit.request_history."""
        return await self._timed("request_history", self.inner.request_history(policy))

    async def cached_history(self, vm: VmRef) -> list[JitRequestRecord]:
        """See AzureJit.cached_history."""
        return await self._timed("cached_history", self.inner.cached_history(vm))

    async def all_histories(self) -> list[VmHistory]:
        """See AzureJit.all_histories."""
        return await self._timed("all_histories", self.inner.all_histories())

    async def configure(self, vm: VmRef, ports: Sequence[PolicyPort]) -> JitPolicy:
        """See AzureJit.configure."""
        return await self._timed("configure", self.inner.configure(vm, ports))

    async def disable(self, vm: VmRef) -> None:
        """See AzureJit.disable."""
        await self._timed("disable", self.inner.disable(vm))

    async def close_access(self, vm: VmRef, ports: Sequence[int], source: str) -> int:
        """See AzureJit.close_access."""
        return await self._timed("close_access", self.inner.close_access(vm, ports, source))
