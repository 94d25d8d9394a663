"""What a request carries besides its core fields, by name and by type.

``AccessRequest.extra`` is a flat string map stored with the request (see ``jit.store.requests``). Every key
jitbot writes is an ``Extra``; every read goes through ``extras_of(request)``, one typed view with one parsing
rule per key, so the Slack face and the use cases can never read the same key two ways. Writes name their field
with ``extra_field(Extra.X)`` (the name ``RequestStore.update_fields`` takes).

Why it is a little over ~400 lines: the key list and the typed view must stay side by side to keep one parsing
rule per key; values with structure of their own live in their own modules (``jit.card_context``,
``jit.button_posts``, ``jit.security_snapshot``).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum
from functools import cached_property

from jit.model import AccessRequest, RbacOutcome, RbacVerdict
from jit.routing import ConflictChoice

TRUE = "true"
"""How a flag is stored."""
MAX_QUORUM = 99
"""A stored quorum above this is malformed and read as 1, like any other malformed number."""


class Extra(StrEnum):
    """Every key of ``AccessRequest.extra``."""

    ROUTE = "route"
    APPROVERS = "approvers"
    PRIVATE_IPS = "private_ips"
    PUBLIC_IPS = "public_ips"
    OS_TYPE = "os_type"
    QUORUM = "quorum"
    AUTO_APPROVED = "auto_approved"
    BREAK_GLASS = "break_glass"
    ON_CONFLICT = "on_conflict"
    REVIEW_WITHIN = "review_within"
    REMINDERS = "approver_reminders"
    NUDGES = "nudges"
    ESCALATE_AFTER = "escalate_after"
    ESCALATE_TO = "escalate_to"
    ESCALATE_CHANNEL = "escalate_channel"
    ESCALATED = "escalated"
    ESCALATION_CARD = "escalation_card"
    REVIEWED_BY = "reviewed_by"
    REVIEWED_AT = "reviewed_at"
    REVIEW_ROUNDS = "review_rounds"
    GLASS_POSTS = "glass_posts"
    BUTTON_POSTS = "button_posts"
    REVOKED_BY = "revoked_by"
    DENY_REASON = "deny_reason"
    EXTENSIONS = "extensions"
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
    PORT_HOLDERS = "port_holders"
    QUEUED_UNTIL = "queued_until"
    LOST_SEQ = "lost_seq"
    SUPERSEDED_BY = "superseded_by"
    SUPERSEDED_SOURCE = "superseded_source"
    SUPERSEDED_REQUEST = "superseded_request"
    SUPERSEDED_AT = "superseded_at"
    DISPLACED_OUTSIDE = "displaced_outside"
    CLOSED_BY_AZURE = "closed_by_azure"
    WIDE_SOURCE = "wide_source"
    RBAC = "rbac"
    RBAC_PRINCIPAL = "rbac_principal"
    RBAC_MISSING = "rbac_missing"
    RBAC_REASON = "rbac_reason"
    RBAC_DENIED_BY = "rbac_denied_by"
    SECURITY_CONTEXT = "security_context"
    HISTORY_GRANTS = "history_grants_30d"
    HISTORY_LAST_GRANT = "history_last_grant"


def extra_field(name: Extra) -> str:
    """The field name ``RequestStore.update_fields`` takes for an extra entry."""
    return f"extra.{name.value}"


class ExtensionState(StrEnum):
    """Where the latest request to extend a grant stands; the grant itself stays ``active`` throughout.

    Its moves are the table ``jit.flows.EXTENSION``."""

    PENDING = "pending"
    APPROVED = "approved"
    GRANTED = "granted"
    DENIED = "denied"
    TIMED_OUT = "timed_out"
    FAILED = "failed"


@dataclass(frozen=True)
class Extension:
    """The latest extension of a grant (``seq`` 0: never asked)."""

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


@dataclass(frozen=True)
class Supersession:
    """Who took this grant's ports with a newer initiate from another source."""

    by: str
    source: str
    request_id: str | None
    at: str


