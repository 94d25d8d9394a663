"""A VM's security context through the gateway and the real azure-core pipeline against the ARM emulator: what it
reads, that a warm cache makes no ARM call, and that a refused, slow or failing part degrades to "unread" while
the others are still shown."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta

import pytest

from jit.azure.gateway import AzureGateway, build_gateway
from jit.azure.security_context import ContextTuning
from jit.clock import ManualClock
from jit.instrumented import InstrumentedAzure
from jit.vm_security import (
    ContextPart,
    DefenderAlert,
    DefenderRecommendation,
    PowerState,
    ReadOutcome,
    SecurityContext,
    SecuritySeverity,
    VmProfile,
    VmRuntime,
)
from sandbox.arm import ArmEmulator
from sandbox.arm_findings import Assessment, SecurityAlert
from sandbox.arm_inventory import Inventory

from .conftest import SUB_A, TEST_TUNING, settings_for

VULN = ("1195afff-c881-495e-9bc5-1486211ae03f", "Machines should have vulnerability findings resolved")
PORTS = ("bc303248-3d14-44c2-96a0-55f5c326b5fe", "Management ports should be closed on your virtual machines")
UPDATES = ("4ab6e3c5-74dd-8b35-9ab9-f61b30875b27", "System updates should be installed on your machines")
SEEN = datetime(2026, 11, 30, 8, 0, tzinfo=UTC)
LOOKUP_RUNTIME_GONE = timedelta(seconds=61)
"""Past the minute a Resource Graph lookup's power state stands in for the instance view."""
CONTEXT_OPERATIONS = (
    "security.assessments.list",
    "security.assessments.get",
    "security.alerts.list_resource_group",
    "compute.vm.instance_view",
)


def add_findings(world: Inventory) -> None:
    """web-01: a high and a medium unhealthy recommendation and a healthy one, an active and a resolved alert;
    api-01 (same resource group): the same medium recommendation and an alert being handled."""
    web, api = world.vm("web-01"), world.vm("api-01")
    world.assessments += [
        Assessment(web.id, PORTS[0], PORTS[1], "Unhealthy", "Medium"),
        Assessment(web.id, VULN[0], VULN[1], "Unhealthy", "High"),
        Assessment(web.id, UPDATES[0], UPDATES[1], "Healthy", "High"),
        Assessment(api.id, PORTS[0], PORTS[1], "Unhealthy", "Medium"),
    ]
    world.alerts += [
        SecurityAlert(web.id, "a1", "Suspicious authentication activity", "Medium", SEEN, "westeurope"),
        SecurityAlert(web.id, "a2", "Suspicious process executed", "High", SEEN, "westeurope", "Resolved"),
        SecurityAlert(api.id, "a3", "Digital currency mining", "High", SEEN, "westeurope", "InProgress"),
    ]


@pytest.fixture
async def gateway(
    arm: ArmEmulator, clock: ManualClock, identity_env: None, world: Inventory
) -> AsyncIterator[AzureGateway]:
    """The gateway as production builds it, with the findings above and the default context budget (1.5 s)."""
    add_findings(world)
    async with build_gateway(
        settings_for(arm), clock, connection_verify=str(arm.ca_file), tuning=TEST_TUNING, context_tuning=ContextTuning()
    ) as gw:
        yield gw


def context_calls(arm: ArmEmulator) -> list[str]:
    return [call.operation for call in arm.calls if call.operation in CONTEXT_OPERATIONS]


async def wait_for(condition: str, check: object) -> None:
    """Wait (at most 20 s) until ``check()`` is true: a read left to finish in the background."""
    assert callable(check)
    for _ in range(400):
        if check():
            return
        await asyncio.sleep(0.05)
    raise AssertionError(f"timed out waiting for {condition}")


