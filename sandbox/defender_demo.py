"""What Defender for Cloud has to say about the demo VMs, so the approval card's security context has something to
show in ``jitbot sandbox``.

- ``web-01``: two unhealthy recommendations (one high, one medium), one healthy and one not applicable;
- ``bastion-win``: one low recommendation, an active security alert and an older, resolved one;
- ``db-01``: everything healthy;
- ``web-02``: deallocated (stopped), so nobody can connect until someone starts it.

The recommendation titles and severities are Defender's own; the assessment keys are made up for the demo
(stable UUIDs derived from the titles), as are the alert names.
"""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta

from sandbox.arm_findings import Assessment, SecurityAlert
from sandbox.arm_inventory import Inventory, VirtualMachine

_NAMESPACE = uuid.UUID("2f7c9d1e-6b3a-4e8f-a0c5-7d9e1b2c3f40")

VULNERABILITIES = "Machines should have vulnerability findings resolved"
MANAGEMENT_PORTS = "Management ports should be closed on your virtual machines"
ENDPOINT_PROTECTION = "Endpoint protection should be installed on machines"
GUEST_CONFIGURATION = "Guest Configuration extension should be installed on machines"
EXPLOIT_GUARD = "Windows Defender Exploit Guard should be enabled on machines"
SUSPICIOUS_LOGON = "Suspicious authentication activity"
SUSPICIOUS_PROCESS = "Suspicious process executed"

_TYPES: dict[str, tuple[str, str, str]] = {
    VULNERABILITIES: (
        "High",
        "Resolve the vulnerability findings on your machines to protect them from attacks.",
        "Review the findings and apply the fixes or updates they name.",
    ),
    MANAGEMENT_PORTS: (
        "Medium",
        "Open remote management ports expose your VM to a high level of risk from Internet-based attacks.",
        "Close the management ports in the VM's network security group, or open them just in time.",
    ),
    ENDPOINT_PROTECTION: (
        "High",
        "Protect your machines from threats and vulnerabilities with an endpoint protection solution.",
        "Install an endpoint protection solution.",
    ),
    GUEST_CONFIGURATION: (
        "Medium",
        "Guest Configuration audits settings inside the machine.",
        "Install the Guest Configuration extension.",
    ),
    EXPLOIT_GUARD: (
        "Low",
        "Windows Defender Exploit Guard protects against malware that uses exploits to infect machines.",
        "Enable Exploit Guard on the machine.",
    ),
}


def assessment_key(display_name: str) -> str:
    """The demo's stable key for a recommendation type."""
    return str(uuid.uuid5(_NAMESPACE, display_name))


def _assessment(vm: VirtualMachine, title: str, status: str, since: datetime, cause: str = "") -> Assessment:
    severity, description, remediation = _TYPES[title]
    return Assessment(
        resource_id=vm.id,
        key=assessment_key(title),
        display_name=title,
        status=status,
        severity=severity,
        description=description,
        remediation=remediation,
        cause=cause,
        since=since,
    )


def _alert(
    vm: VirtualMachine, title: str, severity: str, start: datetime, status: str, alert_type: str
) -> SecurityAlert:
    return SecurityAlert(
        resource_id=vm.id,
        name=f"{int(start.timestamp())}_{uuid.uuid5(_NAMESPACE, vm.id + title)}",
        display_name=title,
        severity=severity,
        start=start,
        location=vm.location,
        status=status,
        alert_type=alert_type,
        description=f"{title} was detected on {vm.name}.",
        intent="PreAttack" if "authentication" in title else "Execution",
        remediation_steps=["Review the activity and, if it was not expected, isolate the machine."],
    )


def add_demo_findings(inventory: Inventory, now: datetime) -> None:
    """Put the findings described in the module docstring into the demo inventory."""
    web, bastion, db = inventory.vm("web-01"), inventory.vm("bastion-win"), inventory.vm("db-01")
    day = timedelta(days=1)
    inventory.assessments += [
        _assessment(web, VULNERABILITIES, "Unhealthy", now - 6 * day),
        _assessment(web, MANAGEMENT_PORTS, "Unhealthy", now - 20 * day),
        _assessment(web, ENDPOINT_PROTECTION, "Healthy", now - 30 * day),
        _assessment(web, GUEST_CONFIGURATION, "NotApplicable", now - 30 * day, cause="OffByPolicy"),
        _assessment(bastion, EXPLOIT_GUARD, "Unhealthy", now - 12 * day),
        _assessment(bastion, ENDPOINT_PROTECTION, "Healthy", now - 30 * day),
        _assessment(db, VULNERABILITIES, "Healthy", now - 3 * day),
        _assessment(db, MANAGEMENT_PORTS, "Healthy", now - 3 * day),
    ]
    inventory.alerts += [
        _alert(bastion, SUSPICIOUS_LOGON, "Medium", now - timedelta(hours=2), "Active", "VM_SuspiciousLogon"),
        _alert(bastion, SUSPICIOUS_PROCESS, "High", now - 9 * day, "Resolved", "VM_SuspiciousProcess"),
    ]
    inventory.vm("web-02").power_state = "deallocated"
