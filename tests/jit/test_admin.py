"""The admin use cases against the real gateway (SDK clients → ARM emulator) and a real Redis store.

World (see tests/jit/azure/conftest.py): web-01 and api-01 share the ``rg-app`` policy; db-01 has a subnet
NSG and no policy; bare-01 has no NSG; old-01 is classic; svc-01's subscription has Defender for Servers off;
a second web-01 in another subscription makes the bare name ambiguous. Tests that need Azure Policy to deny JIT
on a VM set its ``jit_denied_by_policy``.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
from datetime import timedelta

import pytest
import redis.asyncio as aioredis

from jit.admin import AdminService, ports_json, vm_spec, with_denial
from jit.azure.gateway import AzureGateway, build_gateway
from jit.clock import ManualClock
from jit.errors import NotAllowed, RequestRejected
from jit.hints import Command
from jit.model import (
    JitPolicy,
    JitSupport,
    PolicyDenial,
    PolicyPort,
    PortProtocol,
    UnsupportedReason,
    VirtualMachine,
    VmJitStatus,
    VmRef,
)
from jit.ports.azure_errors import InvalidPolicyPorts, JitDeniedByPolicy, VmAmbiguous, VmNotFound, VmUnsupported
from jit.store.audit import AuditRecord
from jit.store.locks import Locks
from jit.store.policy_denials import DEFAULT_DENIAL_TTL, PolicyDenials
from jit.store.requests import RequestStore
from sandbox.arm import ArmEmulator
from sandbox.arm_inventory import Inventory
from tests.jit.azure.conftest import SUB_A, TEST_TUNING, build_world, settings_for

ADMIN = "U0ADMIN001"
GROUP_ADMIN = "U0GROUPADM"
ENGINEER = "U0ENGINE01"
ADMIN_GROUP = "S0ADMINS01"


class Groups:
    """A Directory with fixed group members (the Slack side is tested end to end)."""

    def __init__(self, groups: Mapping[str, frozenset[str]]):
        self.groups = dict(groups)
        self.asked: list[str] = []

    async def group_members(self, group_id: str) -> frozenset[str]:
        """The members of ``group_id``."""
        self.asked.append(group_id)
        return self.groups.get(group_id, frozenset())

    async def readable_members(self, group_id: str) -> frozenset[str]:
        """The members of ``group_id``; admin rights never read groups strictly."""
        raise AssertionError(f"admin checks read {group_id} leniently")


@pytest.fixture
def clock() -> ManualClock:
    """Shared by the emulator and the gateway."""
    return ManualClock()


@pytest.fixture
def world(clock: ManualClock) -> Inventory:
    """A fresh Azure world per test."""
    return build_world(clock)


@pytest.fixture
async def arm(world: Inventory, clock: ManualClock, monkeypatch: pytest.MonkeyPatch) -> AsyncIterator[ArmEmulator]:
    """The ARM emulator, with the managed identity endpoint in the environment."""
    async with ArmEmulator(world, clock=clock) as emulator:
        for name in ("AZURE_CLIENT_ID", "AZURE_TENANT_ID", "AZURE_CLIENT_SECRET", "AZURE_FEDERATED_TOKEN_FILE"):
            monkeypatch.delenv(name, raising=False)
        env = emulator.environment()
        monkeypatch.setenv("IDENTITY_ENDPOINT", env["IDENTITY_ENDPOINT"])
        monkeypatch.setenv("IDENTITY_HEADER", env["IDENTITY_HEADER"])
        yield emulator


@pytest.fixture
async def gateway(arm: ArmEmulator, clock: ManualClock) -> AsyncIterator[AzureGateway]:
    """The production gateway, trusting the emulator's certificate."""
    async with build_gateway(settings_for(arm), clock, connection_verify=str(arm.ca_file), tuning=TEST_TUNING) as gw:
        yield gw


@pytest.fixture
def store(redis_client: aioredis.Redis, clock: ManualClock) -> RequestStore:
    """The audit trail lives in the request store."""
    return RequestStore(redis_client, clock, prefix="admin-test")


@pytest.fixture
def denials(redis_client: aioredis.Redis, clock: ManualClock) -> PolicyDenials:
    """Remembered Azure Policy refusals, next to the audit trail."""
    return PolicyDenials(redis_client, clock, prefix="admin-test")


