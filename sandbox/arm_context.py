"""The emulator's answers about a VM's security context: Defender for Cloud assessments and security alerts, and
the VM's instance view (its power state and the OS its guest agent reports).

Shapes follow the vendored swaggers and examples (``sandbox/specs``): assessments.json and
ListAssessments_example.json (2021-06-01), alerts.json and GetAlertsResourceGroup_example.json (2022-01-01),
VirtualMachine_Get_InstanceView.json (compute 2024-07-01). What they leave open is modelled as Azure does it:
``Assessments_List`` takes no ``$expand`` (only ``Assessments_Get`` does, with ``links`` or ``metadata``); an
alert is stored under the resource group of the resource it is about, which it names in
``resourceIdentifiers``; a VM that is not running has no guest agent, so its instance view has no OS name.
"""

from __future__ import annotations

import uuid
from typing import Any

from sandbox.arm_findings import Assessment, SecurityAlert
from sandbox.arm_inventory import Inventory, VirtualMachine
from sandbox.arm_jit import azure_time

ASSESSMENT_VERSIONS = ("2019-01-01-preview", "2020-01-01", "2021-06-01", "2025-05-04")
ALERT_VERSIONS = ("2019-01-01", "2020-01-01", "2021-01-01", "2022-01-01")
ASSESSMENT_EXPANDS = ("links", "metadata")
PORTAL = "https://portal.azure.com/#blade/Microsoft_Azure_Security"
_NAMESPACE = uuid.UUID("8a4d2f61-3c7e-4b0a-9e55-1f2d3c4b5a69")
_BOOTED = "2026-01-05T10:00:00+00:00"
_RUNNING = "running"


def _uuid(*parts: str) -> str:
    return str(uuid.uuid5(_NAMESPACE, "|".join(p.lower() for p in parts)))


def _under(resource_id: str, scope: str) -> bool:
    resource, wanted = resource_id.lower().rstrip("/"), scope.lower().rstrip("/")
    return resource == wanted or resource.startswith(wanted + "/")


def _segment(resource_id: str, name: str) -> str:
    parts = resource_id.strip("/").split("/")
    lowered = [p.lower() for p in parts]
    return parts[lowered.index(name) + 1] if name in lowered[:-1] else ""


# --- Assessments -------------------------------------------------------------------------------------------


def assessments_under(inventory: Inventory, scope: str) -> list[Assessment]:
    """The assessments on resources inside ``scope`` (a subscription, resource group or resource id)."""
    return [a for a in inventory.assessments if _under(a.resource_id, scope)]


def assessment_on(inventory: Inventory, resource_id: str, key: str) -> Assessment | None:
    """The assessment of type ``key`` on that resource, if Defender has one."""
    return next(
        (
            a
            for a in inventory.assessments
            if a.resource_id.lower() == resource_id.lower() and a.key.lower() == key.lower()
        ),
        None,
    )


def assessment_json(assessment: Assessment, expand: str | None = None) -> dict[str, Any]:
    """One ``SecurityAssessmentResponse``; ``expand`` (``links`` or ``metadata``) adds that block, as Get does."""
    status: dict[str, Any] = {"code": assessment.status}
    if assessment.cause:
        status["cause"] = assessment.cause
    if assessment.since is not None:
        status["firstEvaluationDate"] = azure_time(assessment.since)
        status["statusChangeDate"] = azure_time(assessment.since)
    properties: dict[str, Any] = {
        "resourceDetails": {"source": "Azure", "id": assessment.resource_id},
        "displayName": assessment.display_name,
        "status": status,
    }
    if expand == "links":
        properties["links"] = {"azurePortalUri": f"{PORTAL}/RecommendationsBlade/assessmentKey/{assessment.key}"}
    if expand == "metadata":
        properties["metadata"] = _metadata(assessment)
    return {
        "id": f"{assessment.resource_id}/providers/Microsoft.Security/assessments/{assessment.key}",
        "name": assessment.key,
        "type": "Microsoft.Security/assessments",
        "properties": properties,
    }


def _metadata(assessment: Assessment) -> dict[str, Any]:
    """The assessment type's ``SecurityAssessmentMetadataProperties``, like GetAssessmentsMetadata_example.json."""
    metadata: dict[str, Any] = {
        "displayName": assessment.display_name,
        "policyDefinitionId": f"/providers/Microsoft.Authorization/policyDefinitions/{_uuid('policy', assessment.key)}",
    }
    if assessment.description:
        metadata["description"] = assessment.description
    if assessment.remediation:
        metadata["remediationDescription"] = assessment.remediation
    metadata["categories"] = list(assessment.categories)
    metadata["severity"] = assessment.severity
    metadata["userImpact"] = assessment.user_impact
    metadata["implementationEffort"] = assessment.implementation_effort
    if assessment.threats:
        metadata["threats"] = list(assessment.threats)
    metadata["assessmentType"] = "BuiltIn"
    return metadata


# --- Alerts ------------------------------------------------------------------------------------------------


