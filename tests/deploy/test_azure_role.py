"""The two custom Azure roles grant exactly what jitbot's Azure calls need, and nothing more.

Offline: deploy/azure/operations.json maps every operation the ARM emulator serves to the RBAC actions it
needs and to the least jitbot role that must grant them; the role files must equal those unions. Live: the
real gateway runs every public operation against the emulator, and the operations in the emulator's call
log decide which role each operation belongs to — so a new ARM call the gateway starts making, or an action
the roles keep after the gateway stops needing it, fails here.
"""

from __future__ import annotations

import json
import re
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from azure.identity.aio import ManagedIdentityCredential
from slack_sdk.web.async_client import AsyncWebClient

from bot.people import SlackPeople
from jit.azure.authorization import AuthorizationReader
from jit.azure.clients import GatewayTuning
from jit.azure.gateway import AzureGateway, build_gateway
from jit.azure.graph import GraphUsers
from jit.azure.requester_permissions import AzureRequesterPermissions
from jit.clock import ManualClock
from jit.model import PolicyPort, PortProtocol, RbacOutcome
from jit.settings import Settings
from jit.vm_security import ReadOutcome
from sandbox.arm import ArmEmulator
from sandbox.arm_findings import Assessment, SecurityAlert
from sandbox.arm_inventory import (
    Inventory,
    JitPolicy,
    ManagementGroup,
    NetworkSecurityGroup,
    RoleAssignment,
    Subscription,
    VirtualMachine,
)
from sandbox.arm_routes import ROUTES
from sandbox.entra import Directory, EntraUser
from sandbox.graph import GraphEmulator
from sandbox.rbac_demo import JIT_VM_ACCESS, roles
from sandbox.slack import SlackEmulator
from sandbox.slack_workspace import ENGINEER, demo_workspace

AZURE_DIR = Path(__file__).resolve().parents[2] / "deploy" / "azure"
ROLE_FILES = {"requester": AZURE_DIR / "jitbot-role.json", "admin": AZURE_DIR / "jitbot-admin-role.json"}
ROLE_KEYS = {
    "Name",
    "IsCustom",
    "Description",
    "Actions",
    "NotActions",
    "DataActions",
    "NotDataActions",
    "AssignableScopes",
}
ACTION = re.compile(r"^Microsoft\.[A-Za-z]+(/[A-Za-z]+)+$")
SUBSCRIPTION_SCOPE = re.compile(r"^/subscriptions/[0-9a-f]{8}(-[0-9a-f]{4}){3}-[0-9a-f]{12}$")
SUB = "44444444-4444-4444-8444-444444444444"
LOCATION = "westeurope"
TOKEN_OPERATION = "token"
GROUP = "mg-jitbot"
REQUESTER_EMAIL = "alice@contoso.com"


def load_role(kind: str) -> dict[str, Any]:
    """One custom role definition as `az role definition create` reads it."""
    role: dict[str, Any] = json.loads(ROLE_FILES[kind].read_text(encoding="utf-8"))
    return role


def load_operations() -> dict[str, dict[str, Any]]:
    """Emulator operation name -> {actions, role, why}."""
    document: dict[str, Any] = json.loads((AZURE_DIR / "operations.json").read_text(encoding="utf-8"))
    operations: dict[str, dict[str, Any]] = document["operations"]
    return operations


def roles_up_to(kind: str) -> set[str]:
    """The operation roles a role file must cover: admin is a superset of requester."""
    return {"requester"} if kind == "requester" else {"requester", "admin"}


def actions_of(operations: set[str]) -> set[str]:
    """Every action the named operations need."""
    mapping = load_operations()
    return {action for name in operations for action in mapping[name]["actions"]}


# -- offline: the files agree with each other ---------------------------------------------------------------


