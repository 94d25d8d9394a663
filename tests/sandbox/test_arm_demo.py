"""The demo world and ``python -m sandbox.arm``: every portal tab is represented and the emulator serves it."""

from __future__ import annotations

import asyncio
import os
import signal
import ssl
import sys
from datetime import UTC, datetime, timedelta

import aiohttp
import pytest
from azure.identity.aio import ManagedIdentityCredential
from azure.mgmt.security.aio import SecurityCenter

from jit.justification import parse_justification
from sandbox.arm import ArmEmulator
from sandbox.arm_demo import LAB, PROD, demo_inventory
from sandbox.arm_inventory import VirtualMachine
from sandbox.arm_jit import parse_time
from sandbox.arm_resources import effective_nsg
from sandbox.arm_schema import JIT_SWAGGER, problems
from sandbox.slack_workspace import demo_workspace
from tests.sandbox.arm_support import OTHER_CREDENTIAL_VARIABLES, client_options

NOW = datetime(2026, 12, 1, 9, 0, tzinfo=UTC)


def tab(vm: VirtualMachine) -> str:
    """Which of the portal's three tabs a demo VM belongs on."""
    inventory = demo_inventory(NOW)
    subscription = next(s for s in inventory.subscriptions if s.id == vm.subscription_id)
    if vm.classic or not subscription.defender_for_servers or effective_nsg(inventory, vm) is None:
        return "unsupported"
    return "configured" if inventory.policy_covering(vm) else "not configured"


def test_demo_world_covers_every_case() -> None:
    inventory = demo_inventory(NOW)
    assert 10 <= len(inventory.vms) <= 14
    assert {s.id for s in inventory.subscriptions} == {PROD, LAB}
    assert len({(vm.subscription_id, vm.resource_group) for vm in inventory.vms}) == 3
    tabs = {vm.name: tab(vm) for vm in inventory.vms}
    assert tabs["web-01"] == tabs["web-02"] == tabs["bastion-win"] == tabs["db-01"] == "configured"
    assert tabs["build-01"] == tabs["db-02"] == tabs["vault-01"] == "not configured"
    assert [vm.name for vm in inventory.vms if vm.jit_denied_by_policy] == ["vault-01"]
    assert tabs["legacy-app"] == tabs["old-classic"] == tabs["lab-01"] == tabs["lab-02"] == "unsupported"
    assert {vm.os_type for vm in inventory.vms} == {"Linux", "Windows"}
    assert any(vm.public_ip for vm in inventory.vms)
    assert {vm.tags.get("env") for vm in inventory.vms} >= {"prod", "dev"}
    assert max(len(p.virtual_machines) for p in inventory.policies) >= 3


def test_demo_history_is_recent_valid_and_mostly_jitbots() -> None:
    inventory = demo_inventory(NOW)
    requests = [r for p in inventory.policies for r in p.requests]
    assert all(problems(JIT_SWAGGER, "JitNetworkAccessRequest", r) == [] for r in requests)
    starts = [parse_time(r["startTimeUtc"]) for r in requests]
    assert all(start < NOW for start in starts)
    assert sum(start > NOW - timedelta(days=7) for start in starts) >= 3
    parsed = [parse_justification(r.get("justification")) for r in requests]
    assert sum(p is not None for p in parsed) >= 3
    assert None in parsed
    assert all(port["status"] == "Revoked" for r in requests for vm in r["virtualMachines"] for port in vm["ports"])


def test_demo_history_names_only_people_of_the_demo_workspace() -> None:
    workspace = demo_workspace()
    parsed = [parse_justification(r.get("justification")) for p in demo_inventory(NOW).policies for r in p.requests]
    named = {person for p in parsed if p is not None for person in (p.requester, p.approver)}

    assert named and all((user := workspace.user(person)) is not None and not user.deleted for person in named)


def test_demo_nsgs_hold_the_deny_rules_jit_adds() -> None:
    inventory = demo_inventory(NOW)
    web = inventory.nsg(PROD, "rg-web", "web-nsg")
    assert web is not None
    denies = sorted(
        (r["properties"]["destinationAddressPrefix"], r["properties"]["destinationPortRange"])
        for r in web.rules
        if r["properties"]["access"] == "Deny"
    )
    assert denies == [
        ("10.0.1.4", "22"),
        ("10.0.1.4", "8080"),
        ("10.0.1.5", "22"),
        ("10.0.1.6", "3389"),
        ("10.0.1.6", "5985"),
        ("10.0.1.6", "5986"),
    ]