class Extras:
    """The typed view of one request's extras. Malformed values read as their default (never raise)."""

    def __init__(self, raw: Mapping[str, str]):
        self.raw = raw

    def _text(self, name: Extra) -> str:
        return self.raw.get(name.value, "")

    def _count(self, name: Extra) -> int:
        value = self._text(name).strip()
        return int(value) if value.isascii() and value.isdigit() else 0

    def _seconds(self, name: Extra) -> timedelta | None:
        value = self._count(name)
        return timedelta(seconds=value) if value else None

    def _time(self, name: Extra) -> datetime | None:
        value = self._text(name)
        try:
            return datetime.fromisoformat(value) if value else None
        except ValueError:
            return None

    def _list(self, name: Extra) -> tuple[str, ...]:
        return csv(self._text(name))

    # -- the rule in force when it was asked (see jit.rule_snapshot) ------------------------------------------

    @property
    def route(self) -> str:
        """The name of the rule that governed the request."""
        return self._text(Extra.ROUTE)

    @property
    def approvers(self) -> tuple[str, ...]:
        """Who may decide it now (the rule's approvers, plus the escalation group once escalated)."""
        return self._list(Extra.APPROVERS)

    @property
    def quorum(self) -> int:
        """How many distinct approvals it needs (at least one)."""
        value = self._count(Extra.QUORUM)
        return value if 0 < value <= MAX_QUORUM else 1

    @property
    def auto_approved_by(self) -> str | None:
        """The rule that approved it without a person, if one did."""
        return self._text(Extra.AUTO_APPROVED) or None

    @property
    def break_glass(self) -> bool:
        """Whether it used ``--break-glass``."""
        return self._text(Extra.BREAK_GLASS).strip().lower() == TRUE

    @property
    def on_conflict(self) -> ConflictChoice:
        """What its rule does when approving would close another source's access to the same port."""
        try:
            return ConflictChoice(self._text(Extra.ON_CONFLICT) or ConflictChoice.SUPERSEDE.value)
        except ValueError:
            return ConflictChoice.SUPERSEDE

    def review_within(self, default: timedelta) -> timedelta:
        """How long a break-glass grant may go unreviewed before it escalates (again)."""
        return self._seconds(Extra.REVIEW_WITHIN) or default

    @property
    def reminders(self) -> tuple[timedelta, ...]:
        """The waits between reminders to approvers, in order."""
        return tuple(timedelta(seconds=int(part)) for part in self._list(Extra.REMINDERS) if part.isdigit())

    @property
    def escalate_after(self) -> timedelta | None:
        """How long it waits before it escalates; None when its rule has no escalation."""
        return self._seconds(Extra.ESCALATE_AFTER)

    @property
    def escalate_to(self) -> tuple[str, ...]:
        """Who is added to the approvers when it escalates."""
        return self._list(Extra.ESCALATE_TO)

    @property
    def escalate_channel(self) -> str:
        """Where the escalated copy of the card goes ("" for none)."""
        return self._text(Extra.ESCALATE_CHANNEL)

    # -- the VM as it was when asked -------------------------------------------------------------------------

    @property
    def private_ips(self) -> tuple[str, ...]:
        """The VM's private addresses."""
        return self._list(Extra.PRIVATE_IPS)

    @property
    def public_ips(self) -> tuple[str, ...]:
        """The VM's public addresses."""
        return self._list(Extra.PUBLIC_IPS)

    @property
    def os_type(self) -> str:
        """``Linux``/``Windows`` or ""."""
        return self._text(Extra.OS_TYPE)

    @property
    def wide_source_prefix(self) -> int | None:
        """The prefix length the source was wider than when it was asked for, if it was wide."""
        return self._count(Extra.WIDE_SOURCE) or None

    # -- what happened since (the flows in jit.flows) --------------------------------------------------------

    @property
    def nudges(self) -> int:
        """How many reminders the approvers have had."""
        return self._count(Extra.NUDGES)

    @property
    def escalated(self) -> bool:
        """Whether the request has escalated."""
        return self._text(Extra.ESCALATED) == TRUE

    @property
    def escalation_card(self) -> str | None:
        """The ``"<channel> <ts>"`` of the escalated copy of the card."""
        return self._text(Extra.ESCALATION_CARD) or None

    @property
    def reviewed_by(self) -> str | None:
        """Who reviewed the break-glass grant."""
        return self._text(Extra.REVIEWED_BY) or None

    @property
    def reviewed_at(self) -> datetime | None:
        """When the break-glass grant was reviewed."""
        return self._time(Extra.REVIEWED_AT)

    @property
    def review_rounds(self) -> int:
        """How many times the overdue review has been escalated."""
        return self._count(Extra.REVIEW_ROUNDS)

    @property
    def glass_posts(self) -> tuple[str, ...]:
        """The references of the break-glass announcements."""
        return self._list(Extra.GLASS_POSTS)

    @property
    def deny_reason(self) -> str | None:
        """Why the approver said no, in their words (optional)."""
        return self._text(Extra.DENY_REASON) or None

    @property
    def button_posts(self) -> tuple[str, ...]:
        """The references of the DMs and on-call posts that carry this grant's Extend / Close buttons."""
        return self._list(Extra.BUTTON_POSTS)

    @property
    def revoked_by(self) -> str | None:
        """Who closed the access early."""
        return self._text(Extra.REVOKED_BY) or None

    @property
    def extensions(self) -> int:
        """How many times the access was extended."""
        return self._count(Extra.EXTENSIONS)

    @cached_property
    def extension(self) -> Extension:
        """The latest extension."""
        state = self._text(Extra.EXT_STATE)
        return Extension(
            seq=self._count(Extra.EXT_SEQ),
            state=ExtensionState(state) if state in set(ExtensionState) else None,
            duration=self._seconds(Extra.EXT_DURATION) or timedelta(),
            by=self._text(Extra.EXT_BY),
            at=self._time(Extra.EXT_AT),
            approvals=self._list(Extra.EXT_APPROVALS),
            card=self._text(Extra.EXT_CARD) or None,
            decided_by=self._text(Extra.EXT_DECIDED_BY) or None,
            auto_rule=self._text(Extra.EXT_AUTO) or None,
            failure=self._text(Extra.EXT_FAILURE) or None,
            until=self._time(Extra.EXT_UNTIL),
        )

    @property
    def port_holders(self) -> str:
        """The JSON list of who else held its ports when it was asked or queued ("" for nobody)."""
        return self._text(Extra.PORT_HOLDERS)

    @property
    def queued_until(self) -> datetime | None:
        """When a queued request's port frees up; None when it is not queued."""
        return self._time(Extra.QUEUED_UNTIL)

    @property
    def queued_until_raw(self) -> str | None:
        """``queued_until`` as stored (what a compare-and-set on it expects)."""
        return self._text(Extra.QUEUED_UNTIL) or None

    @property
    def losses(self) -> int:
        """How many times a newer grant took some of its ports."""
        return self._count(Extra.LOST_SEQ)

    @property
    def superseded(self) -> Supersession | None:
        """Who superseded it, if anyone did."""
        by = self._text(Extra.SUPERSEDED_BY)
        if not by:
            return None
        return Supersession(
            by=by,
            source=self._text(Extra.SUPERSEDED_SOURCE),
            request_id=self._text(Extra.SUPERSEDED_REQUEST) or None,
            at=self._text(Extra.SUPERSEDED_AT),
        )

    @property
    def displaced_outside(self) -> list[dict[str, str]]:
        """The access opened outside jitbot that this grant closed."""
        raw = self._text(Extra.DISPLACED_OUTSIDE)
        try:
            parsed = json.loads(raw) if raw else []
        except ValueError:
            return []
        if not isinstance(parsed, list):
            return []
        return [{k: str(v) for k, v in entry.items()} for entry in parsed if isinstance(entry, dict)]

    @property
    def rbac(self) -> RbacVerdict | None:
        """Whether Azure RBAC would let the requester initiate themselves, as checked when they asked; None when
        no check was made."""
        raw = self._text(Extra.RBAC)
        if raw not in {outcome.value for outcome in RbacOutcome}:
            return None
        return RbacVerdict(
            outcome=RbacOutcome(raw),
            principal=self._text(Extra.RBAC_PRINCIPAL),
            missing=self._list(Extra.RBAC_MISSING),
            reason=self._text(Extra.RBAC_REASON),
            denied_by=self._json_strings(Extra.RBAC_DENIED_BY),
        )

    def _json_strings(self, name: Extra) -> tuple[str, ...]:
        raw = self._text(name)
        try:
            parsed = json.loads(raw) if raw else []
        except ValueError:
            return ()
        return tuple(str(item) for item in parsed) if isinstance(parsed, list) else ()

    @property
    def closed_by_azure(self) -> str | None:
        """Why Azure closed the access before its end ("" reads as None)."""
        return self._text(Extra.CLOSED_BY_AZURE) or None


def extras_of(request: AccessRequest) -> Extras:
    """The typed view of ``request``'s extras."""
    return Extras(request.extra)


def granted_by(request: AccessRequest) -> str:
    """Who let the request in, as one token for Azure's justification: approvers, a rule, or break-glass."""
    extras = extras_of(request)
    if extras.auto_approved_by:
        return f"rule:{extras.auto_approved_by}"
    approvals = list(dict.fromkeys(request.approvals))
    if len(approvals) > 1:
        return ",".join(approvals)
    if request.approver:
        return request.approver
    return "break-glass" if extras.break_glass else "unknown"


def csv(value: str) -> tuple[str, ...]:
    """A comma-separated value as a tuple, blanks dropped."""
    return tuple(part.strip() for part in value.split(",") if part.strip())


def seconds(value: timedelta) -> str:
    """A duration as whole seconds, the way extras store it."""
    return str(int(value.total_seconds()))
