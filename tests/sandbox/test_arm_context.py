"""A VM's security context through the real SDK clients: Defender assessments (list, get with ``$expand``), security
alerts by resource group and subscription, the VM instance view; answers validated against the vendored swaggers
and examples, paging, scopes, and injected faults."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest
from azure.core.exceptions import HttpResponseError
from azure.identity.aio import ManagedIdentityCredential

from sandbox.arm import ArmEmulator
from sandbox.arm_context import alert_json, assessment_json
from sandbox.arm_demo import demo_inventory
from sandbox.arm_findings import Assessment, SecurityAlert
from sandbox.arm_inventory import Inventory
from sandbox.arm_schema import ALERTS_SWAGGER, ASSESSMENT_METADATA_SWAGGER, ASSESSMENTS_SWAGGER, problems
from sandbox.defender_demo import MANAGEMENT_PORTS, SUSPICIOUS_LOGON, VULNERABILITIES
from tests.sandbox.arm_support import (  # noqa: F401
    FREE_SUB,
    RG,
    SPECS,
    SUB,
    arm_fixture,
    clock_fixture,
    compute,
    credential_fixture,
    example,
    raw,
    security,
    token_for,
    world_fixture,
)

ASSESSMENT_EXAMPLES = SPECS / "security/Microsoft.Security/stable/2021-06-01/examples"
ALERT_EXAMPLES = SPECS / "security/Microsoft.Security/stable/2022-01-01/examples/Alerts"
INSTANCE_VIEW_EXAMPLE = (
    SPECS / "compute/Microsoft.Compute/ComputeRP/stable/2024-07-01/examples/virtualMachineExamples"
    "/VirtualMachine_Get_InstanceView.json"
)
PORTS_KEY = "bc303248-3d14-44c2-96a0-55f5c326b5fe"
VULN_KEY = "1195afff-c881-495e-9bc5-1486211ae03f"
UPDATES_KEY = "4ab6e3c5-74dd-8b35-9ab9-f61b30875b27"
STARTED = datetime(2026, 11, 30, 8, 0, tzinfo=UTC)


def add_findings(world: Inventory) -> None:
    """vm1: two unhealthy (high, medium) and a healthy assessment, an active and a resolved alert; vm2: one
    unhealthy assessment and an alert in progress; east1 (another resource group): an active alert."""
    vm1, vm2, east = world.vm("vm1"), world.vm("vm2"), world.vm("east1")
    world.assessments += [
        Assessment(vm1.id, VULN_KEY, VULNERABILITIES, "Unhealthy", "High", since=STARTED),
        Assessment(vm1.id, PORTS_KEY, MANAGEMENT_PORTS, "Unhealthy", "Medium", threats=["dataExfiltration"]),
        Assessment(vm1.id, UPDATES_KEY, "System updates should be installed on your machines", "Healthy", "High"),
        Assessment(vm2.id, PORTS_KEY, MANAGEMENT_PORTS, "Unhealthy", "Medium"),
    ]
    world.alerts += [
        SecurityAlert(vm1.id, "2518_a1", SUSPICIOUS_LOGON, "Medium", STARTED, "westeurope"),
        SecurityAlert(vm1.id, "2518_a2", "Suspicious process executed", "High", STARTED, "westeurope", "Resolved"),
        SecurityAlert(vm2.id, "2518_a3", "Digital currency mining", "High", STARTED, "westeurope", "InProgress"),
        SecurityAlert(east.id, "2518_a4", SUSPICIOUS_LOGON, "Low", STARTED, "eastus"),
    ]


def scope(resource_id: str) -> str:
    """The SDK's ``scope``/``resource_id`` arguments take ids without the leading slash, as the examples show."""
    return resource_id.lstrip("/")


# --- the vendored specs --------------------------------------------------------------------------------------


def test_the_official_examples_are_valid_for_the_swaggers_we_validate_against() -> None:
    listed = example(ASSESSMENT_EXAMPLES / "Assessments/ListAssessments_example.json")["responses"]["200"]["body"]
    expanded = example(ASSESSMENT_EXAMPLES / "Assessments/GetAssessmentWithExpand_example.json")
    metadata = example(ASSESSMENT_EXAMPLES / "AssessmentsMetadata/GetAssessmentsMetadata_example.json")
    alerts = example(ALERT_EXAMPLES / "GetAlertsResourceGroup_example.json")["responses"]["200"]["body"]
    assert problems(ASSESSMENTS_SWAGGER, "SecurityAssessmentList", listed) == []
    assert problems(ASSESSMENTS_SWAGGER, "SecurityAssessmentResponse", expanded["responses"]["200"]["body"]) == []
    assert (
        problems(
            ASSESSMENT_METADATA_SWAGGER, "SecurityAssessmentMetadataResponse", metadata["responses"]["200"]["body"]
        )
        == []
    )
    loose = [line.split(":")[0] for line in problems(ALERTS_SWAGGER, "AlertList", alerts)]
    assert loose == [
        "value[0].properties.entities[0].address",
        "value[0].properties.supportingEvidence.supportingEvidenceList",
    ], "only the free-form bags, whose additionalProperties {'type': 'object'} AutoRest reads as any value"


