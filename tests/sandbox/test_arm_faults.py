"""Injected faults as the real SDK clients experience them: throttling, server errors, latency, after-commit."""

from __future__ import annotations

import asyncio
import io
import json
import time
from datetime import timedelta

import pytest
from azure.core.exceptions import ClientAuthenticationError, HttpResponseError, ServiceResponseError
from azure.identity.aio import ManagedIdentityCredential

from jit.clock import ManualClock
from sandbox.arm import ArmEmulator
from sandbox.arm_faults import FaultPlan
from sandbox.arm_inventory import Inventory
from tests.sandbox.arm_support import (  # noqa: F401
    LOCATION,
    RG,
    add_policy,
    arm_fixture,
    clock_fixture,
    compute,
    credential_fixture,
    network,
    port,
    rules,
    security,
    vm_entry,
    world_fixture,
)


def statuses(arm: ArmEmulator, operation: str) -> list[int]:
    return [c.status for c in arm.calls if c.operation == operation]


async def test_429_carries_retry_after_and_the_sdk_waits_for_it(
    arm: ArmEmulator, credential: ManagedIdentityCredential
) -> None:
    arm.faults.add("compute.vm.get", status=429, retry_after=0.4)
    async with compute(arm, credential) as client:
        started = time.monotonic()
        vm = await client.virtual_machines.get(RG, "vm1")
        waited = time.monotonic() - started
    assert vm.name == "vm1"
    assert statuses(arm, "compute.vm.get") == [429, 200]
    assert waited >= 0.4


async def test_429_body_is_a_cloud_error_with_the_header(
    arm: ArmEmulator, credential: ManagedIdentityCredential
) -> None:
    arm.faults.add("compute.vm.get", status=429, retry_after=7, times=2)
    async with compute(arm, credential, retry_total=0) as client:
        with pytest.raises(HttpResponseError) as caught:
            await client.virtual_machines.get(RG, "vm1")
    assert caught.value.status_code == 429
    assert caught.value.response is not None
    assert caught.value.response.headers["Retry-After"] == "7"
    assert caught.value.error.code == "TooManyRequests"
    assert len(arm.faults.pending) == 1


async def test_500_is_retried_by_the_sdk_then_succeeds(arm: ArmEmulator, credential: ManagedIdentityCredential) -> None:
    arm.faults.add("network.nic.get", status=500)
    async with network(arm, credential) as net:
        nic = await net.network_interfaces.get(RG, "vm1-nic")
    assert nic.name == "vm1-nic"
    assert statuses(arm, "network.nic.get") == [500, 200]


async def test_persistent_500_surfaces_as_a_cloud_error(
    arm: ArmEmulator, credential: ManagedIdentityCredential
) -> None:
    arm.faults.add("compute.vm.list_all", status=503, times=3)
    async with compute(arm, credential, retry_total=2) as client:
        with pytest.raises(HttpResponseError) as caught:
            [vm async for vm in client.virtual_machines.list_all()]
    assert caught.value.status_code == 503
    assert caught.value.error.code == "ServiceUnavailable"
    assert statuses(arm, "compute.vm.list_all") == [503, 503, 503]
    assert arm.faults.pending == []


async def test_delay_slows_the_answer(arm: ArmEmulator, credential: ManagedIdentityCredential) -> None:
    arm.faults.add("compute.vm.get", delay=0.3)
    async with compute(arm, credential) as client:
        started = time.monotonic()
        await client.virtual_machines.get(RG, "vm1")
        slow = time.monotonic() - started
        started = time.monotonic()
        await client.virtual_machines.get(RG, "vm1")
        fast = time.monotonic() - started
    assert slow >= 0.3 > fast


async def test_a_client_timeout_on_a_delayed_answer(arm: ArmEmulator, credential: ManagedIdentityCredential) -> None:
    arm.faults.add("compute.vm.get", delay=0.5)
    async with compute(arm, credential, retry_total=0, read_timeout=0.1) as client:
        with pytest.raises(ServiceResponseError):
            await client.virtual_machines.get(RG, "vm1")
    assert statuses(arm, "compute.vm.get") == []
    for _ in range(100):
        if arm.calls[-1].operation == "compute.vm.get":
            break
        await asyncio.sleep(0.02)
    assert statuses(arm, "compute.vm.get") == [200]


async def test_after_commit_fault_changes_azure_but_fails_the_caller(
    arm: ArmEmulator, credential: ManagedIdentityCredential, world: Inventory, clock: ManualClock
) -> None:
    vm1 = world.vm("vm1")
    add_policy(world, vm_entry(vm1, port(22)))
    arm.faults.add("jit.initiate", status=500, after_commit=True)
    body = {
        "virtualMachines": [
            {
                "id": vm1.id,
                "ports": [
                    {
                        "number": 22,
                        "endTimeUtc": (clock.now() + timedelta(hours=1)).isoformat(),
                        "allowedSourceAddressPrefix": "203.0.113.5",
                    }
                ],
            }
        ]
    }
    async with security(arm, credential, retry_total=0) as client:
        with pytest.raises(HttpResponseError) as caught:
            await client.jit_network_access_policies.initiate(
                RG, LOCATION, "default", io.BytesIO(json.dumps(body).encode())
            )
    assert caught.value.status_code == 500
    assert len(world.policies[0].requests) == 1
    assert [r["properties"]["access"] for r in rules(world)] == ["Allow"]
    assert [(c.operation, c.status) for c in arm.writes()] == [("jit.initiate", 500)]


async def test_after_commit_delay_answers_late_but_the_change_is_already_there(
    arm: ArmEmulator, credential: ManagedIdentityCredential, world: Inventory
) -> None:
    vm1 = world.vm("vm1")
    add_policy(world, vm_entry(vm1, port(22)))
    arm.faults.add("jit.put", delay=0.5, after_commit=True)
    body = {"properties": {"virtualMachines": [vm_entry(vm1, port(22), port(3389))]}}
    async with security(arm, credential, retry_total=0) as client:
        call = asyncio.ensure_future(
            client.jit_network_access_policies.create_or_update(
                RG, LOCATION, "default", io.BytesIO(json.dumps(body).encode())
            )
        )
        await asyncio.sleep(0.25)
        assert len(world.policies[0].virtual_machines[0]["ports"]) == 2
        assert not call.done()
        answer = await call
    assert len(answer.virtual_machines[0].ports) == 2


async def test_token_endpoint_faults(arm: ArmEmulator, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("IDENTITY_ENDPOINT", arm.identity_endpoint)
    monkeypatch.setenv("IDENTITY_HEADER", arm.tokens.header_secret)
    arm.faults.add("token", status=400, times=1)
    async with ManagedIdentityCredential() as credential:
        with pytest.raises(ClientAuthenticationError):
            await credential.get_token("https://management.azure.com/.default")
        token = await credential.get_token("https://management.azure.com/.default")
    assert token.token
    assert statuses(arm, "token") == [400, 200]


def test_fault_plan_validates_and_consumes_in_order() -> None:
    plan = FaultPlan()
    with pytest.raises(ValueError, match="times"):
        plan.add("jit.get", status=500, times=0)
    with pytest.raises(ValueError, match="HTTP error"):
        plan.add("jit.get", status=200)
    first = plan.add("jit.get", status=500, times=2)
    second = plan.add("jit.get", delay=0.1)
    assert [plan.take("jit.get"), plan.take("jit.put"), plan.take("jit.get"), plan.take("jit.get")] == [
        first,
        None,
        first,
        second,
    ]
    assert plan.take("jit.get") is None
