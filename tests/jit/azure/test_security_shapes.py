"""Reading Azure's assessment, alert and instance view JSON: what counts, in which order, and what odd answers
become (never an exception)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest

from jit.azure.security_shapes import (
    assessment_severity,
    open_alerts_by_resource,
    recommendations,
    runtime,
    severity,
    unhealthy_assessments,
)
from jit.vm_security import DefenderAlert, DefenderRecommendation, PowerState, SecuritySeverity, VmRuntime

VM = "/subscriptions/s/resourceGroups/rg/providers/Microsoft.Compute/virtualMachines/web-01"
OTHER = "/subscriptions/s/resourceGroups/rg/providers/Microsoft.Compute/virtualMachines/web-02"


def assessment(key: str, title: str, code: Any) -> dict[str, Any]:
    return {"name": key, "properties": {"displayName": title, "status": {"code": code}}}


def alert(
    status: str, severity_word: str, *resources: str, started: str = "2026-11-30T08:00:00.0000000Z"
) -> dict[str, Any]:
    return {
        "properties": {
            "alertDisplayName": f"{severity_word} {status}",
            "severity": severity_word,
            "status": status,
            "startTimeUtc": started,
            "compromisedEntity": "web-01",
            "resourceIdentifiers": [{"type": "AzureResource", "azureResourceId": r} for r in resources]
            + [{"type": "LogAnalytics", "workspaceId": "w"}],
        }
    }


def test_only_unhealthy_assessments_are_recommendations() -> None:
    found = unhealthy_assessments(
        [
            assessment("K1", "Close ports", "Unhealthy"),
            assessment("k2", "Patch", "Healthy"),
            assessment("k3", "Endpoint", "NotApplicable"),
            assessment("k4", "", "unhealthy"),
            assessment("", "No key", "Unhealthy"),
            {"name": "k5", "properties": {"status": "Unhealthy"}},
            {"name": "k6"},
        ]
    )
    assert found == {"k1": "Close ports", "k4": "k4"}


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        ({"properties": {"metadata": {"severity": "High"}}}, SecuritySeverity.HIGH),
        ({"properties": {"metadata": {"severity": "low"}}}, SecuritySeverity.LOW),
        ({"properties": {"metadata": {"severity": "Critical"}}}, SecuritySeverity.UNKNOWN),
        ({"properties": {"metadata": {}}}, SecuritySeverity.UNKNOWN),
        ({"properties": {}}, SecuritySeverity.UNKNOWN),
        ({}, SecuritySeverity.UNKNOWN),
    ],
)
def test_the_severity_is_the_metadatas(body: dict[str, Any], expected: SecuritySeverity) -> None:
    assert assessment_severity(body) is expected


def test_recommendations_are_most_severe_first_then_by_title() -> None:
    unhealthy = {"a": "zeta", "b": "Alpha", "c": "beta", "d": "unknown one"}
    severities = {"a": SecuritySeverity.HIGH, "b": SecuritySeverity.MEDIUM, "c": SecuritySeverity.MEDIUM}
    assert recommendations(unhealthy, severities) == (
        DefenderRecommendation("zeta", SecuritySeverity.HIGH),
        DefenderRecommendation("Alpha", SecuritySeverity.MEDIUM),
        DefenderRecommendation("beta", SecuritySeverity.MEDIUM),
        DefenderRecommendation("unknown one", SecuritySeverity.UNKNOWN),
    )


def test_open_alerts_are_grouped_by_the_resource_they_name() -> None:
    found = open_alerts_by_resource(
        [
            alert("Active", "Low", VM, started="2026-11-30T09:00:00Z"),
            alert("Active", "Low", VM.upper(), started="2026-11-30T10:00:00Z"),
            alert("InProgress", "High", VM, OTHER),
            alert("Resolved", "High", VM),
            alert("Dismissed", "High", VM),
            alert("Active", "Informational"),
        ]
    )
    assert set(found) == {VM.lower(), OTHER.lower()}
    assert [(a.title, a.severity, a.in_progress) for a in found[VM.lower()]] == [
        ("High InProgress", SecuritySeverity.HIGH, True),
        ("Low Active", SecuritySeverity.LOW, False),
        ("Low Active", SecuritySeverity.LOW, False),
    ]
    assert [a.since for a in found[VM.lower()][1:]] == [
        datetime(2026, 11, 30, 10, tzinfo=UTC),
        datetime(2026, 11, 30, 9, tzinfo=UTC),
    ]
    assert found[OTHER.lower()] == found[VM.lower()][:1]


def test_an_alert_naming_no_azure_resource_is_nobodys() -> None:
    odd: list[dict[str, Any]] = [
        {"properties": {"status": "Active", "compromisedEntity": "web-01"}},
        {"properties": {"status": "Active", "resourceIdentifiers": "not a list"}},
        {"properties": {"status": "Active", "resourceIdentifiers": [{"type": "AzureResource"}, "x"]}},
        {
            "properties": {
                "status": "Active",
                "severity": 3,
                "startTimeUtc": "yesterday",
                "resourceIdentifiers": [{"type": "azureresource", "azureResourceId": VM + "/"}],
            }
        },
    ]
    assert open_alerts_by_resource(odd) == {VM.lower(): (DefenderAlert("Security alert", SecuritySeverity.UNKNOWN),)}


@pytest.mark.parametrize(
    ("statuses", "power"),
    [
        ([{"code": "ProvisioningState/succeeded"}, {"code": "PowerState/running"}], PowerState.RUNNING),
        ([{"code": "PowerState/Deallocated"}], PowerState.DEALLOCATED),
        ([{"code": "PowerState/stopped"}], PowerState.STOPPED),
        ([{"code": "PowerState/hibernated"}], PowerState.UNKNOWN),
        ([{"code": "ProvisioningState/updating"}], PowerState.UNKNOWN),
        (["odd", None], PowerState.UNKNOWN),
        (None, PowerState.UNKNOWN),
    ],
)
def test_the_power_state_is_the_power_state_status(statuses: Any, power: PowerState) -> None:
    assert runtime({"statuses": statuses}) == VmRuntime(power)


def test_the_reported_os_comes_from_the_guest_agent() -> None:
    assert runtime({"osName": "ubuntu", "osVersion": "24.04", "statuses": []}) == VmRuntime(
        PowerState.UNKNOWN, "ubuntu", "24.04"
    )
    assert severity("  MEDIUM ") is SecuritySeverity.MEDIUM
    assert PowerState.RUNNING.reachable
    assert not PowerState.DEALLOCATED.reachable
