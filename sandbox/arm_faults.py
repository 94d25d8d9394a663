"""What the emulator records about each call, and the faults tests can make it inject per operation.

Faults exist so the gateway's handling of throttling (429 + Retry-After), server errors, slowness and the
"timed out on our side but Azure did it" case can be tested against real SDK clients.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any


@dataclass(frozen=True)
class ArmCall:
    """One HTTP call the emulator answered, as the tests see it."""

    method: str
    path: str
    query: dict[str, str]
    operation: str
    status: int
    is_write: bool
    body: Any
    at: datetime


@dataclass
class Fault:
    """An injected misbehaviour for one operation; ``times`` counts down as calls consume it."""

    operation: str
    status: int | None = None
    retry_after: float | None = None
    delay: float = 0.0
    after_commit: bool = False
    times: int = 1


@dataclass
class FaultPlan:
    """The faults still to inject, consumed in the order they were added."""

    pending: list[Fault] = field(default_factory=list)

    def add(
        self,
        operation: str,
        *,
        status: int | None = None,
        retry_after: float | None = None,
        delay: float = 0.0,
        after_commit: bool = False,
        times: int = 1,
    ) -> Fault:
        """Make the next ``times`` calls of ``operation`` answer ``status`` and/or wait ``delay`` seconds.

        With ``after_commit`` the operation is carried out first (state changes) and only then delayed or
        answered with the fault, modelling a call that failed for the client but succeeded in Azure.
        """
        if times < 1:
            raise ValueError("times must be at least 1")
        if status is not None and not 400 <= status <= 599:
            raise ValueError("a fault status must be an HTTP error (4xx or 5xx)")
        fault = Fault(operation, status, retry_after, delay, after_commit, times)
        self.pending.append(fault)
        return fault

    def take(self, operation: str) -> Fault | None:
        """The fault the next call of ``operation`` gets, if any; uses up one of its ``times``."""
        for fault in self.pending:
            if fault.operation == operation:
                fault.times -= 1
                if fault.times == 0:
                    self.pending.remove(fault)
                return fault
        return None

    def clear(self) -> None:
        """Forget every pending fault."""
        self.pending.clear()