def test_the_validator_refuses_what_the_swaggers_refuse() -> None:
    vm_id = f"/subscriptions/{SUB}/resourceGroups/{RG}/providers/Microsoft.Compute/virtualMachines/vm1"
    body = assessment_json(Assessment(vm_id, PORTS_KEY, MANAGEMENT_PORTS, "Broken", "Severe"), "metadata")
    assert {line.split(":")[0] for line in problems(ASSESSMENTS_SWAGGER, "SecurityAssessmentResponse", body)} == {
        "properties.metadata.severity",
        "properties.status.code",
    }
    alert = alert_json(SecurityAlert(vm_id, "x", "y", "Critical", STARTED, "westeurope", "Open"))
    assert len(problems(ALERTS_SWAGGER, "Alert", alert)) == 2


# --- assessments ----------------------------------------------------------------------------------------------


async def test_a_vms_assessments_through_the_sdk(
    arm: ArmEmulator, credential: ManagedIdentityCredential, world: Inventory
) -> None:
    add_findings(world)
    vm1 = world.vm("vm1")
    async with security(arm, credential) as client:
        found = [a async for a in client.assessments.list(scope(vm1.id))]
    assert [(a.name, a.display_name, a.status.code) for a in found] == [
        (VULN_KEY, VULNERABILITIES, "Unhealthy"),
        (PORTS_KEY, MANAGEMENT_PORTS, "Unhealthy"),
        (UPDATES_KEY, "System updates should be installed on your machines", "Healthy"),
    ]
    assert all(a.resource_details.id == vm1.id for a in found)
    assert all(a.metadata is None for a in found), "the list takes no $expand"
    assert [c.query["api-version"] for c in arm.calls if c.operation == "security.assessments.list"] == ["2021-06-01"]


async def test_assessment_lists_validate_and_honour_their_scope(
    arm: ArmEmulator, credential: ManagedIdentityCredential, world: Inventory
) -> None:
    add_findings(world)
    token = await token_for(credential)
    vm1 = world.vm("vm1")
    path = "/providers/Microsoft.Security/assessments"
    status, on_vm, _ = await raw(arm, "GET", vm1.id + path, token=token, api_version="2021-06-01")
    assert status == 200
    assert problems(ASSESSMENTS_SWAGGER, "SecurityAssessmentList", on_vm) == []
    group = f"/subscriptions/{SUB}/resourceGroups/{RG}"
    _, in_group, _ = await raw(arm, "GET", group + path, token=token, api_version="2021-06-01")
    _, in_sub, _ = await raw(arm, "GET", f"/subscriptions/{SUB}" + path, token=token, api_version="2021-06-01")
    assert (len(on_vm["value"]), len(in_group["value"]), len(in_sub["value"])) == (3, 4, 4)
    status, gone, _ = await raw(
        arm,
        "GET",
        group + "/providers/Microsoft.Compute/virtualMachines/nope" + path,
        token=token,
        api_version="2021-06-01",
    )
    assert (status, gone["error"]["code"]) == (404, "ResourceNotFound")
    status, _, _ = await raw(
        arm, "GET", f"/subscriptions/{SUB}/resourceGroups/rg-nope" + path, token=token, api_version="2021-06-01"
    )
    assert status == 404
    status, _, _ = await raw(arm, "GET", vm1.id + path, token=token, api_version="2020-01-02")
    assert status == 400


