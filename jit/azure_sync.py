"""The periodic sync with Azure: Azure's JIT history is the truth about open ports, and jitbot follows it.

Every ``interval`` (one replica at a time: it is a schedule item claimed with a lease) jitbot reads every JIT
policy of its subscriptions fresh — one ARM list call per subscription, whatever the number of VMs — and:

- for each active jitbot grant, checks that Azure still has each of its ports open from its source. A port
  another source took is recorded as lost (the grant is ``superseded`` once it lost them all) and its holder
  told; a port whose window Azure closed early is recorded as closed outside jitbot (``revoked`` once all are);
  a window someone re-opened from the same source with an earlier end is opened again until the grant's end,
  which its approval covers (and audited);
- announces every port opened outside jitbot (the portal, the CLI, another tool) on the VMs it watches, once,
  in the on-call channel and the audit trail: who (Azure's ``requestor``), which port, from where, until when.

A grant opened less than ``grace`` ago is left alone (Azure's history may lag its answer), and so are changes
jitbot made itself: those were recorded when they were made. Only entries started after jitbot first synced
are announced, so a new deployment does not report old history. The first sync runs one interval after the
first start.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from jit.clock import Clock
from jit.displacement import Displacement, Taker
from jit.granting import Granting, VmBusy
from jit.holdings import same_network
from jit.model import AccessRequest, OutsideAccess, RequestState, VmHistory
from jit.ports import AzureJit, LifecycleNotifier
from jit.ports.azure_errors import AzureJitError
from jit.ports.records import RequestRecords, Timetable
from jit.request_extras import Extra, extra_field
from jit.schedule_items import SYNC_ITEM, SYNC_SINCE, Kind, Sent, ended_items, item
from jit.sharing import PortHolders

log = logging.getLogger(__name__)

DEFAULT_INTERVAL = timedelta(minutes=4)
DEFAULT_GRACE = timedelta(minutes=1)
SHORTENED_TOLERANCE = timedelta(minutes=1)
AZURE = "Azure (outside jitbot)"


@dataclass
class SyncReport:
    """What one sync found and did; logged, counted in metrics, returned to tests."""

    vms: int = 0
    grants_checked: int = 0
    lost: list[tuple[str, int]] = field(default_factory=list)
    closed: list[tuple[str, int]] = field(default_factory=list)
    restored: list[tuple[str, int]] = field(default_factory=list)
    outside: list[OutsideAccess] = field(default_factory=list)


class AzureSync:
    """Compares jitbot's active grants with Azure's JIT history and corrects jitbot's records."""

    def __init__(
        self,
        *,
        azure: AzureJit,
        store: RequestRecords,
        schedule: Timetable,
        granting: Granting,
        displacement: Displacement,
        notices: LifecycleNotifier,
        clock: Clock,
        interval: timedelta = DEFAULT_INTERVAL,
        grace: timedelta = DEFAULT_GRACE,
        wake: Callable[[], None] = lambda: None,
    ):
        self.azure = azure
        self.store = store
        self.schedule = schedule
        self.granting = granting
        self.displacement = displacement
        self.notices = notices
        self.clock = clock
        self.interval = interval
        self.grace = grace
        self._wake = wake

    async def start(self) -> None:
        """Make sure the sync is scheduled, one interval from now (a no-op when another replica already did), and
        remember when jitbot started watching (the first replica's start)."""
        await self._watching_since()
        await self.schedule.ensure(SYNC_ITEM, self.clock.now() + self.interval)

    async def run_scheduled(self) -> SyncReport:
        """The schedule item: sync now, then schedule the next one (even when this one failed)."""
        try:
            return await self.run()
        finally:
            await self.schedule.add(SYNC_ITEM, self.clock.now() + self.interval)

    async def run(self) -> SyncReport:
        """One sync: read every policy fresh, check every active grant, announce access opened outside jitbot."""
        report = SyncReport()
        since = await self._watching_since()
        histories = await self.azure.all_histories()
        active = await self.store.by_state(RequestState.ACTIVE)
        by_vm: dict[str, list[AccessRequest]] = {}
        for grant in active:
            by_vm.setdefault(grant.vm.id.lower(), []).append(grant)
        for history in histories:
            report.vms += 1
            grants = by_vm.pop(history.vm_id.lower(), [])
            await self._sync_vm(history, grants, since, report)
        for grants in by_vm.values():
            for grant in grants:
                report.grants_checked += 1
                if self._settled(grant):
                    await self._closed(grant, grant.open_ports, "its VM is no longer in a JIT policy", report)
        log.info(
            "azure.sync",
            extra={
                "vms": report.vms,
                "grants": report.grants_checked,
                "lost": len(report.lost),
                "closed": len(report.closed),
                "restored": len(report.restored),
                "outside": len(report.outside),
            },
        )
        return report

    async def check_grant(self, grant: AccessRequest) -> AccessRequest:
        """Before telling a holder about their access (a reminder, the end): is it still open? Cached reads."""
        survey = await self.granting.survey(grant.vm, fresh=False)
        report = SyncReport()
        await self._check(grant, survey.holders, report)
        return await self.store.get(grant.id) or grant

    async def _sync_vm(
        self, history: VmHistory, grants: Sequence[AccessRequest], since: datetime, report: SyncReport
    ) -> None:
        survey = await self.granting.surveyor.holders_in(None, history.records)
        for grant in grants:
            report.grants_checked += 1
            await self._check(grant, survey.holders, report)
        vm_name = history.vm_id.rstrip("/").rsplit("/", 1)[-1]
        for held in survey.holders.values():
            for holder in held.holders:
                if holder.request is not None or holder.since < since:
                    continue
                sighting = OutsideAccess(
                    history.vm_id, vm_name, holder.port, holder.requestor, holder.source, holder.since, holder.end
                )
                if await self._announce(sighting):
                    report.outside.append(sighting)

    async def _check(self, grant: AccessRequest, holders: Mapping[int, PortHolders], report: SyncReport) -> None:
        if not self._settled(grant):
            return
        closed: list[int] = []
        for port in grant.open_ports:
            held = holders.get(port)
            if held is None:
                closed.append(port)
            elif not same_network(held.source, grant.source):
                newest = held.holders[-1] if held.holders else None
                if newest is None:
                    taker = Taker(AZURE, held.source, self.clock.now())
                else:
                    taker_id = newest.request.id if newest.request is not None else None
                    taker = Taker(newest.who, held.source, newest.since, taker_id)
                await self.displacement.lose(grant.id, [port], taker)
                report.lost.append((grant.id, port))
            elif grant.ends_at is not None and held.end < grant.ends_at - SHORTENED_TOLERANCE:
                await self._restore(grant, port, held, report)
        if closed:
            await self._closed(grant, closed, "Azure shows the window closed", report)

    def _settled(self, grant: AccessRequest) -> bool:
        """Old enough that Azure's history must show it (its answer and its history may lag each other)."""
        started = grant.starts_at or grant.created_at
        return self.clock.now() - started >= self.grace and (grant.ends_at is None or grant.ends_at > self.clock.now())

    async def _restore(self, grant: AccessRequest, port: int, held: PortHolders, report: SyncReport) -> None:
        """Someone re-opened the port from the same source with an earlier end: open it again until ours."""
        assert grant.ends_at is not None
        try:
            restored = await self.granting.restore(grant, port, tolerance=SHORTENED_TOLERANCE)
        except (AzureJitError, VmBusy) as exc:
            log.warning("azure.sync_restore_failed", extra={"request_id": grant.id, "error": type(exc).__name__})
            return
        if not restored:
            return
        await self.store.record(
            "window_restored",
            actor="jitbot",
            request_id=grant.id,
            detail={"port": str(port), "was_until": held.end.isoformat(), "now_until": grant.ends_at.isoformat()},
        )
        report.restored.append((grant.id, port))

    async def _closed(self, grant: AccessRequest, ports: Sequence[int], why: str, report: SyncReport) -> None:
        current = await self.store.get(grant.id)
        if current is None or current.state is not RequestState.ACTIVE:
            return
        await self.store.update_fields(
            grant.id,
            {extra_field(Extra.CLOSED_BY_AZURE): why},
            actor="jitbot",
            event="closed_outside_jitbot",
            audit={"ports": ",".join(map(str, ports)), "why": why},
            expect_states={RequestState.ACTIVE},
        )
        taker = Taker(AZURE, "", self.clock.now(), None)
        if set(ports) >= set(current.open_ports):
            await self._revoke_closed(grant.id, why)
        else:
            await self.displacement.lose(grant.id, ports, taker)
        report.closed += [(grant.id, port) for port in ports]

    async def _revoke_closed(self, request_id: str, why: str) -> None:
        now = self.clock.now()
        await self.store.transition(
            request_id,
            RequestState.REVOKED,
            actor="jitbot",
            fields={"decided_at": now},
            schedule={item(Kind.OUTCOME, request_id): now},
            unschedule=ended_items(request_id),
            audit={"closed_outside_jitbot": why},
        )
        self._wake()

    async def _watching_since(self) -> datetime:
        """When jitbot first synced with Azure (entries before it are history, not news)."""
        return datetime.fromisoformat(await self.schedule.first_value(SYNC_SINCE, self.clock.now().isoformat()))

    async def _announce(self, sighting: OutsideAccess) -> bool:
        marker = Sent.outside_access(sighting.vm_id, sighting.port, sighting.start)
        if await self.schedule.is_done(marker):
            return False
        await self.store.record(
            "outside_access",
            actor=sighting.requestor[:200] or "unknown",
            request_id=None,
            detail={
                "vm": sighting.vm_id,
                "port": str(sighting.port),
                "source": sighting.source,
                "start": sighting.start.isoformat(),
                "end": sighting.end.isoformat(),
            },
        )
        await self.notices.outside_access(sighting)
        await self.schedule.mark_done(marker)
        return True