@pytest.fixture
def groups() -> Groups:
    """One admin group."""
    return Groups({ADMIN_GROUP: frozenset({GROUP_ADMIN})})


@pytest.fixture
def locks(redis_client: aioredis.Redis) -> Locks:
    """jitbot's lease locks on the test Redis."""
    return Locks(redis_client, prefix="admin-test")


@pytest.fixture
def admin(
    gateway: AzureGateway,
    store: RequestStore,
    groups: Groups,
    clock: ManualClock,
    denials: PolicyDenials,
    locks: Locks,
) -> AdminService:
    """Admins: one user directly, one through a group."""
    return AdminService(
        azure=gateway,
        store=store,
        directory=groups,
        admins=(ADMIN, ADMIN_GROUP),
        clock=clock,
        denials=denials,
        locks=locks,
    )


async def audit(store: RequestStore, event: str) -> list[AuditRecord]:
    """The audit records named ``event``."""
    return [r async for r in store.audit.entries() if r.event == event]


def entries(world: Inventory) -> dict[str, str]:
    """Every policy entry in the emulator as canonical JSON, keyed by lower-cased VM id."""
    return {str(e["id"]).lower(): json.dumps(e, sort_keys=True) for p in world.policies for e in p.virtual_machines}


def arm_calls(arm: ArmEmulator) -> list[str]:
    """Every ARM operation answered (tokens excluded)."""
    return [c.operation for c in arm.calls if c.operation != "token"]


async def test_admins_are_named_directly_or_through_a_group(admin: AdminService, groups: Groups) -> None:
    assert await admin.is_admin(ADMIN)
    assert groups.asked == []
    assert await admin.is_admin(GROUP_ADMIN)
    assert not await admin.is_admin(ENGINEER)
    assert not await admin.is_admin("")
    assert groups.asked == [ADMIN_GROUP, ADMIN_GROUP]


async def test_nobody_is_admin_when_none_are_configured(
    gateway: AzureGateway,
    store: RequestStore,
    groups: Groups,
    clock: ManualClock,
    denials: PolicyDenials,
    locks: Locks,
) -> None:
    nobody = AdminService(
        azure=gateway, store=store, directory=groups, admins=(), clock=clock, denials=denials, locks=locks
    )
    assert not await nobody.is_admin(ADMIN)
    with pytest.raises(NotAllowed):
        await nobody.configure(ADMIN, "db-01", [PolicyPort(22)])


@pytest.mark.parametrize("action", ["readiness", "configure", "disable"])
async def test_a_non_admin_is_refused_before_azure_is_asked(
    admin: AdminService, arm: ArmEmulator, store: RequestStore, world: Inventory, action: str
) -> None:
    before = entries(world)
    arm.reset_calls()
    attempts: dict[str, Callable[[], Awaitable[object]]] = {
        "readiness": lambda: admin.readiness(ENGINEER, "db-01"),
        "configure": lambda: admin.configure(ENGINEER, "rg-app/web-01", [PolicyPort(22)]),
        "disable": lambda: admin.disable(ENGINEER, "rg-app/web-01"),
    }
    with pytest.raises(NotAllowed) as refused:
        await attempts[action]()
    assert "Only jitbot admins" in refused.value.problem
    assert arm_calls(arm) == []
    assert entries(world) == before
    [record] = await audit(store, "admin_refused")
    assert record.actor == ENGINEER and record.request_id is None


async def test_readiness_reports_what_is_missing(admin: AdminService) -> None:
    ready = await admin.readiness(ADMIN, "db-01")
    assert ready.ready and ready.policy is None and ready.vm.ref.name == "db-01"
    configured = await admin.readiness(GROUP_ADMIN, "rg-app/web-01")
    assert configured.ready and configured.policy is not None
    assert [p.number for p in configured.policy.ports] == [22, 3389]
    assert (await admin.readiness(ADMIN, "bare-01")).reasons == (UnsupportedReason.NO_NSG,)
    assert UnsupportedReason.CLASSIC_VM in (await admin.readiness(ADMIN, "old-01")).reasons
    assert (await admin.readiness(ADMIN, "svc-01")).reasons == (UnsupportedReason.DEFENDER_OFF,)
    with pytest.raises(VmAmbiguous):
        await admin.readiness(ADMIN, "web-01")