async def test_the_whole_context_of_a_vm(gateway: AzureGateway, arm: ArmEmulator, clock: ManualClock) -> None:
    web = await gateway.find_vm("rg-app/web-01")
    clock.advance(LOOKUP_RUNTIME_GONE)
    arm.reset_calls()
    context = await gateway.security_context(web.ref)
    assert context == SecurityContext(
        vm=web.ref,
        read_at=clock.now(),
        recommendations=ContextPart.read(
            (
                DefenderRecommendation(VULN[1], SecuritySeverity.HIGH),
                DefenderRecommendation(PORTS[1], SecuritySeverity.MEDIUM),
            )
        ),
        alerts=ContextPart.read(
            (DefenderAlert("Suspicious authentication activity", SecuritySeverity.MEDIUM, False, SEEN),)
        ),
        runtime=ContextPart.read(VmRuntime(PowerState.RUNNING, "ubuntu", "24.04")),
        profile=ContextPart.read(VmProfile(("20.1.2.3",), "Linux")),
    )
    assert sorted(context_calls(arm)) == sorted(
        [
            "security.assessments.list",
            "security.assessments.get",
            "security.assessments.get",
            "security.alerts.list_resource_group",
            "compute.vm.instance_view",
        ]
    )
    versions = {
        (c.operation, c.query["api-version"], c.query.get("$expand"))
        for c in arm.calls
        if c.operation in CONTEXT_OPERATIONS
    }
    assert versions == {
        ("security.assessments.list", "2021-06-01", None),
        ("security.assessments.get", "2021-06-01", "metadata"),
        ("security.alerts.list_resource_group", "2022-01-01", None),
        ("compute.vm.instance_view", "2024-07-01", None),
    }
    assert context.recommendation_count(SecuritySeverity.HIGH) == 1


async def test_right_after_a_resource_graph_lookup_the_power_state_needs_no_read(
    gateway: AzureGateway, arm: ArmEmulator, clock: ManualClock, world: Inventory
) -> None:
    """Resource Graph's copy of the instance view says what the instance view says: running with the guest
    agent's OS, or deallocated without one; only once the lookup is a minute old is the instance view read."""
    world.vm("api-01").power_state = "deallocated"
    web, api = await gateway.find_vm("rg-app/web-01"), await gateway.find_vm("rg-app/api-01")
    assert "resourcegraph.resources" in {call.operation for call in arm.reads()}
    arm.reset_calls()
    running, stopped = await gateway.security_context(web.ref), await gateway.security_context(api.ref)
    assert "compute.vm.instance_view" not in context_calls(arm)
    assert running.runtime == ContextPart.read(VmRuntime(PowerState.RUNNING, "ubuntu", "24.04"))
    assert stopped.runtime == ContextPart.read(VmRuntime(PowerState.DEALLOCATED))
    clock.advance(LOOKUP_RUNTIME_GONE)
    arm.reset_calls()
    again = await gateway.security_context(web.ref)
    assert context_calls(arm) == ["compute.vm.instance_view"]
    assert again.runtime == running.runtime


async def test_a_warm_cache_makes_no_arm_call(gateway: AzureGateway, arm: ArmEmulator, clock: ManualClock) -> None:
    web = await gateway.find_vm("rg-app/web-01")
    first = await gateway.security_context(web.ref)
    arm.reset_calls()
    clock.advance(timedelta(seconds=50))
    again = await gateway.security_context(web.ref)
    assert arm.calls == []
    assert (again.recommendations, again.alerts, again.runtime, again.profile) == (
        first.recommendations,
        first.alerts,
        first.runtime,
        first.profile,
    )


async def test_each_part_is_kept_as_long_as_it_stays_true(
    gateway: AzureGateway, arm: ArmEmulator, clock: ManualClock, world: Inventory
) -> None:
    """The power state for a minute, recommendations and alerts for five (alerts per resource group), a
    recommendation type's severity for a day."""
    web, api = await gateway.find_vm("rg-app/web-01"), await gateway.find_vm("rg-app/api-01")
    clock.advance(LOOKUP_RUNTIME_GONE)
    await gateway.security_context(web.ref)
    arm.reset_calls()
    other = await gateway.security_context(api.ref)
    assert sorted(context_calls(arm)) == ["compute.vm.instance_view", "security.assessments.list"]
    assert other.alerts == ContextPart.read(
        (DefenderAlert("Digital currency mining", SecuritySeverity.HIGH, True, SEEN),)
    )
    assert other.recommendations == ContextPart.read((DefenderRecommendation(PORTS[1], SecuritySeverity.MEDIUM),))
    world.vm("web-01").power_state = "deallocated"
    clock.advance(timedelta(seconds=61))
    arm.reset_calls()
    stopped = await gateway.security_context(web.ref)
    assert context_calls(arm) == ["compute.vm.instance_view"]
    assert stopped.runtime == ContextPart.read(VmRuntime(PowerState.DEALLOCATED))
    clock.advance(timedelta(minutes=5))
    arm.reset_calls()
    await gateway.security_context(web.ref)
    assert sorted(context_calls(arm)) == [
        "compute.vm.instance_view",
        "security.alerts.list_resource_group",
        "security.assessments.list",
    ]


