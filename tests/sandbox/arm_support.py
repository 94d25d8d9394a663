"""Shared world and helpers for the ARM emulator tests: real SDK clients and raw HTTPS against the emulator.

The world reuses the subscription, resource group and VM of the official JIT examples
(``20ff7fc3…/myRg1/vm1`` in westeurope), so the example bodies can be sent unchanged.
"""

from __future__ import annotations

import json
import ssl
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from azure.identity.aio import ManagedIdentityCredential
from azure.mgmt.compute.aio import ComputeManagementClient
from azure.mgmt.network.aio import NetworkManagementClient
from azure.mgmt.security.aio import SecurityCenter

from jit.clock import ManualClock
from sandbox.arm import ArmEmulator
from sandbox.arm_inventory import Inventory, JitPolicy, NetworkSecurityGroup, Subscription, VirtualMachine

SUB = "20ff7fc3-e762-44dd-bd96-b71116dcdc23"
FREE_SUB = "d34fd44c-ebfa-4a9c-bceb-9eeafe72ac15"
RG = "myRg1"
LOCATION = "westeurope"
SPECS = Path(__file__).resolve().parents[2] / "sandbox" / "specs"
JIT_EXAMPLES = SPECS / "security/Microsoft.Security/stable/2020-01-01/examples/JitNetworkAccessPolicies"
PREVIEW_JIT_EXAMPLES = (
    SPECS / "security/Microsoft.Security/preview/2015-06-01-preview/examples" / "JitNetworkAccessPolicies"
)
OTHER_CREDENTIAL_VARIABLES = (
    "AZURE_CLIENT_ID",
    "AZURE_TENANT_ID",
    "AZURE_CLIENT_SECRET",
    "AZURE_FEDERATED_TOKEN_FILE",
    "MSI_ENDPOINT",
    "MSI_SECRET",
    "IDENTITY_SERVER_THUMBPRINT",
)
PRICING_EXAMPLES = SPECS / "security/Microsoft.Security/stable/2024-01-01/examples/Pricings"


def example(path: Path) -> dict[str, Any]:
    """One vendored x-ms-examples file."""
    loaded: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
    return loaded


def build_world() -> Inventory:
    """vm1 (Linux, NIC NSG, public IP) and friends covering every JIT support case."""
    vms = [
        VirtualMachine(SUB, RG, "vm1", LOCATION, nic_nsg="nsg1", private_ip="10.0.0.4", public_ip="20.0.0.4"),
        VirtualMachine(
            SUB, RG, "vm2", LOCATION, "Windows", nic_nsg="nsg1", private_ip="10.0.0.5", tags={"env": "prod"}
        ),
        VirtualMachine(SUB, RG, "vm3", LOCATION, subnet_nsg="subnet-nsg", private_ip="10.0.1.4"),
        VirtualMachine(SUB, RG, "bare", LOCATION, private_ip="10.0.2.4"),
        VirtualMachine(SUB, RG, "classic1", LOCATION, "Windows", classic=True, private_ip="10.0.3.4"),
        VirtualMachine(SUB, "rg-east", "east1", "eastus", nic_nsg="nsg-east", private_ip="10.5.0.4"),
        VirtualMachine(FREE_SUB, "rg-free", "free1", LOCATION, nic_nsg="nsg-free", private_ip="10.9.0.4"),
    ]
    return Inventory(
        subscriptions=[Subscription(SUB, "Paid"), Subscription(FREE_SUB, "Free", defender_for_servers=False)],
        vms=vms,
        nsgs=[
            NetworkSecurityGroup(SUB, RG, "nsg1", LOCATION),
            NetworkSecurityGroup(SUB, RG, "subnet-nsg", LOCATION),
            NetworkSecurityGroup(SUB, "rg-east", "nsg-east", "eastus"),
            NetworkSecurityGroup(FREE_SUB, "rg-free", "nsg-free", LOCATION),
        ],
    )


def policy_body(*entries: dict[str, Any]) -> dict[str, Any]:
    """A PUT body holding the given ``virtualMachines`` entries."""
    return {"kind": "Basic", "properties": {"virtualMachines": list(entries)}}


def vm_entry(vm: VirtualMachine, *ports: dict[str, Any]) -> dict[str, Any]:
    """A policy ``virtualMachines`` entry."""
    return {"id": vm.id, "ports": list(ports)}


