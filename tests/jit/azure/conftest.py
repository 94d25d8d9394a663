"""A small Azure world served by the ARM emulator, and a gateway talking to it through the real SDK.

World (all in westeurope unless noted):
- SUB_A (Defender on): ``web-01`` and ``api-01`` share the ``default`` JIT policy of ``rg-app``; ``db-01``
  has an NSG on its subnet only and no policy; ``bare-01`` has no NSG at all; ``old-01`` is a classic VM.
- SUB_B (Defender on): another ``web-01`` (so the bare name is ambiguous), ``Mixed-Case`` with no policy.
- SUB_C (Defender off): ``svc-01`` with an NSG.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import timedelta
from typing import Any

import pytest
from azure.identity.aio import ManagedIdentityCredential

from jit.azure.clients import GatewayTuning
from jit.azure.gateway import AzureGateway, build_gateway
from jit.clock import ManualClock
from jit.justification import Justification
from jit.settings import Settings
from sandbox.arm import ArmEmulator
from sandbox.arm_inventory import Inventory, JitPolicy, NetworkSecurityGroup, Subscription, VirtualMachine

SUB_A = "11111111-1111-4111-8111-111111111111"
SUB_B = "22222222-2222-4222-8222-222222222222"
SUB_C = "33333333-3333-4333-8333-333333333333"
LOCATION = "westeurope"
TEST_TUNING = GatewayTuning(read_retries=2, retry_backoff=0.01, retry_backoff_max=0.05, max_retry_after=2.0)


def jit_entry(vm: VirtualMachine, *ports: dict[str, Any]) -> dict[str, Any]:
    """A policy ``virtualMachines`` entry as Azure would hold it."""
    return {"id": vm.id, "ports": list(ports)}


def port_rule(
    number: int, duration: str = "PT3H", source: str | list[str] = "*", protocol: str = "*"
) -> dict[str, Any]:
    """One policy port rule, with a single source or a list of them."""
    rule: dict[str, Any] = {"number": number, "protocol": protocol}
    if isinstance(source, list):
        rule["allowedSourceAddressPrefixes"] = source
    else:
        rule["allowedSourceAddressPrefix"] = source
    rule["maxRequestAccessDuration"] = duration
    return rule


def build_world(clock: ManualClock) -> Inventory:
    """The world described in the module docstring, with some JIT history on web-01."""
    web = VirtualMachine(
        SUB_A, "rg-app", "web-01", LOCATION, nic_nsg="nsg-app", private_ip="10.0.0.4", public_ip="20.1.2.3"
    )
    api = VirtualMachine(
        SUB_A, "rg-app", "api-01", LOCATION, os_type="Windows", nic_nsg="nsg-app", private_ip="10.0.0.5"
    )
    db = VirtualMachine(SUB_A, "rg-data", "db-01", LOCATION, subnet_nsg="nsg-data", private_ip="10.1.0.4")
    bare = VirtualMachine(SUB_A, "rg-app", "bare-01", LOCATION, private_ip="10.0.0.9")
    old = VirtualMachine(SUB_A, "rg-classic", "old-01", LOCATION, classic=True, private_ip="10.9.0.4")
    web_b = VirtualMachine(SUB_B, "rg-other", "web-01", "northeurope", nic_nsg="nsg-other", private_ip="10.2.0.4")
    mixed = VirtualMachine(SUB_B, "rg-other", "Mixed-Case", "northeurope", nic_nsg="nsg-other", private_ip="10.2.0.5")
    svc = VirtualMachine(SUB_C, "rg-svc", "svc-01", LOCATION, nic_nsg="nsg-svc", private_ip="10.3.0.4")
    now = clock.now()

    def request(days_ago: float, justification: str, requestor: str = "jitbot-managed-identity") -> dict[str, Any]:
        start = now - timedelta(days=days_ago)
        return {
            "virtualMachines": [
                {
                    "id": web.id,
                    "ports": [
                        {
                            "number": 22,
                            "allowedSourceAddressPrefix": "10.20.0.1",
                            "endTimeUtc": (start + timedelta(hours=1)).strftime("%Y-%m-%dT%H:%M:%S.%fZ"),
                            "status": "Expired",
                            "statusReason": "Expired",
                        }
                    ],
                }
            ],
            "startTimeUtc": start.strftime("%Y-%m-%dT%H:%M:%S.%fZ"),
            "requestor": requestor,
            "justification": justification,
        }

    app_policy = JitPolicy(
        SUB_A,
        "rg-app",
        LOCATION,
        virtual_machines=[
            jit_entry(web, port_rule(22, "PT3H"), port_rule(3389, "PT1H", ["10.20.0.0/16", "192.168.1.10"], "TCP")),
            jit_entry(api, port_rule(3389, "PT2H", "10.20.0.0/16", "TCP"), port_rule(5986, "PT30M")),
        ],
        requests=[
            request(10, "old maintenance", "alice@contoso.com"),
            request(3, Justification("req-1", "U0ALICE", "U0BOB", "deploy").render()),
            request(1, "manual portal request", "carol@contoso.com"),
            request(0.5, Justification("req-2", "U0DAVE", "U0BOB", "hotfix").render()),
        ],
    )
    return Inventory(
        subscriptions=[
            Subscription(SUB_A, "A"),
            Subscription(SUB_B, "B"),
            Subscription(SUB_C, "C", defender_for_servers=False),
        ],
        vms=[web, api, db, bare, old, web_b, mixed, svc],
        nsgs=[
            NetworkSecurityGroup(SUB_A, "rg-app", "nsg-app", LOCATION),
            NetworkSecurityGroup(SUB_A, "rg-data", "nsg-data", LOCATION),
            NetworkSecurityGroup(SUB_B, "rg-other", "nsg-other", "northeurope"),
            NetworkSecurityGroup(SUB_C, "rg-svc", "nsg-svc", LOCATION),
        ],
        policies=[app_policy],
    )


@pytest.fixture
def clock() -> ManualClock:
    """Shared by the emulator (JIT windows) and the gateway (cache TTL, activity window)."""
    return ManualClock()


@pytest.fixture
def world(clock: ManualClock) -> Inventory:
    """A fresh world per test."""
    return build_world(clock)


@pytest.fixture
async def arm(world: Inventory, clock: ManualClock) -> AsyncIterator[ArmEmulator]:
    """The ARM emulator over HTTPS with its managed identity endpoint (Resource Graph's quota lifted)."""
    async with ArmEmulator(world, clock=clock) as emulator:
        emulator.graph_quota.limit = 0  # test_resource_graph.py checks the quota; elsewhere it would only slow tests
        yield emulator


def settings_for(arm: ArmEmulator, timeout: float = 2.0) -> Settings:
    """Settings pointing at the emulator, as ``Settings.from_env`` would build them."""
    return Settings(
        slack_bot_token="xoxb-test",
        azure_subscription_ids=(SUB_A, SUB_B, SUB_C),
        azure_arm_endpoint=arm.url,
        azure_timeout=timedelta(seconds=timeout),
    )


@pytest.fixture
def identity_env(arm: ArmEmulator, monkeypatch: pytest.MonkeyPatch) -> None:
    """Managed identity through IDENTITY_ENDPOINT/IDENTITY_HEADER, and nothing else azure-identity could pick."""
    for name in (
        "AZURE_CLIENT_ID",
        "AZURE_TENANT_ID",
        "AZURE_CLIENT_SECRET",
        "AZURE_FEDERATED_TOKEN_FILE",
        "MSI_ENDPOINT",
    ):
        monkeypatch.delenv(name, raising=False)
    env = arm.environment()
    monkeypatch.setenv("IDENTITY_ENDPOINT", env["IDENTITY_ENDPOINT"])
    monkeypatch.setenv("IDENTITY_HEADER", env["IDENTITY_HEADER"])


@pytest.fixture
async def gateway(arm: ArmEmulator, clock: ManualClock, identity_env: None) -> AsyncIterator[AzureGateway]:
    """The gateway as production builds it (DefaultAzureCredential), trusting the emulator's certificate."""
    async with build_gateway(settings_for(arm), clock, connection_verify=str(arm.ca_file), tuning=TEST_TUNING) as gw:
        yield gw


def make_gateway(
    arm: ArmEmulator, clock: ManualClock, *, azure_timeout: float = 2.0, tuning: GatewayTuning = TEST_TUNING
) -> tuple[AzureGateway, ManagedIdentityCredential]:
    """A gateway with its own timeout/tuning and an explicit ManagedIdentityCredential (caller closes both)."""
    credential = ManagedIdentityCredential()
    gw = build_gateway(
        settings_for(arm, azure_timeout),
        clock,
        credential=credential,
        connection_verify=str(arm.ca_file),
        tuning=tuning,
    )
    return gw, credential


@pytest.fixture
def list_path(arm: ArmEmulator) -> None:
    """The identity lacks Resource Graph access (403), so the gateway uses the per-subscription list calls."""
    arm.graph_denied = True