async def test_a_refused_read_degrades_only_its_part_and_is_remembered_briefly(
    gateway: AzureGateway, arm: ArmEmulator, clock: ManualClock
) -> None:
    web = await gateway.find_vm("rg-app/web-01")
    arm.faults.add("security.assessments.list", status=403)
    context = await gateway.security_context(web.ref)
    assert context.recommendations.outcome is ReadOutcome.REFUSED
    assert context.recommendations.value is None
    assert context.recommendation_count(SecuritySeverity.HIGH) == 0
    assert context.alerts.outcome is context.runtime.outcome is context.profile.outcome is ReadOutcome.READ
    arm.reset_calls()
    clock.advance(timedelta(seconds=20))
    again = await gateway.security_context(web.ref)
    assert again.recommendations.outcome is ReadOutcome.REFUSED
    assert arm.calls == [], "a refusal is not asked again at once"
    clock.advance(timedelta(seconds=11))
    recovered = await gateway.security_context(web.ref)
    assert recovered.recommendations.outcome is ReadOutcome.READ
    assert [c.operation for c in arm.calls if c.operation == "security.assessments.list"] == [
        "security.assessments.list"
    ]


async def test_a_slow_read_is_not_waited_for_and_fills_the_cache_later(gateway: AzureGateway, arm: ArmEmulator) -> None:
    web = await gateway.find_vm("rg-app/web-01")
    arm.faults.add("security.alerts.list_resource_group", delay=4.0)
    context = await gateway.security_context(web.ref)
    assert context.alerts.outcome is ReadOutcome.SLOW
    assert context.alerts.value is None
    assert context.recommendations.outcome is context.runtime.outcome is context.profile.outcome is ReadOutcome.READ
    await wait_for(
        "the alerts read to finish",
        lambda: any(c.operation == "security.alerts.list_resource_group" and c.status == 200 for c in arm.calls),
    )
    arm.reset_calls()
    later = await gateway.security_context(web.ref)
    assert later.alerts.outcome is ReadOutcome.READ
    assert [c.operation for c in arm.calls] == [], "the slow read finished in the background and was kept"


async def test_a_failing_read_is_marked_failed(gateway: AzureGateway, arm: ArmEmulator, clock: ManualClock) -> None:
    web = await gateway.find_vm("rg-app/web-01")
    clock.advance(LOOKUP_RUNTIME_GONE)
    arm.faults.add("compute.vm.instance_view", status=500, times=5)
    context = await gateway.security_context(web.ref)
    assert context.runtime == ContextPart.unread(ReadOutcome.FAILED, "AzureUnavailable 500")
    assert context.recommendations.outcome is ReadOutcome.READ


async def test_a_severity_that_cannot_be_read_leaves_the_recommendation_unknown(
    gateway: AzureGateway, arm: ArmEmulator
) -> None:
    web = await gateway.find_vm("rg-app/web-01")
    arm.faults.add("security.assessments.get", status=403, times=2)
    context = await gateway.security_context(web.ref)
    assert context.recommendations == ContextPart.read(
        (
            DefenderRecommendation(VULN[1], SecuritySeverity.UNKNOWN),
            DefenderRecommendation(PORTS[1], SecuritySeverity.UNKNOWN),
        )
    )


async def test_a_vm_gone_from_azure_loses_its_profile_not_the_card(gateway: AzureGateway, world: Inventory) -> None:
    web = await gateway.find_vm("rg-app/web-01")
    world.vms.remove(world.vm("web-01"))
    gateway.invalidate(SUB_A)
    context = await gateway.security_context(web.ref)
    assert context.profile == ContextPart.unread(ReadOutcome.FAILED, "VmNotFound")
    assert context.runtime == ContextPart.unread(ReadOutcome.FAILED, "AzureNotFound 404")
    assert context.alerts.outcome is ReadOutcome.READ


async def test_instrumented_azure_times_the_read(gateway: AzureGateway) -> None:
    observed: list[tuple[str, BaseException | None]] = []
    azure = InstrumentedAzure(gateway, lambda operation, _seconds, error: observed.append((operation, error)))
    web = await gateway.find_vm("rg-app/web-01")
    context = await azure.security_context(web.ref)
    assert context.vm == web.ref
    assert observed == [("security_context", None)]
