"""What an approver should know about a VM before opening it, read from Defender for Cloud and Azure: its
unhealthy recommendations, open security alerts, power state and exposure, each part marked read or not."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Generic, TypeVar

from jit.model import VmRef


class SecuritySeverity(StrEnum):
    """How severe Defender for Cloud rates a recommendation or an alert; ``UNKNOWN`` when it could not be read."""

    HIGH = "high"
    MEDIUM = "medium"
    LOW = "low"
    INFORMATIONAL = "informational"
    UNKNOWN = "unknown"

    @property
    def rank(self) -> int:
        """0 for the most severe; sorting by it puts what matters most first (unknown last)."""
        return list(SecuritySeverity).index(self)


class PowerState(StrEnum):
    """A VM's power state as its instance view reports it (``PowerState/<value>``)."""

    RUNNING = "running"
    STARTING = "starting"
    STOPPING = "stopping"
    STOPPED = "stopped"
    DEALLOCATING = "deallocating"
    DEALLOCATED = "deallocated"
    UNKNOWN = "unknown"

    @property
    def reachable(self) -> bool:
        """Only a running VM answers on the ports JIT opens."""
        return self is PowerState.RUNNING


class ReadOutcome(StrEnum):
    """Whether one part of a security context could be read from Azure, and if not, why."""

    READ = "read"
    REFUSED = "refused"
    """Azure answered 403: jitbot's identity lacks the read permission (see the role files)."""
    SLOW = "slow"
    """No answer within the time the approval card may wait."""
    FAILED = "failed"
    """Any other failure: throttled, Azure errors, the VM gone, an answer jitbot could not understand."""


PartValue = TypeVar("PartValue")


@dataclass(frozen=True)
class ContextPart(Generic[PartValue]):
    """One part of a security context: its value when it was read, else why it could not be (``detail`` is for
    logs, not for people)."""

    value: PartValue | None
    outcome: ReadOutcome = ReadOutcome.READ
    detail: str = ""

    def __post_init__(self) -> None:
        if (self.outcome is ReadOutcome.READ) != (self.value is not None):
            raise ValueError("a part that was read has a value, and only such a part has one")

    @classmethod
    def read(cls, value: PartValue) -> ContextPart[PartValue]:
        """A part Azure answered."""
        return cls(value)

    @classmethod
    def unread(cls, outcome: ReadOutcome, detail: str = "") -> ContextPart[PartValue]:
        """A part that could not be read (refused, slow or failed)."""
        return cls(None, outcome, detail)


@dataclass(frozen=True)
class DefenderRecommendation:
    """An unhealthy Defender for Cloud recommendation (assessment) on a VM: its title and severity."""

    title: str
    severity: SecuritySeverity


@dataclass(frozen=True)
class DefenderAlert:
    """An open Defender for Cloud security alert about a VM: ``Active``, or ``in_progress`` when someone handles it."""

    title: str
    severity: SecuritySeverity
    in_progress: bool = False
    since: datetime | None = None


@dataclass(frozen=True)
class VmRuntime:
    """What the VM's instance view says: its power state, and the OS its guest agent reports while it runs
    (``os_name`` ``ubuntu`` with ``os_version`` ``24.04``; ``Windows Server 2022 Datacenter`` with
    ``Microsoft Windows NT 10.0.20348.0``)."""

    power: PowerState
    os_name: str | None = None
    os_version: str | None = None


@dataclass(frozen=True)
class VmProfile:
    """How the VM is reached and what it runs, from jitbot's VM index: its public IPs and OS type."""

    public_ips: tuple[str, ...]
    os_type: str | None = None


@dataclass(frozen=True)
class SecurityContext:
    """What an approver should know about a VM before opening it: Defender's unhealthy recommendations (most severe
    first), its open security alerts (most severe, then newest, first), whether it runs, and how exposed it is.
    Each part says whether it could be read; ``read_at`` is when the context was put together."""

    vm: VmRef
    read_at: datetime
    recommendations: ContextPart[tuple[DefenderRecommendation, ...]]
    alerts: ContextPart[tuple[DefenderAlert, ...]]
    runtime: ContextPart[VmRuntime]
    profile: ContextPart[VmProfile]

    def recommendation_count(self, severity: SecuritySeverity) -> int:
        """How many unhealthy recommendations of that severity (0 when they could not be read)."""
        return sum(1 for r in self.recommendations.value or () if r.severity is severity)