async def test_get_expands_metadata_with_the_severity(
    arm: ArmEmulator, credential: ManagedIdentityCredential, world: Inventory
) -> None:
    add_findings(world)
    vm1 = world.vm("vm1")
    async with security(arm, credential) as client:
        plain = await client.assessments.get(scope(vm1.id), PORTS_KEY)
        expanded = await client.assessments.get(scope(vm1.id), PORTS_KEY, expand="metadata")
        linked = await client.assessments.get(scope(vm1.id), PORTS_KEY, expand="links")
        with pytest.raises(HttpResponseError) as missing:
            await client.assessments.get(scope(vm1.id), "00000000-0000-0000-0000-000000000000")
    assert plain.metadata is None
    assert (expanded.metadata.severity, expanded.metadata.display_name) == ("Medium", MANAGEMENT_PORTS)
    assert expanded.metadata.threats == ["dataExfiltration"]
    assert linked.metadata is None
    assert linked.links.azure_portal_uri.endswith(PORTS_KEY)
    assert missing.value.status_code == 404
    token = await token_for(credential)
    path = f"{vm1.id}/providers/Microsoft.Security/assessments/{VULN_KEY}?$expand=metadata"
    status, body, _ = await raw(arm, "GET", path, token=token, api_version="2021-06-01")
    assert status == 200
    assert problems(ASSESSMENTS_SWAGGER, "SecurityAssessmentResponse", body) == []
    assert body["properties"]["status"]["statusChangeDate"] == "2026-11-30T08:00:00.0000000Z"
    status, refused, _ = await raw(
        arm, "GET", path.replace("metadata", "everything"), token=token, api_version="2021-06-01"
    )
    assert (status, refused["error"]["code"]) == (400, "InvalidExpand")


# --- alerts ---------------------------------------------------------------------------------------------------


async def test_alerts_of_a_resource_group_through_the_sdk(
    arm: ArmEmulator, credential: ManagedIdentityCredential, world: Inventory
) -> None:
    add_findings(world)
    async with security(arm, credential) as client:
        in_group = [a async for a in client.alerts.list_by_resource_group(RG)]
        everywhere = [a async for a in client.alerts.list()]
    assert [(a.alert_display_name, a.severity, a.status) for a in in_group] == [
        (SUSPICIOUS_LOGON, "Medium", "Active"),
        ("Suspicious process executed", "High", "Resolved"),
        ("Digital currency mining", "High", "InProgress"),
    ]
    assert [a.resource_identifiers[0].azure_resource_id for a in in_group] == [
        world.vm("vm1").id,
        world.vm("vm1").id,
        world.vm("vm2").id,
    ]
    assert in_group[0].compromised_entity == "vm1"
    assert in_group[0].id.startswith(
        f"/subscriptions/{SUB}/resourceGroups/{RG}/providers/Microsoft.Security/locations/"
    )
    assert len(everywhere) == 4
    versions = {c.query["api-version"] for c in arm.calls if c.operation.startswith("security.alerts")}
    assert versions == {"2022-01-01"}


async def test_alert_lists_validate_against_the_swagger(
    arm: ArmEmulator, credential: ManagedIdentityCredential, world: Inventory
) -> None:
    add_findings(world)
    token = await token_for(credential)
    status, body, _ = await raw(
        arm,
        "GET",
        f"/subscriptions/{SUB}/resourceGroups/{RG}/providers/Microsoft.Security/alerts",
        token=token,
        api_version="2022-01-01",
    )
    assert status == 200
    assert problems(ALERTS_SWAGGER, "AlertList", body) == []
    official = example(ALERT_EXAMPLES / "GetAlertsResourceGroup_example.json")["responses"]["200"]["body"]["value"][0]
    assert set(body["value"][0]["properties"]) == set(official["properties"]) - {"supportingEvidence"}
    status, empty, _ = await raw(
        arm,
        "GET",
        f"/subscriptions/{FREE_SUB}/providers/Microsoft.Security/alerts",
        token=token,
        api_version="2022-01-01",
    )
    assert (status, empty) == (200, {"value": []})


async def test_long_lists_page_with_next_link(
    arm: ArmEmulator, credential: ManagedIdentityCredential, world: Inventory
) -> None:
    add_findings(world)
    arm.page_size = 1
    async with security(arm, credential) as client:
        assessments = [a.name async for a in client.assessments.list(scope(world.vm("vm1").id))]
        alerts = [a.name async for a in client.alerts.list_by_resource_group(RG)]
    assert assessments == [VULN_KEY, PORTS_KEY, UPDATES_KEY]
    assert alerts == ["2518_a1", "2518_a2", "2518_a3"]
    assert len([c for c in arm.calls if c.operation == "security.alerts.list_resource_group"]) == 3


# --- instance view --------------------------------------------------------------------------------------------


async def test_instance_view_reports_power_state_and_os(
    arm: ArmEmulator, credential: ManagedIdentityCredential, world: Inventory
) -> None:
    world.vm("vm2").power_state = "deallocated"
    async with compute(arm, credential) as client:
        running = await client.virtual_machines.instance_view(RG, "vm1")
        stopped = await client.virtual_machines.instance_view(RG, "vm2")
    assert [s.code for s in running.statuses] == ["ProvisioningState/succeeded", "PowerState/running"]
    assert (running.os_name, running.os_version, running.computer_name) == ("ubuntu", "24.04", "vm1")
    assert [s.code for s in stopped.statuses] == ["ProvisioningState/succeeded", "PowerState/deallocated"]
    assert stopped.statuses[1].display_status == "VM deallocated"
    assert (stopped.os_name, stopped.vm_agent) == (None, None), "no guest agent reports while deallocated"