@pytest.mark.parametrize("kind", sorted(ROLE_FILES))
def test_role_file_is_a_valid_custom_role_definition(kind: str) -> None:
    role = load_role(kind)
    assert set(role) == ROLE_KEYS
    assert role["IsCustom"] is True
    assert role["Name"].startswith("jitbot ")
    assert role["Description"]
    assert role["NotActions"] == role["DataActions"] == role["NotDataActions"] == []
    assert role["AssignableScopes"], "a custom role needs at least one assignable scope"
    assert all(SUBSCRIPTION_SCOPE.match(scope) for scope in role["AssignableScopes"])
    assert len(role["Actions"]) == len(set(role["Actions"])), "duplicate actions"
    bad = [action for action in role["Actions"] if not ACTION.match(action)]
    assert not bad, f"not a concrete action (wildcards are not least privilege): {bad}"


def test_every_emulator_operation_is_mapped() -> None:
    served = {route.operation for route in ROUTES} | {TOKEN_OPERATION}
    assert set(load_operations()) == served


def test_every_mapping_is_well_formed() -> None:
    for name, op in load_operations().items():
        assert op["role"] in {*ROLE_FILES, None}, name
        assert op["why"], name
        assert all(ACTION.match(action) for action in op["actions"]), name
        assert op["actions"] or name == TOKEN_OPERATION, f"{name} is an ARM call and needs an action"


@pytest.mark.parametrize("kind", sorted(ROLE_FILES))
def test_role_grants_exactly_the_actions_its_operations_need(kind: str) -> None:
    granted = set(load_role(kind)["Actions"])
    used = {name for name, op in load_operations().items() if op["role"] in roles_up_to(kind)}
    needed = actions_of(used)
    assert needed - granted == set(), f"{kind} role is missing actions its operations need"
    assert granted - needed == set(), f"{kind} role grants actions that no operation uses"


def test_requester_is_a_strict_subset_of_admin() -> None:
    requester = set(load_role("requester")["Actions"])
    admin = set(load_role("admin")["Actions"])
    assert requester < admin
    assert load_role("requester")["AssignableScopes"] == load_role("admin")["AssignableScopes"]


def test_requester_cannot_change_policies_vms_or_nsgs() -> None:
    actions = load_role("requester")["Actions"]
    assert [a for a in actions if a.rsplit("/", 1)[-1] in {"write", "delete"}] == []
    assert "Microsoft.Security/locations/jitNetworkAccessPolicies/initiate/action" in actions


# -- live: what the gateway really calls ---------------------------------------------------------------------


def world() -> Inventory:
    """One subscription with every case the gateway must classify: NIC NSG, subnet NSG only, classic, a policy."""
    web = VirtualMachine(
        SUB, "rg-app", "web-01", LOCATION, nic_nsg="nsg-app", private_ip="10.0.0.4", public_ip="20.1.2.3"
    )
    db = VirtualMachine(SUB, "rg-data", "db-01", LOCATION, subnet_nsg="nsg-data", private_ip="10.1.0.4")
    old = VirtualMachine(SUB, "rg-classic", "old-01", LOCATION, classic=True, private_ip="10.9.0.4")
    port = {"number": 22, "protocol": "*", "allowedSourceAddressPrefix": "*", "maxRequestAccessDuration": "PT3H"}
    requester = EntraUser(REQUESTER_EMAIL, "Alice Engineer", REQUESTER_EMAIL)
    finding = Assessment(
        web.id, "bc303248-3d14-44c2-96a0-55f5c326b5fe", "Management ports should be closed", "Unhealthy"
    )
    alert = SecurityAlert(
        web.id, "a1", "Suspicious authentication activity", "Medium", datetime(2026, 12, 1, tzinfo=UTC), LOCATION
    )
    return Inventory(
        assessments=[finding],
        alerts=[alert],
        directory=Directory(users=[requester]),
        management_groups=[ManagementGroup(GROUP, "jitbot", None, [SUB])],
        role_definitions=roles(),
        role_assignments=[
            RoleAssignment("a1", f"/subscriptions/{SUB}/resourceGroups/rg-app", JIT_VM_ACCESS, requester.id)
        ],
        subscriptions=[Subscription(SUB, "prod")],
        vms=[web, db, old],
        nsgs=[
            NetworkSecurityGroup(SUB, "rg-app", "nsg-app", LOCATION),
            NetworkSecurityGroup(SUB, "rg-data", "nsg-data", LOCATION),
        ],
        policies=[JitPolicy(SUB, "rg-app", LOCATION, virtual_machines=[{"id": web.id, "ports": [port]}])],
    )


