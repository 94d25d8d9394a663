"""Initiating JIT access without ever granting twice.

A POST that timed out or got a 5xx may still have been applied by Azure. Retrying blindly could open the
port a second time (and record two grants), so after every failure we first look for our own
justification in the policy's history: if Azure has it, the grant happened and we report success.
Every initiate's justification carries its own attempt marker (``jit.justification``), and only entries
that started after this initiate began count, so an older entry of the same request never passes for it.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Mapping, Sequence
from datetime import datetime, timedelta

from jit.azure.clients import GatewayTuning
from jit.azure.policies import accepted_request, initiate_body, recorded_result
from jit.azure.writes import ArmWriter, InitiateFailure
from jit.clock import Clock
from jit.model import InitiateResult, JitPolicy, JitRequestRecord
from jit.ports.azure_errors import AzureJitError, AzureThrottled, AzureTimeout, AzureUnavailable
from jit.resource_ids import format_time

log = logging.getLogger(__name__)
RETRYABLE = (AzureThrottled, AzureUnavailable, AzureTimeout)
CLOCK_SKEW = timedelta(minutes=1)
"""How much earlier than our clock Azure's ``startTimeUtc`` of our own initiate may be."""
History = Callable[[JitPolicy], Awaitable[list[JitRequestRecord]]]


class Initiator:
    """Runs one approval's initiate: at most ``initiate_attempts`` POSTs, each only after checking history."""

    def __init__(
        self,
        writer: ArmWriter,
        history: History,
        tuning: GatewayTuning,
        clock: Clock,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    ):
        self._writer = writer
        self._history = history
        self._tuning = tuning
        self._clock = clock
        self._sleep = sleep

    async def initiate(
        self,
        policy: JitPolicy,
        ports: Sequence[int],
        source: str,
        end: datetime,
        justification: str,
        port_ends: Mapping[int, datetime] | None = None,
    ) -> InitiateResult:
        """Open the ports; on an uncertain failure trust Azure's history before trying again."""
        later = {number: format_time(at) for number, at in (port_ends or {}).items()}
        body = initiate_body(policy.vm_id, ports, source, format_time(end), justification, later)
        started = self._clock.now()
        attempts = max(1, self._tuning.initiate_attempts)
        for attempt in range(1, attempts + 1):
            try:
                raw = await self._writer.initiate_once(policy.id, body)
            except InitiateFailure as failure:
                if not isinstance(failure.error, RETRYABLE):
                    raise failure.error from failure
                log.warning(
                    "azure.initiate_attempt_failed",
                    extra={"policy": policy.id, "attempt": attempt, "error": type(failure.error).__name__},
                )
                accepted = await self._already_accepted(policy, justification, started, failure.error)
                if accepted is None and isinstance(failure.error, AzureTimeout):
                    accepted = await self._late_acceptance(policy, justification, started, failure.error)
                if accepted is not None:
                    return recorded_result(accepted, end)
                if attempt == attempts:
                    raise failure.error from failure
                await self._sleep(self._delay(failure, attempt))
                continue
            return accepted_request(raw, policy.vm_id, end, self._clock.now())
        raise AzureUnavailable()

    async def _already_accepted(
        self, policy: JitPolicy, justification: str, started: datetime, original: AzureJitError
    ) -> JitRequestRecord | None:
        try:
            records = await self._history(policy)
        except AzureJitError as exc:
            log.warning("azure.initiate_history_unreadable", extra={"policy": policy.id, "error": type(exc).__name__})
            raise original from exc
        matches = [
            record
            for record in records
            if record.justification == justification and record.start >= started - CLOCK_SKEW
        ]
        return matches[-1] if matches else None

    async def _late_acceptance(
        self, policy: JitPolicy, justification: str, started: datetime, original: AzureJitError
    ) -> JitRequestRecord | None:
        """A POST we gave up on may still be running in Azure: watch its history for one more call timeout
        before sending again, so a slow commit is found instead of granted twice."""
        polls = 4
        for _ in range(polls):
            await self._sleep(self._tuning.timeout.total_seconds() / polls)
            accepted = await self._already_accepted(policy, justification, started, original)
            if accepted is not None:
                return accepted
        return None

    def _delay(self, failure: InitiateFailure, attempt: int) -> float:
        if failure.retry_after is not None:
            return max(0.0, min(failure.retry_after, self._tuning.max_retry_after))
        return float(min(self._tuning.retry_backoff * 2 ** (attempt - 1), self._tuning.retry_backoff_max))
