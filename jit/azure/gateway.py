"""The Azure JIT gateway: everything jitbot asks of Azure, answered with jitbot's own types.

Reads come from short-lived caches filled by subscription-wide list calls, so a warm lookup costs no ARM
call and a cold one a fixed handful; writes go straight to ARM and invalidate what they change.

Why it is longer than ~400 lines: it is the one class behind the domain's ``AzureJit`` port, and every method
is the cache-and-delegate glue for one call of that port; the work itself lives in modules with one job
(``reads``, ``writes``, ``topology``, ``policies``, ``policy_edits``, ``initiate``, ``nsg_rules``, ...).
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping, Sequence
from dataclasses import replace
from datetime import datetime
from types import TracebackType
from typing import Any

from azure.identity.aio import DefaultAzureCredential

from jit.azure.cache import TtlCache
from jit.azure.clients import ArmClients, GatewayTuning
from jit.azure.diagnostics import diagnose
from jit.azure.fan_out import FanOut
from jit.azure.graph_assembly import GraphVms
from jit.azure.initiate import Initiator
from jit.azure.nsg_rules import is_jit_allow_rule
from jit.azure.policies import (
    NAME_LIMIT,
    activity,
    covering_policy,
    entry_for,
    policy_for_vm,
    port_to_raw,
    replace_entry,
    requests_for_vm,
    vm_entries,
)
from jit.azure.policy_edits import PolicyEditor
from jit.azure.policy_sent import check_ports, default_policy_id, policy_from_sent
from jit.azure.reads import ArmReader
from jit.azure.resource_graph import GraphVmSource, ResourceGraphReader
from jit.azure.security_context import ContextTuning, SecurityContextReader
from jit.azure.security_reads import SecurityReader
from jit.azure.subscriptions import ManagementGroupReader, SubscriptionSource
from jit.azure.topology import IndexedVm, build_index, matching, nsg_ids_for, reasons_for, subnet_nsgs
from jit.azure.vm_directory import VmDirectory
from jit.azure.writes import ArmWriter
from jit.checks import Check
from jit.clock import Clock
from jit.hints import Command, command_hint
from jit.model import (
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
from jit.ports.azure_errors import (
    PolicyNameTooLong,
    VmAmbiguous,
    VmNotFound,
    VmUnsupported,
)
from jit.resource_ids import id_segments, same_id
from jit.settings import Settings
from jit.vm_names import VmSpec, did_you_mean, parse_vm_spec
from jit.vm_security import SecurityContext

RawJson = dict[str, Any]
Snapshot = tuple[tuple[IndexedVm, ...], tuple[RawJson, ...], Mapping[str, str | None], bool]
"""One subscription's VMs, JIT policies, subnet NSGs and whether Defender for Servers is on."""
REASON_TEXT: Mapping[UnsupportedReason, str] = {
    UnsupportedReason.NO_NSG: "it has no network security group on its network interface or subnet",
    UnsupportedReason.CLASSIC_VM: "it is a classic (Azure Service Manager) VM",
    UnsupportedReason.DEFENDER_OFF: "Microsoft Defender for Servers is not enabled on its subscription",
    UnsupportedReason.FIREWALL_MANAGED: "its traffic is managed by an Azure Firewall policy",
    UnsupportedReason.DISABLED_BY_POLICY: "an Azure Policy assignment does not allow JIT on it",
}


