"""Who may request, who approves and where, per VM. Env-only configuration is the single default route.

Principals (``requesters``, ``approvers``, ``break_glass`` …) follow ``jit.principals``: a list means "any of
these", and a combined route may name conjunctions (``S0A&S0B``: a member of both).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, time, timedelta
from enum import StrEnum
from typing import Protocol
from zoneinfo import ZoneInfo

from jit.model import RbacMode, VirtualMachine

DEFAULT_APPROVER_REMINDERS: tuple[timedelta, ...] = (timedelta(minutes=5), timedelta(minutes=10), timedelta(minutes=20))
DEFAULT_REVIEW_WITHIN = timedelta(hours=1)
WEEKDAY_NAMES: tuple[str, ...] = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")


class ConflictChoice(StrEnum):
    """What a rule does when approving would close someone else's access to the same port from another source
    (Azure keeps one source per VM port): close it (the default), wait until it ends, or refuse."""

    SUPERSEDE = "supersede"
    QUEUE = "queue"
    REFUSE = "refuse"


@dataclass(frozen=True)
class BusinessHours:
    """A weekly window in one time zone; auto-approval can be limited to it."""

    timezone: str
    start: time
    end: time
    days: frozenset[int] = frozenset(range(5))

    def contains(self, moment: datetime) -> bool:
        """Whether ``moment`` (any time zone) falls on one of ``days`` between ``start`` and ``end`` locally."""
        local = moment.astimezone(ZoneInfo(self.timezone))
        return local.weekday() in self.days and self.start <= local.time().replace(tzinfo=None) < self.end

    def describe(self) -> str:
        """``mon-fri 09:00-18:00 Europe/Berlin``."""
        days = _day_ranges(self.days)
        return f"{days} {self.start:%H:%M}-{self.end:%H:%M} {self.timezone}"


@dataclass(frozen=True)
class AutoApproval:
    """When a request is granted without a person: every condition given must hold, and ``deny`` always wins.

    ``business_hours`` lists windows that must all hold (one per rule that set one, when rules combine).
    """

    requesters: tuple[str, ...] = ()
    deny: tuple[str, ...] = ()
    max_duration: timedelta | None = None
    ports: tuple[int, ...] = ()
    business_hours: tuple[BusinessHours, ...] = ()


@dataclass(frozen=True)
class Escalation:
    """Who else is asked, and where, when a request has waited ``after`` without a decision."""

    after: timedelta
    approvers: tuple[str, ...] = ()
    channel: str | None = None


@dataclass(frozen=True)
class Route:
    """The access rule that applies to one VM: one rule's, or several rules combined (``jit.strictest``).

    ``refuse_wide_sources`` refuses sources wider than ``JITBOT_WIDE_PREFIX_V4``/``_V6`` (``jit.sources``).
    ``requester_rbac`` is the requester Azure RBAC mode for the VM (``jit.requester_access``); None leaves it to
    ``JITBOT_REQUESTER_RBAC`` (a rule matched by tags that does not name it).
    """

    name: str
    approvers: tuple[str, ...]
    approval_channel: str
    requesters: tuple[str, ...] = ()
    max_duration: timedelta | None = None
    reason_required: bool = False
    ticket_pattern: str | None = None
    quorum: int = 1
    auto_approve: AutoApproval | None = None
    approver_reminders: tuple[timedelta, ...] = DEFAULT_APPROVER_REMINDERS
    escalation: Escalation | None = None
    break_glass: tuple[str, ...] = ()
    review_within: timedelta = DEFAULT_REVIEW_WITHIN
    on_conflict: ConflictChoice = ConflictChoice.SUPERSEDE
    refuse_wide_sources: bool = False
    requester_rbac: RbacMode | None = None

    @property
    def anyone_may_request(self) -> bool:
        """An empty requester list means every workspace member may ask."""
        return not self.requesters


class Router(Protocol):
    """Chooses the Route for a VM."""

    def route(self, vm: VirtualMachine) -> Route:
        """The route that applies to ``vm`` (see ``jit.rules`` for how rules combine)."""
        ...


@dataclass(frozen=True)
class SingleRouteRouter:
    """Every VM gets the same route: the environment-only configuration."""

    default: Route

    def route(self, vm: VirtualMachine) -> Route:
        """Always the default route."""
        return self.default


def _day_ranges(days: frozenset[int]) -> str:
    runs: list[list[int]] = []
    for day in sorted(days):
        if runs and runs[-1][-1] == day - 1:
            runs[-1].append(day)
        else:
            runs.append([day])
    return ",".join(
        WEEKDAY_NAMES[run[0]] if len(run) == 1 else f"{WEEKDAY_NAMES[run[0]]}-{WEEKDAY_NAMES[run[-1]]}" for run in runs
    )
