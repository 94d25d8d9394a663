"""The ``request.extra`` keys the lifecycle uses, and typed reads of them.

Why a snapshot in the request: the rule in force when someone asked governs that request (who approves, the
quorum, reminders, escalation, review) even if the rules file changes or the VM's tags move before it is
decided, and the scheduler's follow-ups need no Azure call to find the rule again. The key names shared
with the Slack face match the constants in ``bot/blocks/common.py``.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum

from jit.model import AccessRequest
from jit.routing import ConflictChoice, Route

QUORUM = "quorum"
AUTO_APPROVED = "auto_approved"
BREAK_GLASS = "break_glass"
REVOKED_BY = "revoked_by"
EXTENSIONS = "extensions"
APPROVERS = "approvers"
REMINDERS = "approver_reminders"
NUDGES = "nudges"
ESCALATE_AFTER = "escalate_after"
ESCALATE_TO = "escalate_to"
ESCALATE_CHANNEL = "escalate_channel"
ESCALATED = "escalated"
ESCALATION_CARD = "escalation_card"
REVIEW_WITHIN = "review_within"
REVIEWED_BY = "reviewed_by"
REVIEWED_AT = "reviewed_at"
REVIEW_ROUNDS = "review_rounds"
GLASS_POSTS = "glass_posts"
EXT_SEQ = "ext_seq"
EXT_STATE = "ext_state"
EXT_DURATION = "ext_duration"
EXT_BY = "ext_by"
EXT_AT = "ext_at"
EXT_APPROVALS = "ext_approvals"
EXT_CARD = "ext_card"
EXT_DECIDED_BY = "ext_decided_by"
EXT_AUTO = "ext_auto"
EXT_FAILURE = "ext_failure"
EXT_UNTIL = "ext_until"
ON_CONFLICT = "on_conflict"
PORT_HOLDERS = "port_holders"
LOST_SEQ = "lost_seq"
SUPERSEDED_BY = "superseded_by"
SUPERSEDED_SOURCE = "superseded_source"
SUPERSEDED_REQUEST = "superseded_request"
SUPERSEDED_AT = "superseded_at"
DISPLACED_OUTSIDE = "displaced_outside"
QUEUED_UNTIL = "queued_until"
CLOSED_BY_AZURE = "closed_by_azure"
WIDE_SOURCE = "wide_source"
RBAC = "rbac"
RBAC_PRINCIPAL = "rbac_principal"
RBAC_MISSING = "rbac_missing"
RBAC_REASON = "rbac_reason"
TRUE = "true"


def key(name: str) -> str:
    """The field name ``RequestStore.update_fields`` takes for an extra entry."""
    return f"extra.{name}"


class ExtensionState(StrEnum):
    """Where the latest request to extend a grant stands; the grant itself stays ``active`` throughout."""

    PENDING = "pending"
    APPROVED = "approved"
    GRANTED = "granted"
    DENIED = "denied"
    TIMED_OUT = "timed_out"
    FAILED = "failed"


@dataclass(frozen=True)
class Extension:
    """The latest extension of a grant, read from its extras (``seq`` 0: never asked)."""

    seq: int
    state: ExtensionState | None
    duration: timedelta
    by: str
    at: datetime | None
    approvals: tuple[str, ...]
    card: str | None
    decided_by: str | None
    auto_rule: str | None
    failure: str | None
    until: datetime | None = None

    @property
    def open(self) -> bool:
        """Waiting for approvers, or approved and being applied in Azure."""
        return self.state in (ExtensionState.PENDING, ExtensionState.APPROVED)


def extension(request: AccessRequest) -> Extension:
    """Read the latest extension from ``request.extra``."""
    extra = request.extra
    state = extra.get(EXT_STATE, "")
    at = extra.get(EXT_AT)
    return Extension(
        seq=_int(extra, EXT_SEQ, 0),
        state=ExtensionState(state) if state in set(ExtensionState) else None,
        duration=timedelta(seconds=_int(extra, EXT_DURATION, 0)),
        by=extra.get(EXT_BY, ""),
        at=datetime.fromisoformat(at) if at else None,
        approvals=csv(extra.get(EXT_APPROVALS, "")),
        card=extra.get(EXT_CARD) or None,
        decided_by=extra.get(EXT_DECIDED_BY) or None,
        auto_rule=extra.get(EXT_AUTO) or None,
        failure=extra.get(EXT_FAILURE) or None,
        until=datetime.fromisoformat(extra[EXT_UNTIL]) if extra.get(EXT_UNTIL) else None,
    )


def route_snapshot(route: Route, *, automatic: bool) -> dict[str, str]:
    """The parts of ``route`` a pending request needs later: quorum, reminders, escalation, review time.

    ``automatic`` requests (auto-approved or break-glass) never wait, so they keep no reminder or escalation.
    """
    extra: dict[str, str] = {REVIEW_WITHIN: seconds(route.review_within)}
    if route.on_conflict is not ConflictChoice.SUPERSEDE:
        extra[ON_CONFLICT] = route.on_conflict.value
    if route.quorum > 1:
        extra[QUORUM] = str(route.quorum)
    if route.escalation is not None:
        extra[ESCALATE_TO] = ",".join(route.escalation.approvers)
        if route.escalation.channel:
            extra[ESCALATE_CHANNEL] = route.escalation.channel
        if not automatic:
            extra[ESCALATE_AFTER] = seconds(route.escalation.after)
    if route.approver_reminders and not automatic:
        extra[REMINDERS] = ",".join(seconds(wait) for wait in route.approver_reminders)
    return extra


def quorum(request: AccessRequest) -> int:
    """How many distinct approvals the request needs (at least one)."""
    return max(1, _int(request.extra, QUORUM, 1))


def reminders(request: AccessRequest) -> tuple[timedelta, ...]:
    """The waits between reminders to approvers, in order."""
    return tuple(timedelta(seconds=int(part)) for part in csv(request.extra.get(REMINDERS, "")) if part.isdigit())


def escalate_after(request: AccessRequest) -> timedelta | None:
    """How long the request waits before it escalates; None when its rule has no escalation."""
    value = _int(request.extra, ESCALATE_AFTER, 0)
    return timedelta(seconds=value) if value else None


def review_within(request: AccessRequest, default: timedelta) -> timedelta:
    """How long a break-glass grant may go unreviewed before it escalates (again)."""
    value = _int(request.extra, REVIEW_WITHIN, 0)
    return timedelta(seconds=value) if value else default


def approvers(request: AccessRequest) -> tuple[str, ...]:
    """Who may decide the request now (its rule's approvers, plus the escalation group once escalated)."""
    return csv(request.extra.get(APPROVERS, ""))


def is_break_glass(request: AccessRequest) -> bool:
    """Whether the request used ``--break-glass``."""
    return request.extra.get(BREAK_GLASS) == TRUE


def conflict_choice(request: AccessRequest) -> ConflictChoice:
    """What the request's rule does when approving would close another source's access to the same port."""
    try:
        return ConflictChoice(request.extra.get(ON_CONFLICT, ConflictChoice.SUPERSEDE.value))
    except ValueError:
        return ConflictChoice.SUPERSEDE


def granted_by(request: AccessRequest) -> str:
    """Who let the request in, as one token for Azure's justification: approvers, a rule, or break-glass."""
    rule = request.extra.get(AUTO_APPROVED)
    if rule:
        return f"rule:{rule}"
    approvals = list(dict.fromkeys(request.approvals))
    if len(approvals) > 1:
        return ",".join(approvals)
    if request.approver:
        return request.approver
    return "break-glass" if is_break_glass(request) else "unknown"


def csv(value: str) -> tuple[str, ...]:
    """A comma-separated extra as a tuple, blanks dropped."""
    return tuple(part.strip() for part in value.split(",") if part.strip())


def seconds(value: timedelta) -> str:
    """A duration as whole seconds, the way extras store it."""
    return str(int(value.total_seconds()))


def _int(extra: Mapping[str, str], name: str, default: int) -> int:
    raw = extra.get(name, "").strip()
    return int(raw) if raw.isdigit() else default