@dataclass
class Live:
    """The emulator and a gateway talking to it as production builds it (managed identity, real SDK)."""

    arm: ArmEmulator
    gateway: AzureGateway
    clock: ManualClock
    requester: AzureRequesterPermissions


@pytest.fixture
async def live(monkeypatch: pytest.MonkeyPatch) -> AsyncIterator[Live]:
    clock = ManualClock()
    for name in ("AZURE_CLIENT_ID", "AZURE_TENANT_ID", "AZURE_CLIENT_SECRET", "AZURE_FEDERATED_TOKEN_FILE"):
        monkeypatch.delenv(name, raising=False)
    workspace = demo_workspace()
    alice = workspace.user(ENGINEER)
    assert alice is not None
    alice.email = REQUESTER_EMAIL
    async with ArmEmulator(world(), clock=clock) as arm, SlackEmulator(workspace) as slack:
        graph = await GraphEmulator(arm.inventory.directory, arm.tokens).start(arm.ca_file, arm.key_file)
        env = arm.environment()
        monkeypatch.setenv("IDENTITY_ENDPOINT", env["IDENTITY_ENDPOINT"])
        monkeypatch.setenv("IDENTITY_HEADER", env["IDENTITY_HEADER"])
        settings = Settings(
            slack_bot_token="xoxb-test",
            azure_management_group=GROUP,
            azure_arm_endpoint=arm.url,
            graph_endpoint=graph.url,
        )
        credential = ManagedIdentityCredential()
        tuning = GatewayTuning(read_retries=1, retry_backoff=0.01, retry_backoff_max=0.05)
        web = AsyncWebClient(token=workspace.token, base_url=slack.api_url)
        try:
            async with build_gateway(
                settings, clock, credential=credential, connection_verify=str(arm.ca_file), tuning=tuning
            ) as gateway:
                clients = gateway.clients
                requester = AzureRequesterPermissions(
                    SlackPeople(web), GraphUsers(clients), AuthorizationReader(clients), clock
                )
                yield Live(arm, gateway, clock, requester)
        finally:
            await credential.close()
            await graph.stop()


LIST_PATH = {
    "compute.vm.list_all",
    "classic.vm.list",
    "network.nic.list_all",
    "network.public_ip.list_all",
    "network.vnet.list_all",
    "management.descendants",
}


async def requester_phase(live: Live) -> set[str]:
    """Everything a request needs: lookups (under a management group) through Resource Graph, and again through the
    per-subscription lists as an identity without Resource Graph access sees it."""
    graph_ops = await requester_steps(live)
    live.gateway.invalidate()
    live.arm.graph_denied = True
    try:
        list_ops = await requester_steps(live)
    finally:
        live.arm.graph_denied = False
    return graph_ops | list_ops


async def requester_steps(live: Live) -> set[str]:
    """The requester's own RBAC, the VM's security context for the approval card, the inventory tabs, the grant and
    the history read after it."""
    live.arm.reset_calls()
    gateway = live.gateway
    web = await gateway.find_vm("rg-app/web-01")
    policy = await gateway.policy_for(web.ref)
    assert policy is not None
    assert (await live.requester.check(ENGINEER, web.ref)).outcome is RbacOutcome.ALLOWED
    context = await gateway.security_context(web.ref)
    parts = (context.recommendations, context.alerts, context.runtime, context.profile)
    assert all(part.outcome is ReadOutcome.READ for part in parts), "every part of the card's context is read"
    live.clock.advance(timedelta(minutes=2))  # past the lookup's power state: the instance view is read
    later = await gateway.security_context(web.ref)
    assert later.runtime.outcome is ReadOutcome.READ
    await gateway.inventory()
    await gateway.unsupported_reasons(web.ref)
    await gateway.initiate(policy, [22], "203.0.113.10/32", live.clock.now() + timedelta(hours=1), "jitbot test")
    await gateway.request_history(policy)
    return {call.operation for call in live.arm.calls}


