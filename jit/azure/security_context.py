"""A VM's security context for the approval card, read through short-lived caches and within a time budget.

The card must not wait on Defender for Cloud: every part is read at once, and whatever has not answered when the
budget (1.5 s by default) runs out is shown as unknown ("slow") while its read goes on and fills the cache for the
next card. A part Azure refuses (403) or fails to read is shown as unknown too, and that answer is remembered
briefly so a burst of requests does not repeat it. When warm, a VM costs no ARM call: recommendations and alerts
are cached for five minutes (alerts per resource group), the power state for one (it changes when people start and
stop VMs), a recommendation type's severity for a day (it belongs to the type, not to the VM). The power state a
Resource Graph lookup read moments ago (``known_runtime``) stands in for the instance view read.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from datetime import timedelta
from typing import Any, TypeVar

from jit.azure.cache import TtlCache
from jit.azure.security_reads import SecurityReader
from jit.azure.security_shapes import (
    assessment_severity,
    open_alerts_by_resource,
    recommendations,
    runtime,
    unhealthy_assessments,
)
from jit.clock import Clock
from jit.model import VirtualMachine, VmRef
from jit.ports.azure_errors import AzureForbidden, AzureJitError, AzureTimeout
from jit.vm_security import (
    ContextPart,
    DefenderAlert,
    DefenderRecommendation,
    ReadOutcome,
    SecurityContext,
    SecuritySeverity,
    VmProfile,
    VmRuntime,
)

log = logging.getLogger(__name__)
V = TypeVar("V")
ProfileLoader = Callable[[], Awaitable[VirtualMachine]]
KnownRuntime = Callable[[str], VmRuntime | None]
"""The power state and reported OS of a VM id as something else read them recently (Resource Graph), or None."""
"""Reads the VM as jitbot's VM index knows it (public IPs, OS type); the gateway passes its cached lookup."""


@dataclass(frozen=True)
class ContextTuning:
    """How long the card may wait for the context, and how long each part is remembered."""

    budget: timedelta = timedelta(seconds=1.5)
    ttl: timedelta = timedelta(minutes=5)
    power_ttl: timedelta = timedelta(minutes=1)
    failure_ttl: timedelta = timedelta(seconds=30)
    severity_ttl: timedelta = timedelta(hours=24)
    severity_reads: int = 8


def outcome_of(error: AzureJitError) -> ReadOutcome:
    """A 403 is a refusal (jitbot's role lacks the read), no answer in time is slowness, anything else a failure."""
    if isinstance(error, AzureForbidden):
        return ReadOutcome.REFUSED
    if isinstance(error, AzureTimeout):
        return ReadOutcome.SLOW
    return ReadOutcome.FAILED


