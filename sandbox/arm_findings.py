"""What Microsoft Defender for Cloud has found about the emulator's resources: assessments and security alerts.

Plain mutable dataclasses, like the rest of the inventory, so tests and the sandbox can add or change findings
and the emulator serves them on the next read. ``sandbox.arm_context`` turns them into Azure's JSON.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime


@dataclass
class Assessment:
    """One Defender for Cloud assessment (a recommendation's result) on one resource.

    ``key`` is the assessment name, the key of its assessment type (the same on every resource it applies to);
    ``status`` is ``Healthy``, ``Unhealthy`` or ``NotApplicable``; ``severity`` and the texts belong to the
    assessment type's metadata (``Low``, ``Medium`` or ``High``).
    """

    resource_id: str
    key: str
    display_name: str
    status: str = "Unhealthy"
    severity: str = "Medium"
    description: str = ""
    remediation: str = ""
    categories: list[str] = field(default_factory=lambda: ["Compute"])
    threats: list[str] = field(default_factory=list)
    user_impact: str = "Moderate"
    implementation_effort: str = "Low"
    cause: str = ""
    since: datetime | None = None


@dataclass
class SecurityAlert:
    """One Defender for Cloud security alert about one resource, stored in that resource's resource group.

    ``severity`` is ``Informational``, ``Low``, ``Medium`` or ``High``; ``status`` is ``Active``,
    ``InProgress``, ``Resolved`` or ``Dismissed``; ``location`` is where Defender stores it (the VM's region).
    """

    resource_id: str
    name: str
    display_name: str
    severity: str
    start: datetime
    location: str
    status: str = "Active"
    alert_type: str = "VM_SuspiciousActivity"
    description: str = ""
    intent: str = "Unknown"
    remediation_steps: list[str] = field(default_factory=list)
