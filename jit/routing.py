"""Who may request, who approves and where, per VM. Env-only configuration is the single default route."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from typing import Protocol

from jit.model import VirtualMachine


@dataclass(frozen=True)
class Route:
    """The access rule that applies to one VM."""

    name: str
    approvers: tuple[str, ...]
    approval_channel: str
    requesters: tuple[str, ...] = ()
    max_duration: timedelta | None = None
    reason_required: bool = False
    ticket_pattern: str | None = None
    quorum: int = 1

    @property
    def anyone_may_request(self) -> bool:
        """An empty requester list means every workspace member may ask."""
        return not self.requesters


class Router(Protocol):
    """Chooses the Route for a VM."""

    def route(self, vm: VirtualMachine) -> Route:
        """The first matching route for ``vm``."""
        ...


@dataclass(frozen=True)
class SingleRouteRouter:
    """Every VM gets the same route: the environment-only configuration."""

    default: Route

    def route(self, vm: VirtualMachine) -> Route:
        """Always the default route."""
        return self.default