class AzureGateway:
    """Implements ``jit.ports.AzureJit`` on the Azure SDK aio clients; use it as an async context manager."""

    def __init__(
        self,
        clients: ArmClients,
        subscription_ids: Sequence[str],
        clock: Clock,
        tuning: GatewayTuning | None = None,
        *,
        owned_credential: Any = None,
        management_group: str | None = None,
        context_tuning: ContextTuning | None = None,
    ):
        self._clients = clients
        self._clock = clock
        self._tuning = tuning or clients.tuning
        self._owned_credential = owned_credential
        reader = ManagementGroupReader(clients) if management_group else None
        self._source = SubscriptionSource(
            subscription_ids,
            clock,
            reader=reader,
            management_group=management_group,
            refresh=self._tuning.group_refresh,
        )
        self._reader = ArmReader(clients)
        self._writer = ArmWriter(clients)
        self._editor = PolicyEditor(self._reader, self._writer)
        self._initiator = Initiator(self._writer, self.request_history, self._tuning, clock)
        self._sweep = FanOut(self._tuning.subscriptions_at_once)
        ttl = self._tuning.cache_ttl
        self._index: TtlCache[str, tuple[IndexedVm, ...]] = TtlCache(clock, ttl)
        self._policies: TtlCache[str, tuple[RawJson, ...]] = TtlCache(clock, ttl)
        self._subnets: TtlCache[str, dict[str, str | None]] = TtlCache(clock, ttl)
        self._defender: TtlCache[str, bool] = TtlCache(clock, ttl)
        self._directory = VmDirectory(
            GraphVmSource(ResourceGraphReader(clients), clock),
            clock,
            subscriptions=subscription_ids,
            management_group=management_group,
            ttl=ttl,
            inventory_ttl=self._tuning.inventory_ttl,
        )
        self._context = SecurityContextReader(
            SecurityReader(clients), clock, context_tuning, known_runtime=self._directory.runtime
        )

    async def __aenter__(self) -> AzureGateway:
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self.close()

    async def close(self) -> None:
        """Stop reads nobody waits for any more, then close the SDK clients, the HTTP session and our credential."""
        await self._context.close()
        for cache in (self._index, self._policies, self._subnets, self._defender):
            await cache.drain()
        await self._clients.close()
        if self._owned_credential is not None:
            credential, self._owned_credential = self._owned_credential, None
            await credential.close()

    @property
    def clients(self) -> ArmClients:
        """The SDK clients (shared with the requester RBAC check, which reads Graph and Microsoft.Authorization)."""
        return self._clients

    async def subscription_ids(self) -> tuple[str, ...]:
        """The subscriptions searched for VMs: the configured list, or the management group's, listed recently."""
        return await self._source.current()

    async def diagnose(self) -> list[Check]:
        """`jitbot doctor`'s Azure lines: token, the management group, and per subscription VMs, JIT and Defender."""
        return await diagnose(self._clients, self._source)

    def invalidate(self, subscription_id: str | None = None) -> None:
        """Drop cached reads (for one subscription or all), e.g. after someone changed Azure by hand."""
        self._directory.invalidate()
        for cache in (self._index, self._policies, self._subnets, self._defender):
            if subscription_id is None:
                cache.invalidate()
            else:
                cache.invalidate(subscription_id)

    # -- cached reads -------------------------------------------------------------------------------------

    async def _vm_index(self, subscription_id: str) -> tuple[IndexedVm, ...]:
        async def load() -> tuple[IndexedVm, ...]:
            vms, classic, nics, pips = await asyncio.gather(
                self._reader.virtual_machines(subscription_id),
                self._reader.classic_virtual_machines(subscription_id),
                self._reader.network_interfaces(subscription_id),
                self._reader.public_ips(subscription_id),
            )
            return build_index(subscription_id, vms, classic, nics, pips)

        return await self._index.get(subscription_id, load)

    async def _policy_list(self, subscription_id: str) -> tuple[RawJson, ...]:
        async def load() -> tuple[RawJson, ...]:
            return tuple(await self._reader.jit_policies(subscription_id))

        return await self._policies.get(subscription_id, load)

    async def _subnet_nsgs(self, subscription_id: str) -> dict[str, str | None]:
        async def load() -> dict[str, str | None]:
            return subnet_nsgs(await self._reader.virtual_networks(subscription_id))

        return await self._subnets.get(subscription_id, load)

    async def _defender_on(self, subscription_id: str) -> bool:
        async def load() -> bool:
            return await self._reader.defender_for_servers(subscription_id)

        return await self._defender.get(subscription_id, load)

    async def _fresh_policies(self, subscription_id: str) -> tuple[RawJson, ...]:
        self._policies.invalidate(subscription_id)
        return await self._policy_list(subscription_id)

    async def _indexed(self, vm: VmRef) -> IndexedVm:
        item = await self._directory.indexed(vm.id) or matching(await self._vm_index(vm.subscription_id), vm.id)
        if item is None:
            raise VmNotFound(f"`{vm.short}` is no longer in Azure; it may have been deleted or moved.")
        return item

    # -- AzureJit -----------------------------------------------------------------------------------------

    async def find_vm(self, spec: str) -> VirtualMachine:
        """Resolve ``vm``, ``rg/vm`` or ``sub/rg/vm`` (case-insensitive) across the configured subscriptions."""
        wanted = parse_vm_spec(spec)
        found = await self._find(wanted)
        if not found and self._refresh_after_miss():
            found = await self._find(wanted)
        if not found:
            raise await self._not_found(wanted)
        if len(found) > 1:
            raise VmAmbiguous(wanted.name, [vm.ref for vm in found])
        return found[0]

    async def _subnets_of(self, item: IndexedVm) -> Mapping[str, str | None]:
        """The NSGs of the VM's subnets: from Resource Graph when it found the VM, else the subscription's VNets."""
        found = self._directory.subnet_nsgs(item)
        return found if found is not None else await self._subnet_nsgs(item.vm.ref.subscription_id)

    async def _not_found(self, wanted: VmSpec) -> VmNotFound:
        """The miss, with the VMs the person most likely meant (``web01`` → ``web-01``)."""
        where = f"`{wanted.resource_group}/{wanted.name}`" if wanted.resource_group else f"`{wanted.name}`"
        known = [item.vm.ref for item in await self._inventory()]
        nearest = did_you_mean(wanted, ((ref.subscription_id, ref.resource_group, ref.name) for ref in known))
        if nearest:
            return VmNotFound(
                f"No VM called {where} in the subscriptions jitbot can see. Did you mean "
                f"{' or '.join(f'`{spec}`' for spec in nearest)}?",
                nearest=nearest,
            )
        return VmNotFound(
            f"No VM called {where} in the subscriptions jitbot can see. Check the spelling, or list them:",
            hint=command_hint(Command.LIST),
        )

    async def _inventory(self) -> list[IndexedVm]:
        """Every VM in scope: Resource Graph's cached inventory, else each subscription's cached index."""
        graph = await self._directory.everything()
        if graph is not None:
            return graph.items
        indexes = await self._sweep.each(await self._source.current(), self._vm_index)
        return [item for index in indexes for item in index]

    async def _find(self, wanted: VmSpec) -> list[VirtualMachine]:
        if wanted.subscription_id is None:
            graph = await self._directory.find(wanted)
            if graph is not None:
                return [item.vm for item in graph]
        everywhere = await self._source.current()
        subscriptions = everywhere
        if wanted.subscription_id is not None:
            subscriptions = tuple(s for s in everywhere if s.lower() == wanted.subscription_id.lower())
            if not subscriptions:
                raise VmNotFound(
                    f"Subscription `{wanted.subscription_id}` is not one jitbot searches. "
                    f"Use `rg/vm` or one of: {', '.join(f'`{s}`' for s in everywhere)}."
                )
            graph = await self._directory.find(wanted, subscriptions)
            if graph is not None:
                return [item.vm for item in graph]
        return await self._matching_vms(wanted, subscriptions)

    def _refresh_after_miss(self) -> bool:
        """A miss may be a VM (or, under a management group, a subscription) created since we listed: relist
        what is older than the refresh floor."""
        floor = self._tuning.refresh_on_miss_after
        group = self._source.refresh_if_older(floor)
        stale = [key for key in self._index.stored_keys() if (age := self._index.age(key)) is not None and age >= floor]
        for sub in stale:
            self._index.invalidate(sub)
        return group or bool(stale)

    async def _matching_vms(self, wanted: VmSpec, subscriptions: Sequence[str]) -> list[VirtualMachine]:
        indexes = await self._sweep.each(subscriptions, self._vm_index)
        return [
            item.vm
            for index in indexes
            for item in index
            if wanted.matches(item.vm.ref.subscription_id, item.vm.ref.resource_group, item.vm.ref.name)
        ]

    async def policy_for(self, vm: VmRef) -> JitPolicy | None:
        """The JIT policy covering ``vm`` (from the cached policy list), or None when JIT is not configured."""
        raw = covering_policy(await self._policy_list(vm.subscription_id), vm.id)
        return policy_for_vm(raw, vm.id) if raw is not None else None

    async def inventory(self) -> list[VmJitStatus]:
        """Every VM, classified like the portal's three tabs, with the portal's activity columns."""
        rows: list[VmJitStatus] = []
        now = self._clock.now()
        for index, policies, subnets, defender in await self._snapshots():
            for item in index:
                reasons = reasons_for(item, subnets, defender)
                raw = covering_policy(policies, item.vm.ref.id)
                policy = policy_for_vm(raw, item.vm.ref.id) if raw is not None else None
                if reasons:
                    rows.append(VmJitStatus(item.vm, JitSupport.UNSUPPORTED, reasons, policy))
                elif raw is not None and policy is not None:
                    history = requests_for_vm(raw, item.vm.ref.id)
                    rows.append(
                        VmJitStatus(
                            item.vm, JitSupport.CONFIGURED, (), policy, activity(history, now), history=tuple(history)
                        )
                    )
                else:
                    rows.append(VmJitStatus(item.vm, JitSupport.NOT_CONFIGURED))
        return rows

    async def _snapshots(self) -> list[Snapshot]:
        """Per subscription: its VMs, JIT policies, subnet NSGs and Defender plan (VMs from Resource Graph when it
        can be used, else from each subscription's lists)."""
        graph = await self._directory.everything()
        if graph is None:
            return await self._sweep.each(await self._source.current(), self._subscription_snapshot)

        async def snapshot(subscription_id: str) -> Snapshot:
            return await self._graph_snapshot(graph, subscription_id)

        return await self._sweep.each(graph.by_subscription, snapshot)

    async def _graph_snapshot(self, graph: GraphVms, subscription_id: str) -> Snapshot:
        policies, defender = await asyncio.gather(
            self._policy_list(subscription_id), self._defender_on(subscription_id)
        )
        return graph.by_subscription[subscription_id], policies, graph.subnet_nsgs, defender

    async def _subscription_snapshot(self, subscription_id: str) -> Snapshot:
        return await asyncio.gather(
            self._vm_index(subscription_id),
            self._policy_list(subscription_id),
            self._subnet_nsgs(subscription_id),
            self._defender_on(subscription_id),
        )

    async def unsupported_reasons(self, vm: VmRef) -> tuple[UnsupportedReason, ...]:
        """Why JIT cannot protect ``vm`` (no NSG, classic, Defender for Servers off); empty when it can."""
        item, defender = await asyncio.gather(self._indexed(vm), self._defender_on(vm.subscription_id))
        return reasons_for(item, await self._subnets_of(item), defender)

    async def security_context(self, vm: VmRef) -> SecurityContext:
        """What an approver should know about ``vm`` (Defender recommendations and alerts, power state, public IPs,
        OS), read within a time budget through short-lived caches; a part Azure refuses or answers too slowly is
        marked unread instead of failing or delaying the card (``jit.azure.security_context``)."""

        async def profile() -> VirtualMachine:
            return (await self._indexed(vm)).vm

        return await self._context.read(vm, profile)

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
        """Open ``ports`` from ``source`` until ``end`` (``port_ends``: later ends for ports shared with others):
        one ARM write, never a double grant on retry."""
        try:
            return await self._initiator.initiate(policy, ports, source, end, justification, port_ends)
        finally:
            self._policies.invalidate(policy.subscription_id)

    async def request_history(self, policy: JitPolicy) -> list[JitRequestRecord]:
        """Azure's ``requests[]`` for the policy's VM, read fresh (before a write to a shared port, after a crash)."""
        raw = await self._reader.jit_policy(policy.id)
        return requests_for_vm(raw, policy.vm_id) if raw is not None else []

    async def cached_history(self, vm: VmRef) -> list[JitRequestRecord]:
        """Azure's ``requests[]`` for ``vm`` from the cached policy list (no ARM call when warm)."""
        raw = covering_policy(await self._policy_list(vm.subscription_id), vm.id)
        return requests_for_vm(raw, vm.id) if raw is not None else []

    async def all_histories(self) -> list[VmHistory]:
        """Every JIT-configured VM's request history, read fresh: one policy list per subscription."""
        found: list[VmHistory] = []
        lists = await self._sweep.each(await self.subscription_ids(), self._fresh_policies)
        for policies in lists:
            for raw in policies:
                for entry in vm_entries(raw):
                    vm_id = str(entry.get("id", ""))
                    found.append(VmHistory(vm_id, str(raw.get("id", "")), tuple(requests_for_vm(raw, vm_id))))
        return found

    async def configure(self, vm: VmRef, ports: Sequence[PolicyPort]) -> JitPolicy:
        """Enable JIT on ``vm`` or replace its port rules; every other VM in the policy is resent exactly as Azure
        returned it, and a change by someone else meanwhile is never overwritten (``jit.azure.policy_edits``)."""
        check_ports(ports)
        reasons = await self.unsupported_reasons(vm)
        if reasons:
            raise VmUnsupported(
                f"JIT cannot protect `{vm.short}`: " + "; ".join(REASON_TEXT[r] for r in reasons) + ".", reasons
            )
        policies = await self._fresh_policies(vm.subscription_id)
        raw = covering_policy(policies, vm.id)
        if raw is None:
            policy_id = default_policy_id(vm)
            raw = next((p for p in policies if same_id(p.get("id"), policy_id)), None)
        else:
            policy_id = str(raw["id"])
        policy_name = id_segments(policy_id)["jitnetworkaccesspolicies"]
        if len(policy_name) + len(vm.name) > NAME_LIMIT:
            raise PolicyNameTooLong(
                f"Azure limits the JIT policy name plus the VM name to {NAME_LIMIT} characters; "
                f"`{policy_name}` + `{vm.name}` is {len(policy_name) + len(vm.name)}."
            )
        new_ports = [port_to_raw(p) for p in ports]

        def change(current: RawJson | None) -> list[RawJson]:
            existing = entry_for(current, vm.id) if current is not None else None
            entry = {**existing, "ports": new_ports} if existing is not None else {"id": vm.id, "ports": new_ports}
            return replace_entry(current, vm.id, entry)

        def done(after: RawJson | None) -> bool:
            entry = entry_for(after, vm.id) if after is not None else None
            return entry is not None and entry.get("ports") == new_ports

        try:
            edited = await self._editor.edit(policy_id, dict(raw) if raw is not None else None, change, done)
        finally:
            self._policies.invalidate(vm.subscription_id)
        policy = policy_for_vm(edited.policy, vm.id) if edited.policy is not None else None
        return policy or policy_from_sent(policy_id, vm, ports)

    async def disable(self, vm: VmRef) -> None:
        """Remove ``vm`` from its JIT policy, deleting the policy only when no VM is left in it as Azure has it
        right before the write; no-op when absent."""
        raw = covering_policy(await self._fresh_policies(vm.subscription_id), vm.id)
        if raw is None:
            return

        def change(current: RawJson | None) -> list[RawJson]:
            return replace_entry(current, vm.id, None)

        def done(after: RawJson | None) -> bool:
            return after is None or entry_for(after, vm.id) is None

        try:
            await self._editor.edit(str(raw["id"]), dict(raw), change, done)
        finally:
            self._policies.invalidate(vm.subscription_id)

    async def close_access(self, vm: VmRef, ports: Sequence[int], source: str) -> int:
        """Delete the NSG allow rules JIT opened on ``vm`` for exactly these ports and source; returns how many."""
        item = await self._indexed(vm)
        subnets = await self._subnets_of(item)
        removed = 0
        for nsg_id in nsg_ids_for(item, subnets):
            nsg = await self._reader.network_security_group(nsg_id)
            for rule in (nsg.get("properties") or {}).get("securityRules") or []:
                if is_jit_allow_rule(rule, set(ports), source, item.vm.private_ips):
                    await self._writer.delete_security_rule(
                        str(rule.get("id") or f"{nsg_id}/securityRules/{rule['name']}")
                    )
                    removed += 1
        return removed


def build_gateway(
    settings: Settings,
    clock: Clock,
    *,
    credential: Any = None,
    connection_verify: str | None = None,
    tuning: GatewayTuning | None = None,
    context_tuning: ContextTuning | None = None,
) -> AzureGateway:
    """The gateway for these settings: DefaultAzureCredential unless one is given, timeout from settings."""
    effective = replace(tuning or GatewayTuning(), timeout=settings.azure_timeout)
    owned = None
    if credential is None:
        options: dict[str, Any] = {"connection_verify": connection_verify} if connection_verify else {}
        credential = owned = DefaultAzureCredential(**options)
    clients = ArmClients(
        credential,
        settings.azure_arm_endpoint,
        effective,
        connection_verify=connection_verify,
        graph_endpoint=settings.graph_endpoint,
    )
    return AzureGateway(
        clients,
        settings.azure_subscription_ids,
        clock,
        effective,
        owned_credential=owned,
        management_group=settings.azure_management_group,
        context_tuning=context_tuning,
    )