class SecurityContextReader:
    """Puts together ``SecurityContext`` values for the gateway; ``close`` stops the reads still going on."""

    def __init__(
        self,
        reads: SecurityReader,
        clock: Clock,
        tuning: ContextTuning | None = None,
        known_runtime: KnownRuntime = lambda _vm_id: None,
    ):
        self._reads = reads
        self._known_runtime = known_runtime
        self._clock = clock
        self._tuning = tuning or ContextTuning()
        tuned = self._tuning
        self._recommendations: TtlCache[str, tuple[DefenderRecommendation, ...]] = TtlCache(clock, tuned.ttl)
        self._alerts: TtlCache[tuple[str, str], Mapping[str, tuple[DefenderAlert, ...]]] = TtlCache(clock, tuned.ttl)
        self._runtime: TtlCache[str, VmRuntime] = TtlCache(clock, tuned.power_ttl)
        self._severities: TtlCache[str, SecuritySeverity] = TtlCache(clock, tuned.severity_ttl)
        self._failures: TtlCache[tuple[str, ...], ContextPart[Any]] = TtlCache(clock, tuned.failure_ttl)

    async def read(self, vm: VmRef, profile: ProfileLoader) -> SecurityContext:
        """Every part of ``vm``'s context that can be had within the budget; never raises for Azure's sake."""
        vm_key = vm.id.lower()
        group_key = (vm.subscription_id.lower(), vm.resource_group.lower())
        recommended = asyncio.ensure_future(
            self._part(vm, "recommendations", ("recommendations", vm_key), lambda: self._recommended(vm))
        )
        alerted = asyncio.ensure_future(self._part(vm, "alerts", ("alerts", *group_key), lambda: self._alerted(vm)))
        running = asyncio.ensure_future(self._part(vm, "runtime", ("runtime", vm_key), lambda: self._running(vm)))
        profiled = asyncio.ensure_future(self._part(vm, "profile", None, lambda: _profile(profile)))
        tasks: list[asyncio.Future[Any]] = [recommended, alerted, running, profiled]
        try:
            _, pending = await asyncio.wait(tasks, timeout=self._tuning.budget.total_seconds())
        finally:
            for task in tasks:
                task.cancel()
        await asyncio.gather(*pending, return_exceptions=True)
        return SecurityContext(
            vm=vm,
            read_at=self._clock.now(),
            recommendations=self._settled(vm, "recommendations", recommended),
            alerts=self._settled(vm, "alerts", alerted),
            runtime=self._settled(vm, "runtime", running),
            profile=self._settled(vm, "profile", profiled),
        )

    async def close(self) -> None:
        """Stop the reads that outlived their budget, so none outlives the SDK clients."""
        for cache in (self._recommendations, self._alerts, self._runtime, self._severities):
            await cache.drain()

    def _settled(self, vm: VmRef, name: str, task: asyncio.Future[ContextPart[V]]) -> ContextPart[V]:
        if task.cancelled():
            seconds = self._tuning.budget.total_seconds()
            log.warning("azure.security_context_slow", extra={"vm": vm.id, "part": name, "budget": seconds})
            return ContextPart.unread(ReadOutcome.SLOW, f"no answer within {seconds:g}s")
        return task.result()

    async def _part(
        self, vm: VmRef, name: str, failure_key: tuple[str, ...] | None, fetch: Callable[[], Awaitable[V]]
    ) -> ContextPart[V]:
        remembered = self._failures.peek(failure_key) if failure_key is not None else None
        if remembered is not None:
            return remembered
        try:
            return ContextPart.read(await fetch())
        except AzureJitError as exc:
            status = f" {exc.status}" if exc.status is not None else ""
            part: ContextPart[V] = ContextPart.unread(outcome_of(exc), f"{type(exc).__name__}{status}")
            error = type(exc).__name__
        except Exception as exc:  # a part of the card must never fail the request it belongs to
            part = ContextPart.unread(ReadOutcome.FAILED, type(exc).__name__)
            error = type(exc).__name__
        log.warning(
            "azure.security_context_unread",
            extra={"vm": vm.id, "part": name, "outcome": str(part.outcome), "error": error},
        )
        if failure_key is not None and part.outcome is not ReadOutcome.SLOW:
            self._failures.put(failure_key, part)
        return part

    async def _recommended(self, vm: VmRef) -> tuple[DefenderRecommendation, ...]:
        async def load() -> tuple[DefenderRecommendation, ...]:
            unhealthy = unhealthy_assessments(await self._reads.assessments(vm.id))
            return recommendations(unhealthy, await self._severities_of(vm, list(unhealthy)))

        return await self._recommendations.get(vm.id.lower(), load)

    async def _severities_of(self, vm: VmRef, keys: list[str]) -> dict[str, SecuritySeverity]:
        """Each assessment type's severity, read with ``$expand=metadata`` on this VM unless cached; a read that
        fails leaves the severity unknown rather than losing the recommendation."""
        gate = asyncio.Semaphore(max(1, self._tuning.severity_reads))

        async def one(key: str) -> SecuritySeverity:
            async def load() -> SecuritySeverity:
                async with gate:
                    return assessment_severity(await self._reads.assessment_with_metadata(vm.id, key))

            try:
                found = await self._severities.get(key, load)
            except AzureJitError as exc:
                log.info("azure.assessment_severity_unread", extra={"vm": vm.id, "error": type(exc).__name__})
                return SecuritySeverity.UNKNOWN
            if found is SecuritySeverity.UNKNOWN:
                self._severities.invalidate(key)
            return found

        found = await asyncio.gather(*(one(key) for key in keys))
        return dict(zip(keys, found, strict=True))

    async def _alerted(self, vm: VmRef) -> tuple[DefenderAlert, ...]:
        async def load() -> Mapping[str, tuple[DefenderAlert, ...]]:
            return open_alerts_by_resource(await self._reads.alerts(vm.subscription_id, vm.resource_group))

        by_resource = await self._alerts.get((vm.subscription_id.lower(), vm.resource_group.lower()), load)
        return by_resource.get(vm.id.lower().rstrip("/"), ())

    async def _running(self, vm: VmRef) -> VmRuntime:
        async def load() -> VmRuntime:
            known = self._known_runtime(vm.id)
            return known if known is not None else runtime(await self._reads.instance_view(vm.id))

        return await self._runtime.get(vm.id.lower(), load)


async def _profile(load: ProfileLoader) -> VmProfile:
    vm = await load()
    return VmProfile(public_ips=vm.public_ips, os_type=vm.os_type)