async def test_the_emulator_serves_the_demo(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in OTHER_CREDENTIAL_VARIABLES:
        monkeypatch.delenv(name, raising=False)
    async with ArmEmulator(demo_inventory()) as arm:
        env = arm.environment()
        monkeypatch.setenv("IDENTITY_ENDPOINT", env["IDENTITY_ENDPOINT"])
        monkeypatch.setenv("IDENTITY_HEADER", env["IDENTITY_HEADER"])
        async with ManagedIdentityCredential() as credential:
            async with SecurityCenter(credential, PROD, **client_options(arm)) as prod:
                policies = [p async for p in prod.jit_network_access_policies.list()]
            async with SecurityCenter(credential, LAB, **client_options(arm)) as lab:
                pricing = await lab.pricings.get(f"subscriptions/{LAB}", "VirtualMachines")
    assert env["AZURE_SUBSCRIPTION_IDS"] == f"{PROD},{LAB}"
    assert sorted(p.location for p in policies) == ["northeurope", "westeurope"]
    assert pricing.pricing_tier == "Free"


@pytest.mark.timeout(180)
async def test_python_m_sandbox_arm_prints_its_environment_and_stops_on_ctrl_c() -> None:
    """Generous waits: on a loaded machine the child's imports and TLS set-up can take many seconds."""
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "sandbox.arm",
        "--port",
        "0",
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    assert process.stdout is not None
    assert process.stderr is not None
    errors = asyncio.ensure_future(process.stderr.read())
    exports: dict[str, str] = {}
    try:
        async with asyncio.timeout(90):
            while True:
                line = (await process.stdout.readline()).decode()
                if not line:
                    pytest.fail(f"the emulator exited before it was ready: {(await errors).decode()}")
                if line.startswith("export "):
                    key, _, value = line.removeprefix("export ").strip().partition("=")
                    exports[key] = value
                if line.startswith("Ctrl-C"):
                    break
        assert set(exports) == {
            "AZURE_ARM_ENDPOINT",
            "IDENTITY_ENDPOINT",
            "IDENTITY_HEADER",
            "SSL_CERT_FILE",
            "AZURE_SUBSCRIPTION_IDS",
        }
        assert exports["AZURE_ARM_ENDPOINT"].startswith("https://127.0.0.1:")
        trust = ssl.create_default_context(cafile=exports["SSL_CERT_FILE"])
        url = f"{exports['AZURE_ARM_ENDPOINT']}/subscriptions/{PROD}/providers/Microsoft.Compute/virtualMachines"
        async with aiohttp.ClientSession() as session, session.get(url, ssl=trust) as response:
            assert response.status == 401
            assert (await response.json())["error"]["code"] == "AuthenticationFailed"
    finally:
        if process.returncode is None:
            process.send_signal(signal.SIGINT)
        async with asyncio.timeout(60):
            await process.wait()
    assert process.returncode == 0, (await errors).decode()


CHILD = """
import asyncio, os
from azure.identity.aio import DefaultAzureCredential
from azure.mgmt.compute.aio import ComputeManagementClient

async def main():
    sub = os.environ["AZURE_SUBSCRIPTION_IDS"].split(",")[0]
    async with DefaultAzureCredential() as credential, ComputeManagementClient(
        credential, sub, base_url=os.environ["AZURE_ARM_ENDPOINT"]
    ) as client:
        print(",".join([vm.name async for vm in client.virtual_machines.list_all()]))

asyncio.run(main())
"""


async def test_environment_is_all_a_fresh_process_needs() -> None:
    async with ArmEmulator(demo_inventory()) as arm:
        clean = {k: v for k, v in os.environ.items() if k not in OTHER_CREDENTIAL_VARIABLES}
        child = await asyncio.create_subprocess_exec(
            sys.executable,
            "-c",
            CHILD,
            env={**clean, **arm.environment()},
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
        )
        async with asyncio.timeout(30):
            out, err = await child.communicate()
    assert child.returncode == 0, err.decode()
    assert out.decode().split(",")[:2] == ["web-01", "web-02"]
    assert [c.operation for c in arm.calls] == ["token", "compute.vm.list_all"]
