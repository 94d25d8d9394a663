"""Opening and closing access in Azure for one grant, planned against everyone else on the same VM ports.

Every write reads the VM's request history fresh first (one ARM read), works out who holds each port
(``jit.holdings``, ``jit.sharing``), records a new attempt marker on the request (so the entry it makes is
recognisably jitbot's, and exactly this initiate's), and only then calls Azure. Requests and extensions open
through ``open``; an early revoke closes through ``close``.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from jit.clock import Clock
from jit.holdings import same_network
from jit.justification import Justification, new_attempt, parse_justification
from jit.model import AccessRequest, HeldPort, JitRequestRecord, VmRef
from jit.port_survey import Survey, Surveyor, held_ports
from jit.ports import AzureJit
from jit.ports.records import LockBusy, RequestRecords, Turns
from jit.routing import ConflictChoice
from jit.sharing import (
    ClosingPlan,
    OpeningPlan,
    others,
    plan_closing,
    plan_opening,
)

log = logging.getLogger(__name__)


class NotConfigured(Exception):
    """JIT is no longer configured for the VM, so Azure cannot open anything on it."""


class VmBusy(Exception):
    """Another of jitbot's writes to the same VM held its lock for longer than a grant may wait."""


@dataclass(frozen=True)
class Opened:
    """Azure accepted the initiate at ``start``; ``plan`` says whose windows it kept open and whose it closed."""

    start: datetime
    plan: OpeningPlan


@dataclass(frozen=True)
class Blocked:
    """The ports are held from another source and the rule does not supersede: nothing was sent to Azure."""

    plan: OpeningPlan
    choice: ConflictChoice