async def test_enabling_creates_the_policy_and_audits_who_and_what(
    admin: AdminService, arm: ArmEmulator, store: RequestStore, world: Inventory
) -> None:
    before = entries(world)
    ports = [
        PolicyPort(22, PortProtocol.TCP, ("10.0.0.0/8",), timedelta(hours=2)),
        PolicyPort(8443, PortProtocol.ANY, ("*",), timedelta(minutes=30)),
    ]
    arm.reset_calls()
    change = await admin.configure(ADMIN, "db-01", ports)
    assert change.before is None and change.after is not None and change.actor == ADMIN
    assert change.after.ports == tuple(ports)
    assert [c.operation for c in arm.writes()] == ["jit.put"]
    after = entries(world)
    assert {k: v for k, v in after.items() if k in before} == before
    created = json.loads(after[change.vm.ref.id.lower()])
    assert created["ports"][0] == {
        "number": 22,
        "protocol": "TCP",
        "allowedSourceAddressPrefix": "10.0.0.0/8",
        "maxRequestAccessDuration": "PT2H",
    }
    [record] = await audit(store, "policy_enabled")
    assert record.id == change.audit_id and record.actor == ADMIN
    assert record.detail["vm"] == change.vm.ref.id and record.detail["policy"] == change.after.id
    assert record.detail["before"] == "[]"
    assert json.loads(record.detail["after"]) == [
        {"number": 22, "protocol": "TCP", "sources": ["10.0.0.0/8"], "max": "PT2H"},
        {"number": 8443, "protocol": "*", "sources": ["*"], "max": "PT30M"},
    ]


async def test_editing_one_vm_leaves_the_others_in_its_policy_byte_identical(
    admin: AdminService, store: RequestStore, world: Inventory
) -> None:
    before = entries(world)
    policy = world.policies[0]
    history = json.dumps(policy.requests, sort_keys=True)
    change = await admin.configure(ADMIN, "rg-app/web-01", [PolicyPort(2222, max_duration=timedelta(hours=1))])
    after = entries(world)
    assert change.before is not None and [p.number for p in change.before.ports] == [22, 3389]
    assert {k: v for k, v in after.items() if k != change.vm.ref.id.lower()} == {
        k: v for k, v in before.items() if k != change.vm.ref.id.lower()
    }
    assert json.loads(after[change.vm.ref.id.lower()])["ports"] == [
        {"number": 2222, "protocol": "*", "allowedSourceAddressPrefix": "*", "maxRequestAccessDuration": "PT1H"}
    ]
    assert json.dumps(policy.requests, sort_keys=True) == history
    [record] = await audit(store, "policy_configured")
    assert [p["number"] for p in json.loads(record.detail["before"])] == [22, 3389]
    assert json.loads(record.detail["before"])[1]["sources"] == ["10.20.0.0/16", "192.168.1.10"]


async def test_a_vm_is_addressed_by_its_arm_id_from_buttons_and_modals(admin: AdminService, world: Inventory) -> None:
    vm = next(v for v in world.vms if v.name == "db-01")
    assert vm_spec(vm.id) == f"{SUB_A}/rg-data/db-01"
    assert vm_spec("rg-data/db-01") == "rg-data/db-01"
    change = await admin.configure(ADMIN, vm.id.upper(), [PolicyPort(22)])
    assert change.vm.ref.name == "db-01"
    with pytest.raises(VmNotFound):
        await admin.configure(ADMIN, "/subscriptions/x/resourceGroups/rg", [PolicyPort(22)])
    with pytest.raises(VmNotFound):
        await admin.configure(ADMIN, vm.id.replace("db-01", "db-99"), [PolicyPort(22)])


async def test_azure_refusals_reach_the_admin_and_nothing_is_audited(
    admin: AdminService, arm: ArmEmulator, store: RequestStore
) -> None:
    arm.reset_calls()
    with pytest.raises(VmUnsupported):
        await admin.configure(ADMIN, "bare-01", [PolicyPort(22)])
    with pytest.raises(InvalidPolicyPorts):
        await admin.configure(ADMIN, "db-01", [PolicyPort(22), PolicyPort(22)])
    assert arm.writes() == []
    assert await audit(store, "policy_enabled") == []