async def admin_phase(live: Live) -> set[str]:
    """What admins add: enable JIT on a VM, revoke early, and disable JIT again."""
    gateway = live.gateway
    live.arm.reset_calls()
    db = await gateway.find_vm("db-01")
    await gateway.configure(db.ref, [PolicyPort(22, PortProtocol.ANY, ("*",), timedelta(hours=3))])
    web = await gateway.find_vm("rg-app/web-01")
    assert await gateway.close_access(web.ref, [22], "203.0.113.10/32") == 1
    await gateway.disable(db.ref)
    return {call.operation for call in live.arm.calls}


async def test_roles_grant_exactly_what_the_gateway_calls(live: Live) -> None:
    requester_ops = await requester_phase(live)
    admin_ops = await admin_phase(live)
    failed = [c for c in live.arm.calls if c.status >= 400 and not (c.operation == "jit.get" and c.status == 404)]
    assert failed == [], "every call must have succeeded (a policy read may find no policy: 404)"
    assert "resourcegraph.resources" in requester_ops
    mapping = load_operations()
    called = requester_ops | admin_ops
    assert called - set(mapping) == set(), "the gateway calls operations operations.json does not know"
    assert {"jit.initiate", "jit.put", "jit.delete", "network.nsg.rule.delete"} <= called
    assert {"authorization.role_assignments.list", "authorization.role_definitions.get", "management.descendants"} <= (
        requester_ops
    )

    requester_granted = set(load_role("requester")["Actions"])
    assert actions_of(requester_ops) == requester_granted
    admin_granted = set(load_role("admin")["Actions"])
    assert actions_of(called) == admin_granted

    observed_role = {name: "requester" for name in requester_ops} | {
        name: "admin" for name in admin_ops - requester_ops if not actions_of({name}) <= requester_granted
    }
    declared = {name: op["role"] for name, op in load_operations().items() if op["role"] is not None}
    assert declared == observed_role, "operations.json roles must match what the gateway calls in each phase"


async def test_each_lookup_path_calls_only_what_its_operations_state(live: Live) -> None:
    graph_ops = await requester_steps(live)
    assert "resourcegraph.resources" in graph_ops
    assert graph_ops & LIST_PATH == set(), "with Resource Graph no subscription is listed"
    live.gateway.invalidate()
    live.arm.graph_denied = True
    list_ops = await requester_steps(live)
    refused = [c.status for c in live.arm.calls if c.operation == "resourcegraph.resources"]
    assert refused == [403], "one refused query, remembered"
    assert LIST_PATH - {"network.vnet.list_all"} <= list_ops
    mapping = load_operations()
    graph_actions = set(mapping["resourcegraph.resources"]["actions"])
    assert actions_of(LIST_PATH) - {"Microsoft.Management/managementGroups/descendants/read"} <= graph_actions, (
        "Resource Graph returns only what the identity may read: its operation lists those reads"
    )
    granted = set(load_role("requester")["Actions"])
    assert actions_of(graph_ops) <= granted
    assert actions_of(list_ops) <= granted


async def test_only_the_async_operation_status_is_polled(live: Live) -> None:
    await requester_phase(live)
    await admin_phase(live)
    polls = [call.path for call in live.arm.calls if call.operation == "network.operation.get"]
    assert polls, "a rule delete is a long-running operation"
    assert all("/operations/" in path for path in polls), (
        "the SDK now polls operationResults too: add Microsoft.Network/locations/operationResults/read"
    )