def port(number: int, maximum: str = "PT3H", source: str | list[str] = "*") -> dict[str, Any]:
    """A policy port rule with one source or a list of them."""
    rule: dict[str, Any] = {"number": number, "protocol": "*", "maxRequestAccessDuration": maximum}
    rule["allowedSourceAddressPrefixes" if isinstance(source, list) else "allowedSourceAddressPrefix"] = source
    return rule


def add_policy(inventory: Inventory, *entries: dict[str, Any], name: str = "default") -> JitPolicy:
    """A policy placed straight into the inventory (no PUT, so no deny rules)."""
    policy = JitPolicy(SUB, RG, LOCATION, name, virtual_machines=list(entries))
    inventory.policies.append(policy)
    return policy


def client_options(arm: ArmEmulator, **extra: Any) -> dict[str, Any]:
    """What every SDK client needs to reach and trust the emulator, plus quick retries for tests."""
    options: dict[str, Any] = {
        "base_url": arm.url,
        "connection_verify": str(arm.ca_file),
        "retry_backoff_factor": 0.01,
        "polling_interval": 0.01,
    }
    options.update(extra)
    return options


def security(arm: ArmEmulator, credential: ManagedIdentityCredential, sub: str = SUB, **extra: Any) -> SecurityCenter:
    """The real Defender for Cloud client."""
    return SecurityCenter(credential, sub, **client_options(arm, **extra))


def compute(
    arm: ArmEmulator, credential: ManagedIdentityCredential, sub: str = SUB, **extra: Any
) -> ComputeManagementClient:
    """The real compute client."""
    return ComputeManagementClient(credential, sub, **client_options(arm, **extra))


def network(
    arm: ArmEmulator, credential: ManagedIdentityCredential, sub: str = SUB, **extra: Any
) -> NetworkManagementClient:
    """The real network client."""
    return NetworkManagementClient(credential, sub, **client_options(arm, **extra))


async def raw(
    arm: ArmEmulator,
    method: str,
    path: str,
    *,
    token: str | None = None,
    body: Any = None,
    api_version: str | None = "2020-01-01",
) -> tuple[int, Any, dict[str, str]]:
    """One HTTPS call outside any SDK: status, parsed JSON (or None) and headers."""
    context = ssl.create_default_context(cafile=str(arm.ca_file))
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    params = {"api-version": api_version} if api_version else {}
    async with (
        aiohttp.ClientSession() as session,
        session.request(method, arm.url + path, params=params, json=body, headers=headers, ssl=context) as response,
    ):
        text = await response.text()
        return response.status, (json.loads(text) if text else None), dict(response.headers)


async def token_for(credential: ManagedIdentityCredential) -> str:
    """A bearer token for ARM from the real credential."""
    access = await credential.get_token("https://management.azure.com/.default")
    return str(access.token)


def rules(inventory: Inventory, name: str = "nsg1") -> list[dict[str, Any]]:
    """The security rules of an NSG in the test resource group."""
    nsg = inventory.nsg(SUB, RG, name)
    assert nsg is not None
    return nsg.rules


@pytest.fixture(name="clock")
def clock_fixture() -> ManualClock:
    """Emulator time; tests move it to end JIT windows."""
    return ManualClock(datetime(2026, 12, 1, 9, 0, tzinfo=UTC))


@pytest.fixture(name="world")
def world_fixture() -> Inventory:
    """A fresh world per test."""
    return build_world()


@pytest.fixture(name="arm")
async def arm_fixture(world: Inventory, clock: ManualClock) -> AsyncIterator[ArmEmulator]:
    """The emulator over HTTPS, with Retry-After 0 on 202s so pollers use the clients' short interval."""
    async with ArmEmulator(world, clock=clock) as emulator:
        emulator.lro_retry_after = 0
        yield emulator


@pytest.fixture(name="credential")
async def credential_fixture(
    arm: ArmEmulator, monkeypatch: pytest.MonkeyPatch
) -> AsyncIterator[ManagedIdentityCredential]:
    """The real managed identity credential, pointed at the emulator's identity endpoint."""
    for name in OTHER_CREDENTIAL_VARIABLES:
        monkeypatch.delenv(name, raising=False)
    env = arm.environment()
    monkeypatch.setenv("IDENTITY_ENDPOINT", env["IDENTITY_ENDPOINT"])
    monkeypatch.setenv("IDENTITY_HEADER", env["IDENTITY_HEADER"])
    async with ManagedIdentityCredential() as managed:
        yield managed