class Granting:
    """Initiates and closes for grants, on the Azure port and the request store."""

    def __init__(self, azure: AzureJit, store: RequestRecords, clock: Clock, locks: Turns):
        self.azure = azure
        self.store = store
        self.clock = clock
        self.locks = locks
        self.surveyor = Surveyor(azure, store, clock)

    @contextlib.asynccontextmanager
    async def _writing(self, vm: VmRef) -> AsyncIterator[None]:
        """jitbot's writes to one VM's ports take turns across replicas (read, plan and write as one)."""
        try:
            async with self.locks.hold(f"vm:{vm.id}"):
                yield
        except LockBusy as exc:
            raise VmBusy() from exc

    async def survey(self, vm: VmRef, *, fresh: bool) -> Survey:
        """Who holds the VM's ports (see ``jit.port_survey``)."""
        return await self.surveyor.survey(vm, fresh=fresh)

    async def shared_with(self, request: AccessRequest) -> tuple[HeldPort, ...]:
        """The other holders of an open grant's ports, from cached reads. They share the grant's own source, so
        the holder sees who they are (not another source, which is for approvers and admins only)."""
        survey = await self.survey(request.vm, fresh=False)
        mine = {
            n: held
            for n, held in others(survey.holders, request.id).items()
            if n in request.open_ports and same_network(held.source, request.source)
        }
        return held_ports(mine, viewer=request.requester, detailed=True)

    async def open(
        self,
        request: AccessRequest,
        ports: Sequence[int],
        own_end: datetime,
        *,
        approved_by: str,
        choice: ConflictChoice = ConflictChoice.SUPERSEDE,
    ) -> Opened | Blocked:
        """Open ``ports`` for ``request`` until ``own_end``, keeping same-source holders open until their ends.

        Raises NotConfigured, VmBusy, or the gateway's AzureJitError when Azure refuses or cannot be reached.
        """
        async with self._writing(request.vm):
            return await self._open(request, ports, own_end, approved_by, choice)

    async def _open(
        self,
        request: AccessRequest,
        ports: Sequence[int],
        own_end: datetime,
        approved_by: str,
        choice: ConflictChoice,
    ) -> Opened | Blocked:
        survey = await self.survey(request.vm, fresh=True)
        if survey.policy is None:
            raise NotConfigured()
        policy = survey.policy
        now = self.clock.now()
        limits = {p.number: now + p.max_duration for p in policy.ports}
        plan = plan_opening(ports, request.source, own_end, others(survey.holders, request.id), limits)
        if plan.displaced and choice is not ConflictChoice.SUPERSEDE:
            return Blocked(plan, choice)
        attempt = await self._new_attempt(request)
        justification = Justification(request.id, request.requester, approved_by, request.reason, attempt)
        later = {number: end for number, end in plan.ends.items() if end > own_end}
        result = await self.azure.initiate(
            policy, ports, request.source, own_end, justification.render(), port_ends=later
        )
        log.info(
            "azure.opened",
            extra={
                "request_id": request.id,
                "ports": list(ports),
                "shared_with": len(plan.sharing),
                "displaced": len(plan.displaced),
            },
        )
        return Opened(result.start, plan)

    async def confirmed(self, request: AccessRequest, *, since: datetime | None = None) -> JitRequestRecord | None:
        """Azure's record of one of this request's own initiates (an attempt marker it saved, at or after
        ``since``), read fresh; None when Azure has none. Used after a crash, when jitbot cannot know whether its
        POST arrived: trust Azure's history and never initiate twice."""
        policy = await self.azure.policy_for(request.vm)
        records = await self.azure.request_history(policy) if policy else []
        for record in records:
            parsed = parse_justification(record.justification)
            if parsed is None or parsed.request_id != request.id or not record.ports:
                continue
            if since is not None and record.start < since:
                continue
            if parsed.attempt in request.attempts:
                return record
        return None

    async def restore(self, request: AccessRequest, port: int, *, tolerance: timedelta) -> bool:
        """Re-open ``port`` for ``request`` until its end when the window from its source now ends earlier (someone
        re-opened it from the same source with an earlier end). Checked again under the VM's lock, so two syncs
        restore once. Returns whether it initiated."""
        if request.ends_at is None:
            return False
        async with self._writing(request.vm):
            survey = await self.survey(request.vm, fresh=True)
            held = survey.holders.get(port)
            if held is None or not same_network(held.source, request.source) or held.end >= request.ends_at - tolerance:
                return False
            opened = await self._open(request, [port], request.ends_at, "jitbot-sync", ConflictChoice.REFUSE)
            return isinstance(opened, Opened)

    async def close(self, request: AccessRequest, *, closed_by: str) -> ClosingPlan:
        """End ``request``'s access without ending anyone else's: delete its allow rules where nobody else holds
        the port, shorten the window to the latest remaining end where someone does. Returns what was done."""
        async with self._writing(request.vm):
            return await self._close(request, closed_by)

    async def _close(self, request: AccessRequest, closed_by: str) -> ClosingPlan:
        survey = await self.survey(request.vm, fresh=True)
        plan = plan_closing(request, others(survey.holders, request.id))
        if plan.delete:
            await self.azure.close_access(request.vm, plan.delete, request.source)
        if plan.shorten and survey.policy is not None:
            attempt = await self._new_attempt(request)
            justification = Justification(request.id, request.requester, f"closed-by:{closed_by}", "", attempt)
            earliest = min(plan.shorten.values())
            await self.azure.initiate(
                survey.policy,
                sorted(plan.shorten),
                request.source,
                earliest,
                justification.render(),
                port_ends=dict(plan.shorten),
            )
        log.info(
            "azure.closed",
            extra={"request_id": request.id, "deleted": list(plan.delete), "shortened": sorted(plan.shorten)},
        )
        return plan

    async def _new_attempt(self, request: AccessRequest) -> str:
        """A fresh marker, saved on the request before the POST that carries it (so a crash cannot lose it)."""
        attempt = new_attempt()
        await self.store.update_fields(
            request.id,
            {},
            actor="jitbot",
            event="initiate_attempt",
            audit={"attempt": attempt},
            append={"attempts": attempt},
        )
        return attempt