def alerts_in(inventory: Inventory, subscription_id: str, resource_group: str | None = None) -> list[SecurityAlert]:
    """The alerts stored in a subscription, or in one of its resource groups (where the alerted resource is)."""
    scope = f"/subscriptions/{subscription_id}"
    if resource_group is not None:
        scope += f"/resourceGroups/{resource_group}"
    return [alert for alert in inventory.alerts if _under(alert.resource_id, scope)]


def alert_json(alert: SecurityAlert) -> dict[str, Any]:
    """One ``Alert`` like GetAlertsResourceGroup_example.json, about ``alert.resource_id``."""
    subscription = _segment(alert.resource_id, "subscriptions")
    group = _segment(alert.resource_id, "resourcegroups")
    location = alert.location.lower()
    started = azure_time(alert.start)
    portal = (
        f"{PORTAL}/AlertBlade/alertId/{alert.name}/subscriptionId/{subscription}/resourceGroup/{group}"
        f"/referencedFrom/alertDeepLink/location/{location}"
    )
    return {
        "id": (
            f"/subscriptions/{subscription}/resourceGroups/{group}/providers/Microsoft.Security/locations/{location}"
            f"/alerts/{alert.name}"
        ),
        "name": alert.name,
        "type": "Microsoft.Security/Locations/alerts",
        "properties": {
            "version": "2022-01-01",
            "alertType": alert.alert_type,
            "systemAlertId": alert.name,
            "productComponentName": "Servers",
            "alertDisplayName": alert.display_name,
            "description": alert.description or alert.display_name,
            "severity": alert.severity,
            "intent": alert.intent,
            "startTimeUtc": started,
            "endTimeUtc": started,
            "resourceIdentifiers": [{"azureResourceId": alert.resource_id, "type": "AzureResource"}],
            "remediationSteps": list(alert.remediation_steps),
            "vendorName": "Microsoft",
            "status": alert.status,
            "extendedLinks": [],
            "alertUri": portal,
            "timeGeneratedUtc": started,
            "productName": "Microsoft Defender for Cloud",
            "processingEndTimeUtc": started,
            "entities": [],
            "isIncident": False,
            "correlationKey": _uuid("correlation", alert.name),
            "extendedProperties": {},
            "compromisedEntity": alert.resource_id.rstrip("/").rsplit("/", 1)[-1],
            "techniques": [],
            "subTechniques": [],
        },
    }


# --- Instance view -----------------------------------------------------------------------------------------


def _os(vm: VirtualMachine) -> tuple[str, str]:
    if vm.os_type.lower() == "windows":
        return "Windows Server 2022 Datacenter Azure Edition", "Microsoft Windows NT 10.0.20348.0"
    return "ubuntu", "24.04"


def graph_instance_view(vm: VirtualMachine) -> dict[str, Any]:
    """Resource Graph's copy of the instance view on a VM's ``Resources`` row (``properties.extended.instanceView``):
    computer name, OS name and version while the VM runs, Hyper-V generation, and the power state as one status —
    the paths public Resource Graph queries read (e.g. ``tostring(properties.extended.instanceView.powerState.code)``
    in the AzureVMPowerManagement module on the PowerShell Gallery, ``osName``/``osVersion`` beside it)."""
    view = instance_view(vm)
    power = next(status for status in view["statuses"] if str(status["code"]).startswith("PowerState/"))
    kept = ("computerName", "osName", "osVersion", "hyperVGeneration")
    copied: dict[str, Any] = {key: view[key] for key in kept if key in view}
    return {**copied, "powerState": power}


def instance_view(vm: VirtualMachine) -> dict[str, Any]:
    """The VM's ``VirtualMachineInstanceView`` like VirtualMachine_Get_InstanceView.json: provisioning and power
    state always; the guest agent's computer name, OS and status only while the VM runs."""
    state = vm.power_state.lower()
    succeeded = {"code": "ProvisioningState/succeeded", "level": "Info"}
    view: dict[str, Any] = {}
    if state == _RUNNING:
        os_name, os_version = _os(vm)
        view.update(
            {
                "computerName": vm.name[:15],
                "osName": os_name,
                "osVersion": os_version,
                "vmAgent": {
                    "vmAgentVersion": "2.12.0.2",
                    "statuses": [
                        {
                            **succeeded,
                            "displayStatus": "Ready",
                            "message": "GuestAgent is running and processing the extensions.",
                            "time": _BOOTED,
                        }
                    ],
                },
            }
        )
    view["disks"] = [
        {
            "name": f"{vm.name}_OsDisk_1",
            "statuses": [{**succeeded, "displayStatus": "Provisioning succeeded", "time": _BOOTED}],
        }
    ]
    view["hyperVGeneration"] = "V2"
    view["statuses"] = [
        {**succeeded, "displayStatus": "Provisioning succeeded", "time": _BOOTED},
        {"code": f"PowerState/{state}", "level": "Info", "displayStatus": f"VM {state}"},
    ]
    return view