async def test_disable_removes_only_that_vm_and_audits_what_it_had(
    admin: AdminService, store: RequestStore, world: Inventory
) -> None:
    before = entries(world)
    change = await admin.disable(GROUP_ADMIN, "rg-app/web-01")
    gone = change.vm.ref.id.lower()
    assert change.after is None and change.before is not None
    assert entries(world) == {k: v for k, v in before.items() if k != gone}
    [record] = await audit(store, "policy_disabled")
    assert record.actor == GROUP_ADMIN and [p["number"] for p in json.loads(record.detail["before"])] == [22, 3389]
    with pytest.raises(RequestRejected) as again:
        await admin.disable(ADMIN, "rg-app/web-01")
    assert "not configured" in again.value.problem


async def test_overview_shows_the_tab_the_policy_and_what_is_open_now(
    admin: AdminService, gateway: AzureGateway, clock: ManualClock
) -> None:
    web = await admin.overview("rg-app/web-01")
    assert web.status.support is JitSupport.CONFIGURED and web.status.policy is not None
    assert web.holders == {}
    policy = web.status.policy
    assert isinstance(policy, JitPolicy)
    await gateway.initiate(policy, [22], "203.0.113.9", clock.now() + timedelta(minutes=30), "test")
    opened = await admin.overview("rg-app/web-01")
    assert [(n, p.source, len(p.holders)) for n, p in opened.holders.items()] == [(22, "203.0.113.9", 1)]
    clock.advance(timedelta(minutes=31))
    assert (await admin.overview("rg-app/web-01")).holders == {}
    assert (await admin.overview("db-01")).status.support is JitSupport.NOT_CONFIGURED
    bare = await admin.overview("bare-01")
    assert bare.status.support is JitSupport.UNSUPPORTED and bare.status.unsupported_reasons == (
        UnsupportedReason.NO_NSG,
    )


def test_ports_json_is_compact_and_empty_without_a_policy() -> None:
    assert ports_json(None) == "[]"
    policy = JitPolicy(
        "p", "s", "rg", "westeurope", "default", "vm", (PolicyPort(22, PortProtocol.UDP, ("1.2.3.4/32",)),)
    )
    assert ports_json(policy) == '[{"number":22,"protocol":"UDP","sources":["1.2.3.4/32"],"max":"PT3H"}]'


LOCKED = "Locked-down VMs: no just-in-time access"


def tabs(rows: list[VmJitStatus]) -> dict[str, VmJitStatus]:
    """Inventory rows by ``rg/name`` (names alone are ambiguous in this world)."""
    return {row.vm.ref.short: row for row in rows}


async def test_a_policy_refusal_is_remembered_audited_and_then_listed_as_unsupported(
    admin: AdminService, store: RequestStore, world: Inventory, denials: PolicyDenials, clock: ManualClock
) -> None:
    world.vm("db-01").jit_denied_by_policy = LOCKED
    before = entries(world)
    assert tabs(await admin.inventory())["rg-data/db-01"].support is JitSupport.NOT_CONFIGURED
    with pytest.raises(JitDeniedByPolicy) as denied:
        await admin.configure(ADMIN, "db-01", [PolicyPort(22, PortProtocol.TCP, ("10.0.0.0/8",))])
    assert denied.value.assignment == LOCKED
    assert entries(world) == before
    assert await audit(store, "policy_enabled") == []
    [record] = await audit(store, "azure_policy_denied")
    vm_id = world.vm("db-01").id
    assert record.actor == ADMIN and record.detail["vm"] == vm_id and record.detail["assignment"] == LOCKED
    assert record.detail["assignment_id"] == denied.value.assignment_id and record.detail["before"] == "[]"
    assert json.loads(record.detail["attempted"]) == [
        {"number": 22, "protocol": "TCP", "sources": ["10.0.0.0/8"], "max": "PT3H"}
    ]
    remembered = await denials.get(vm_id)
    assert remembered == PolicyDenial(vm_id, LOCKED, denied.value.assignment_id, clock.now())

    rows = tabs(await admin.inventory())
    db = rows["rg-data/db-01"]
    assert db.support is JitSupport.UNSUPPORTED and db.unsupported_reasons == (UnsupportedReason.DISABLED_BY_POLICY,)
    assert db.policy_denial == remembered
    assert rows["rg-app/web-01"].support is JitSupport.CONFIGURED and rows["rg-app/web-01"].policy_denial is None
    overview = await admin.overview("db-01")
    assert overview.status.support is JitSupport.UNSUPPORTED and overview.status.policy_denial == remembered

    again = await admin.readiness(ADMIN, "db-01")
    assert again.reasons == (UnsupportedReason.DISABLED_BY_POLICY,) and again.policy_denial == remembered
    assert again.ready