async def test_instance_view_has_the_official_examples_shape(
    arm: ArmEmulator, credential: ManagedIdentityCredential, world: Inventory
) -> None:
    token = await token_for(credential)
    status, body, _ = await raw(arm, "GET", world.vm("vm2").id + "/instanceView", token=token, api_version="2024-07-01")
    official = example(INSTANCE_VIEW_EXAMPLE)["responses"]["200"]["body"]
    assert status == 200
    assert set(body) <= set(official)
    assert {"statuses", "osName", "vmAgent", "disks"} <= set(body)
    assert {k for status_entry in body["statuses"] for k in status_entry} <= {
        k for status_entry in official["statuses"] for k in status_entry
    }
    assert body["osName"].startswith("Windows Server")
    status, missing, _ = await raw(
        arm, "GET", world.vm("vm2").id.replace("vm2", "nope") + "/instanceView", token=token, api_version="2024-07-01"
    )
    assert (status, missing["error"]["code"]) == (404, "ResourceNotFound")


# --- faults ---------------------------------------------------------------------------------------------------

FAULTY: list[tuple[str, str, dict[str, Any]]] = [
    ("security.assessments.list", "/providers/Microsoft.Security/assessments", {"api_version": "2021-06-01"}),
    (
        "security.assessments.get",
        f"/providers/Microsoft.Security/assessments/{PORTS_KEY}",
        {"api_version": "2021-06-01"},
    ),
    ("compute.vm.instance_view", "/instanceView", {"api_version": "2024-07-01"}),
]


@pytest.mark.parametrize(("operation", "suffix", "options"), FAULTY)
async def test_faults_refuse_or_delay_each_read(
    arm: ArmEmulator,
    credential: ManagedIdentityCredential,
    world: Inventory,
    operation: str,
    suffix: str,
    options: dict[str, Any],
) -> None:
    add_findings(world)
    token = await token_for(credential)
    path = world.vm("vm1").id + suffix
    arm.faults.add(operation, status=403)
    status, refused, _ = await raw(arm, "GET", path, token=token, **options)
    assert (status, refused["error"]["code"]) == (403, "AuthorizationFailed")
    status, _, _ = await raw(arm, "GET", path, token=token, **options)
    assert status == 200
    arm.faults.add(operation, delay=0.2)
    status, _, _ = await raw(arm, "GET", path, token=token, **options)
    assert status == 200
    assert [c.status for c in arm.calls if c.operation == operation] == [403, 200, 200]


async def test_alert_faults_reach_the_sdk(
    arm: ArmEmulator, credential: ManagedIdentityCredential, world: Inventory
) -> None:
    add_findings(world)
    arm.faults.add("security.alerts.list_resource_group", status=403)
    async with security(arm, credential, retry_total=0) as client:
        with pytest.raises(HttpResponseError) as refused:
            [a async for a in client.alerts.list_by_resource_group(RG)]
    assert refused.value.status_code == 403
    assert refused.value.error.code == "AuthorizationFailed"


# --- the demo world -------------------------------------------------------------------------------------------


def test_the_demo_world_has_something_to_show() -> None:
    world = demo_inventory(datetime(2026, 12, 1, tzinfo=UTC))
    web = world.vm("web-01")
    unhealthy = [
        (a.display_name, a.severity) for a in world.assessments if a.resource_id == web.id and a.status == "Unhealthy"
    ]
    assert unhealthy == [(VULNERABILITIES, "High"), (MANAGEMENT_PORTS, "Medium")]
    assert any(a.resource_id == web.id and a.status == "Healthy" for a in world.assessments)
    active = [a.display_name for a in world.alerts if a.status == "Active"]
    assert (active, world.alerts[0].resource_id) == ([SUSPICIOUS_LOGON], world.vm("bastion-win").id)
    assert [vm.name for vm in world.vms if vm.power_state != "running"] == ["web-02"]
    for assessment in world.assessments:
        assert (
            problems(ASSESSMENTS_SWAGGER, "SecurityAssessmentResponse", assessment_json(assessment, "metadata")) == []
        )
    assert problems(ALERTS_SWAGGER, "AlertList", {"value": [alert_json(a) for a in world.alerts]}) == []
