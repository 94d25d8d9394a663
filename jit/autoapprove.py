"""Whether a rule grants a request without a person: every condition it names must hold, and deny beats allow.

Kept apart from the use cases so the decision is one small, fully testable function of the rule, the request
and the time; membership in user groups is the only thing it has to look up.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from jit.ports import Directory
from jit.routing import Route


@dataclass(frozen=True)
class AutoDecision:
    """``allowed`` with the rule's name, or not allowed with the first reason (for the audit trail)."""

    allowed: bool
    rule: str
    why: str


async def member_of(directory: Directory, user: str, principals: Sequence[str]) -> bool:
    """Whether ``user`` is one of ``principals`` directly or through a user group (``S…``)."""
    if user in principals:
        return True
    for principal in principals:
        if principal.startswith("S") and user in await directory.group_members(principal):
            return True
    return False


async def auto_approval(
    route: Route,
    *,
    requester: str,
    ports: Sequence[int],
    duration: timedelta,
    now: datetime,
    directory: Directory,
) -> AutoDecision:
    """Decide whether ``route`` approves this request by itself.

    No ``auto_approve`` section, a requester on the ``deny`` list, or any unmet condition means a person decides.
    """
    auto = route.auto_approve
    if auto is None:
        return AutoDecision(False, route.name, "the rule has no auto-approval")
    if auto.deny and await member_of(directory, requester, auto.deny):
        return AutoDecision(False, route.name, "the requester is on the rule's deny list")
    if auto.requesters and not await member_of(directory, requester, auto.requesters):
        return AutoDecision(False, route.name, "the requester is not in the rule's auto-approve groups")
    if auto.max_duration is not None and duration > auto.max_duration:
        return AutoDecision(False, route.name, "the window is longer than the rule approves by itself")
    if auto.ports and not set(ports) <= set(auto.ports):
        return AutoDecision(False, route.name, "a port is not in the rule's auto-approve list")
    if auto.business_hours is not None and not auto.business_hours.contains(now):
        return AutoDecision(False, route.name, "outside the rule's business hours")
    return AutoDecision(True, route.name, "every condition of the rule holds")