async def test_a_granted_exemption_is_noticed_by_the_next_save(
    admin: AdminService, world: Inventory, denials: PolicyDenials
) -> None:
    world.vm("db-01").jit_denied_by_policy = LOCKED
    with pytest.raises(JitDeniedByPolicy):
        await admin.configure(ADMIN, "db-01", [PolicyPort(22)])
    world.vm("db-01").jit_denied_by_policy = None
    change = await admin.configure(ADMIN, "db-01", [PolicyPort(22)])
    assert change.after is not None and await denials.get(change.vm.ref.id) is None
    row = tabs(await admin.inventory())["rg-data/db-01"]
    assert row.support is JitSupport.CONFIGURED and row.policy_denial is None
    assert (await admin.readiness(ADMIN, "db-01")).reasons == ()


async def test_a_remembered_refusal_fades_so_the_vm_is_offered_again(
    admin: AdminService, world: Inventory, clock: ManualClock
) -> None:
    world.vm("db-01").jit_denied_by_policy = LOCKED
    with pytest.raises(JitDeniedByPolicy):
        await admin.configure(ADMIN, "db-01", [PolicyPort(22)])
    clock.advance(DEFAULT_DENIAL_TTL - timedelta(minutes=1))
    assert tabs(await admin.inventory())["rg-data/db-01"].support is JitSupport.UNSUPPORTED
    clock.advance(timedelta(minutes=1))
    assert tabs(await admin.inventory())["rg-data/db-01"].support is JitSupport.NOT_CONFIGURED


async def test_a_refused_edit_keeps_a_configured_vm_configured(
    admin: AdminService, world: Inventory, store: RequestStore
) -> None:
    world.vm("web-01").jit_denied_by_policy = LOCKED
    before = entries(world)
    with pytest.raises(JitDeniedByPolicy):
        await admin.configure(ADMIN, "rg-app/web-01", [PolicyPort(2222)])
    assert entries(world) == before
    [record] = await audit(store, "azure_policy_denied")
    assert [p["number"] for p in json.loads(record.detail["before"])] == [22, 3389]
    row = tabs(await admin.inventory())["rg-app/web-01"]
    assert row.support is JitSupport.CONFIGURED and row.policy is not None
    edit = await admin.readiness(ADMIN, "rg-app/web-01", action="change")
    assert edit.ready and edit.policy is not None and edit.policy_denial is not None


def test_a_denial_adds_its_reason_to_an_unsupported_vm_and_never_hides_a_configured_one() -> None:
    ref = VmRef(
        "/subscriptions/s/resourceGroups/rg/providers/Microsoft.Compute/virtualMachines/vm", "s", "rg", "vm", "x"
    )
    denial = PolicyDenial(ref.id, LOCKED, None, ManualClock().now())
    bare = VmJitStatus(VirtualMachine(ref), JitSupport.UNSUPPORTED, (UnsupportedReason.NO_NSG,))
    merged = with_denial(bare, denial)
    assert merged.unsupported_reasons == (UnsupportedReason.NO_NSG, UnsupportedReason.DISABLED_BY_POLICY)
    assert with_denial(merged, denial).unsupported_reasons == merged.unsupported_reasons
    policy = JitPolicy("p", "s", "rg", "x", "default", ref.id, (PolicyPort(22),))
    configured = VmJitStatus(VirtualMachine(ref), JitSupport.CONFIGURED, (), policy)
    assert with_denial(configured, denial) is configured
    assert with_denial(bare, None) is bare


async def test_readiness_still_blocks_on_what_azure_reports(
    admin: AdminService, world: Inventory, denials: PolicyDenials, clock: ManualClock
) -> None:
    bare = world.vm("bare-01")
    await denials.remember(PolicyDenial(bare.id, LOCKED, None, clock.now()))
    found = await admin.readiness(ADMIN, "bare-01")
    assert found.reasons == (UnsupportedReason.NO_NSG, UnsupportedReason.DISABLED_BY_POLICY) and not found.ready


async def test_a_failed_save_is_retried_with_enable_until_the_vm_has_a_policy(admin: AdminService) -> None:
    assert await admin.retry_command("db-01") is Command.ENABLE
    assert await admin.retry_command("rg-app/web-01") is Command.EDIT
