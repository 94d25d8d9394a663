"""Whether a rule grants a request without a person: every condition it names must hold, and deny beats allow.

Kept apart from the use cases so the decision is one small, fully testable function of the rule, the request
and the time; membership in user groups is the only thing it has to look up. It fails towards a person: a
deny list naming a group that cannot be read (deleted, mistyped, disabled, or Slack not answering) means no
automatic approval — the request goes to the approvers, and the audit trail says why. An allow list may read
an unknown group as empty, since that only means nobody is approved automatically through it.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from jit.errors import GroupUnreadable
from jit.ports import AuditRecorder, Directory
from jit.principals import deny_listed
from jit.principals import member_of as member_of
from jit.routing import Route

WITHHELD_EVENT = "auto_approval_withheld"


@dataclass(frozen=True)
class AutoDecision:
    """``allowed`` with the rule's name, or not allowed with the first reason (for the audit trail)."""

    allowed: bool
    rule: str
    why: str


async def auto_approval(
    route: Route,
    *,
    requester: str,
    ports: Sequence[int],
    duration: timedelta,
    now: datetime,
    directory: Directory,
    audit: AuditRecorder,
    request_id: str | None = None,
) -> AutoDecision:
    """Decide whether ``route`` approves this request by itself.

    No ``auto_approve`` section, a requester on the ``deny`` list, or any unmet condition means a person decides.
    When a deny group cannot be read, a person decides too, and ``auto_approval_withheld`` is audited with the
    groups and Slack's reason (``request_id`` names the grant when deciding an extension).
    """
    auto = route.auto_approve
    if auto is None:
        return AutoDecision(False, route.name, "the rule has no auto-approval")
    if auto.deny:
        denied = await deny_listed(directory, requester, auto.deny)
        if denied.listed:
            return AutoDecision(False, route.name, "the requester is on the rule's deny list")
        if denied.unreadable:
            why = "the rule's deny list names a user group that cannot be read"
            await audit(
                WITHHELD_EVENT,
                actor=requester,
                request_id=request_id,
                detail={"rule": route.name, "why": why, "groups": _groups(denied.unreadable)},
            )
            return AutoDecision(False, route.name, why)
    if auto.requesters and not await _allowed(directory, requester, auto.requesters):
        return AutoDecision(False, route.name, "the requester is not in the rule's auto-approve groups")
    if auto.max_duration is not None and duration > auto.max_duration:
        return AutoDecision(False, route.name, "the window is longer than the rule approves by itself")
    if auto.ports and not set(ports) <= set(auto.ports):
        return AutoDecision(False, route.name, "a port is not in the rule's auto-approve list")
    if not all(hours.contains(now) for hours in auto.business_hours):
        return AutoDecision(False, route.name, "outside the rule's business hours")
    return AutoDecision(True, route.name, "every condition of the rule holds")


async def _allowed(directory: Directory, user: str, principals: Sequence[str]) -> bool:
    """Allow-list membership; when Slack cannot answer, the requester simply is not approved automatically."""
    try:
        return await member_of(directory, user, principals)
    except Exception:  # Slack unreachable: fall back to a person, as for an unknown group
        return False


def _groups(unreadable: Sequence[GroupUnreadable]) -> str:
    return ",".join(dict.fromkeys(f"{exc.group_id}:{exc.why}" for exc in unreadable))
